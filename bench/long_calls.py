"""Long calls through the local stack: model calls past API Gateway's 30 s, and the longest ``wait``.

    .venv/bin/python bench/long_calls.py [--delays 35,85]

For each delay, one real run (bubblewrap sandbox, Chromium, the LLM gateway's function URL) whose
scripted model answers its only call after that many seconds; prints whether the run succeeded and
how long the call took. Then POST /v1/runs?wait=25 on a run that ends within it (200 with the run)
and the refusal of wait=26. The local stack serves the gateway's function URL with no 30 s cap, as
AWS does; the agent bounds each model call itself (AgentOptions.llm_timeout_s, 90 s today).
"""

from __future__ import annotations

import argparse
import time

import requests
from common import line, local_stack
from observation import serve_site

from devstack.testing.fake_openai import FakeOpenAI, Stall, ToolCall

DONE = ToolCall("done", {"result": {"title": "Harbor"}, "confidence": 0.9, "summary": "read the title"})
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delays", default="35,85", help="seconds the model takes, comma-separated")
    args = parser.parse_args()
    delays = [float(d) for d in args.delays.split(",") if d]
    server, site = serve_site()
    with FakeOpenAI([]) as llm, local_stack(llm.base_url) as stack:
        from shared.orgs import bootstrap_org

        _org_id, key = bootstrap_org("bench-long")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        for delay in delays:
            llm.reset(Stall(delay, then=DONE))
            body = {"prompt": "Read the title", "start_url": f"{site}/", "output_schema": SCHEMA}
            body["max_duration_s"] = int(delay) + 120
            started = time.monotonic()
            run_id = session.post(f"{stack.url}/v1/runs", json=body, timeout=30).json()["task_id"]
            while True:
                run = session.get(f"{stack.url}/v1/runs/{run_id}", timeout=30).json()
                if run["status"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.5)
            total = time.monotonic() - started
            note = run["status"] if run["status"] == "succeeded" else f"{run['status']} {run.get('error')}"
            line(f"run with a {delay:.0f} s model call: POST → terminal", total, "s", note)

        replay = [{"action": "navigate", "args": {"url": f"{site}/"}}, {"action": "done", "args": DONE.args}]
        started = time.monotonic()
        r = session.post(
            f"{stack.url}/v1/runs?wait=25", json={"prompt": "Read the title", "replay_steps": replay}, timeout=30
        )
        line("POST /v1/runs?wait=25 (a replay run)", time.monotonic() - started, "s", f"HTTP {r.status_code}")
        r = session.post(f"{stack.url}/v1/runs?wait=26", json={"prompt": "Read the title"}, timeout=30)
        line("POST /v1/runs?wait=26", float(r.status_code), "", r.json()["error"]["code"])
    server.shutdown()


if __name__ == "__main__":
    main()
