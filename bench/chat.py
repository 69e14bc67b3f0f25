"""What the OpenAI-compatible layer adds over the plain API: one chat completion vs POST + poll.

    .venv/bin/python bench/chat.py [--runs 5] [--poll 0.25]

Each round makes three real runs of the same one-step task (bubblewrap sandbox, Chromium, the
scripted model answering at once), in turn:
  plain   POST /v1/runs, then GET /v1/runs/{id} every --poll seconds until it ends, then on until
          its evidence is stored (the chat answer carries screenshot URLs, so that is its match);
  chat    the official openai client, chat.completions.create (non-streaming);
  stream  the same with stream=True: time to the first chunk, to the content, to [DONE].
Prints the medians and what the layer adds (chat minus plain). Whole-run times vary by seconds on a
loaded machine, so it also prints the lag from the run's own `finished_at` to the moment the client
holds the result, which is what a layer on top can add. The layer polls the run record every 0.25 s
(shared.chat.watch.POLL_S) and waits for the evidence up to 5 s.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime

import openai
import requests
from common import line, local_stack, median
from observation import serve_site

from devstack.testing.fake_openai import FakeOpenAI, ToolCall

DONE = ToolCall("done", {"result": {"title": "Harbor"}, "confidence": 0.9, "summary": "read the title"})
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
TERMINAL = ("succeeded", "failed", "cancelled")


LAGS: dict[str, list[float]] = {"plain": [], "chat": [], "stream": []}


def lag(session: requests.Session, url: str, run_id: str, seen_at: float) -> float:
    """Seconds from the run's finished_at (the server's clock, this machine's) to ``seen_at``."""
    run = session.get(f"{url}/v1/runs/{run_id}", timeout=30).json()
    return seen_at - datetime.fromisoformat(run["finished_at"]).timestamp()


def plain(session: requests.Session, url: str, site: str, poll_s: float) -> tuple[float, float]:
    started = time.monotonic()
    body = {"prompt": f"Read the title of {site}/", "output_schema": SCHEMA}
    run_id = session.post(f"{url}/v1/runs", json=body, timeout=30).json()["task_id"]
    ended = None
    while True:
        run = session.get(f"{url}/v1/runs/{run_id}", timeout=30).json()
        if ended is None and run["status"] in TERMINAL:
            ended = time.monotonic() - started
            LAGS["plain"].append(lag(session, url, run_id, time.time()))
        if ended is not None and (run.get("evidence_status") or time.monotonic() - started > ended + 5):
            return ended, time.monotonic() - started
        time.sleep(poll_s)


def chat(client: openai.OpenAI, site: str, session: requests.Session, url: str) -> float:
    started = time.monotonic()
    reply = client.chat.completions.create(
        model="openhelm-browser",
        messages=[{"role": "user", "content": f"Read the title of {site}/"}],
        response_format={"type": "json_schema", "json_schema": {"name": "t", "schema": SCHEMA}},
    )
    assert reply.choices[0].finish_reason == "stop", reply
    took = time.monotonic() - started
    LAGS["chat"].append(lag(session, url, reply.model_extra["openhelm"]["run_id"], time.time()))
    return took


def stream(client: openai.OpenAI, site: str, session: requests.Session, url: str) -> tuple[float, float, float]:
    started = time.monotonic()
    first = content = None
    run_id, content_at = "", 0.0
    for chunk in client.chat.completions.create(
        model="openhelm-browser",
        messages=[{"role": "user", "content": f"Read the title of {site}/"}],
        response_format={"type": "json_schema", "json_schema": {"name": "t", "schema": SCHEMA}},
        stream=True,
    ):
        now = time.monotonic() - started
        first = first if first is not None else now
        run_id = run_id or (chunk.model_extra.get("openhelm") or {}).get("run_id", "")
        if chunk.choices and chunk.choices[0].delta.content:
            content, content_at = now, time.time()
    LAGS["stream"].append(lag(session, url, run_id, content_at))
    return first or 0.0, content or 0.0, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="rounds (three runs each)")
    parser.add_argument("--poll", type=float, default=0.25, help="the plain client's poll interval, s")
    args = parser.parse_args()
    _server, site = serve_site()
    with FakeOpenAI([], when_exhausted=DONE) as llm, local_stack(llm.base_url) as stack:
        from shared.orgs import bootstrap_org

        _org, key = bootstrap_org("bench-chat")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        client = openai.OpenAI(
            api_key=key, base_url=stack.function_url("ChatCompletionsFunctionUrl") + "/v1", max_retries=0
        )
        plain(session, stack.url, site, args.poll)  # warm: handlers imported, Chromium cached
        chat(client, site, session, stack.url)
        for values in LAGS.values():
            values.clear()
        ends, evid, chats, firsts, contents, dones = [], [], [], [], [], []
        for _ in range(args.runs):
            e, v = plain(session, stack.url, site, args.poll)
            ends.append(e)
            evid.append(v)
            chats.append(chat(client, site, session, stack.url))
            f, c, d = stream(client, site, session, stack.url)
            firsts.append(f)
            contents.append(c)
            dones.append(d)
        n = f"median of {args.runs}"
        line("plain: POST + poll → run ended", median(ends), "s", n)
        line("plain: POST + poll → evidence stored", median(evid), "s", n)
        line("chat (non-streaming) → answer with evidence", median(chats), "s", n)
        line("stream → first chunk", median(firsts) * 1000, "ms", n)
        line("stream → content", median(contents), "s", n)
        line("stream → [DONE]", median(dones), "s", n)
        line("chat adds over plain (run ended)", (median(chats) - median(ends)) * 1000, "ms", "")
        line("chat adds over plain (evidence stored)", (median(chats) - median(evid)) * 1000, "ms", "")
        line("stream content adds over plain (run ended)", (median(contents) - median(ends)) * 1000, "ms", "")
        line(f"plain: finished_at → client sees it (poll {args.poll} s)", median(LAGS["plain"]) * 1000, "ms", n)
        line("chat: finished_at → answer (incl. evidence wait)", median(LAGS["chat"]) * 1000, "ms", n)
        line("stream: finished_at → content chunk", median(LAGS["stream"]) * 1000, "ms", n)


if __name__ == "__main__":
    main()
