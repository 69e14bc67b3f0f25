"""The agent loop end to end in-process: real Chromium, local pages, a scripted LLM over HTTP."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from devstack.testing.fake_openai import Hang, HttpError, Raw, Text, ToolCall, ToolCalls, find_ref, last_user_text
from tests.agent.harness import TOKEN, VALID_PLANS, FakeControlPlane, make_spec, read_jsonl, run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOOL_NAMES = ["navigate", "click", "type", "select", "scroll", "go_back", "wait", "extract", "done"]


def click(pattern: str) -> Any:
    """A script entry clicking the element whose snapshot line matches ``pattern``."""
    return lambda body: ToolCall("click", {"ref": find_ref(body, pattern)})


def done(result: Any = None, confidence: float = 0.9, summary: str = "Read the pricing table.") -> ToolCall:
    return ToolCall(
        "done", {"result": VALID_PLANS if result is None else result, "confidence": confidence, "summary": summary}
    )


def test_extraction_succeeds_with_full_evidence(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(click(r"link Pricing"), done())

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded", result
    assert result.result == VALID_PLANS
    assert result.confidence == 0.9
    assert result.schema_repairs == 0
    assert result.steps == 3
    on_disk = json.loads((tmp_path / "result.json").read_text())
    assert on_disk == result.model_dump(mode="json")

    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert [s["action"] for s in steps] == ["navigate", "click", "done"]
    assert [s["index"] for s in steps] == [1, 2, 3]
    assert steps[1]["url"] == f"{site}/pricing.html" and "Pricing" in steps[1]["title"]
    assert all(s["error"] is None and s["duration_ms"] >= 0 and "T" in s["started_at"] for s in steps)
    for step in steps:
        shot = tmp_path / step["screenshot"]
        assert shot.read_bytes()[:8] == PNG_MAGIC
    assert steps[0]["screenshot"] == "screenshots/step-0001.png"

    network = read_jsonl(tmp_path / "network.jsonl")
    navigations = [(n["url"], n["status"]) for n in network if not n["blocked"]]
    assert navigations == [(f"{site}/index.html", 200), (f"{site}/pricing.html", 200)]

    # The completion reached the control plane with the token and the same JSON as result.json.
    assert len(plane.completions) == 1
    assert plane.completions[0]["run_id"] == "run_test0001"
    assert plane.completions[0]["authorization"] == f"Bearer {TOKEN}"
    assert plane.completions[0]["body"] == on_disk
    assert [p["step"] for p in plane.progress] == [1, 2, 3]
    assert set(plane.authorizations) == {f"Bearer {TOKEN}"}

    chats = plane.llm.chat_requests
    assert len(chats) == 2
    assert all(r.authorization == f"Bearer {TOKEN}" for r in chats)
    assert chats[0].path == "/internal/llm/v1/chat/completions"
    body = chats[0].body
    assert body["model"] == "gpt-test"
    assert [t["function"]["name"] for t in body["tools"]] == TOOL_NAMES
    system = body["messages"][0]["content"]
    assert '"sso": {"type": "boolean"}' in system and "latest snapshot" in system.lower()
    # Only the latest observation is sent in full; the older one shrank to a line.
    second = chats[1].body["messages"]
    snapshots = [m for m in second if m["role"] != "system" and "Snapshot:" in (m.get("content") or "")]
    assert len(snapshots) == 1 and re.search(r"button Show yearly prices \[\d+\]$", snapshots[0]["content"], re.M)
    assert any("snapshot elided" in (m.get("content") or "") for m in second)
    assert "\t✓\n" in last_user_text(chats[1].body)  # one-character cells are kept


def test_schema_repair_then_success(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    bad = {"plans": [{"name": "Free", "price": "zero", "sso": False}]}
    plane.llm.add(click(r"link Pricing"), done(bad), done())

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded"
    assert result.schema_repairs == 1
    chats = plane.llm.chat_requests
    assert len(chats) == 3
    feedback = chats[2].body["messages"][-1]
    assert feedback["role"] == "tool"
    assert "does not match the output schema" in feedback["content"]
    assert "$.plans[0].price" in feedback["content"]
    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert [s["action"] for s in steps] == ["navigate", "click", "done", "done"]
    assert steps[2]["error"] and steps[3]["error"] is None


def test_schema_never_satisfied(site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path) -> None:
    plane, url = control
    plane.llm.add(done({"plans": []}), done({"plans": "none"}), done({}))

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "failed"
    assert result.error_code == "SCHEMA_UNSATISFIED"
    assert result.schema_repairs == 2
    assert result.result is None
    assert len(plane.llm.chat_requests) == 3
    assert plane.completions[0]["body"]["error_code"] == "SCHEMA_UNSATISFIED"


def test_blocked_domains_get_a_policy_page(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    port = site.rsplit(":", 1)[1]
    plane.llm.add(
        click(r"link Pricing"),  # the page's tracker pixel on tracker.evil.test is aborted
        ToolCall("navigate", {"url": "http://shop.evil.test/deals"}),  # blocked pattern
        ToolCall("navigate", {"url": f"http://localhost:{port}/pricing.html"}),  # not in the allowed list
        ToolCall("navigate", {"url": f"{site}/pricing.html"}),  # allowed again: goto still works
        done(),
    )
    spec = make_spec(site, allowed_domains=["127.0.0.1"], blocked_domains=["*.evil.test"])

    result = run(spec, tmp_path, url, browser)

    assert result.status == "succeeded", result
    network = read_jsonl(tmp_path / "network.jsonl")
    blocked = {n["url"]: n["status"] for n in network if n["blocked"]}
    assert blocked == {
        "http://tracker.evil.test/pixel.gif": None,
        "http://shop.evil.test/deals": 451,
        f"http://localhost:{port}/pricing.html": 451,
    }
    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert steps[2]["title"] == "Blocked by policy"
    assert "blocked by policy" in steps[2]["error"]
    assert steps[3]["title"] == "Blocked by policy"
    assert steps[4]["error"] is None and steps[4]["url"] == f"{site}/pricing.html"
    # The model was told, in the tool result and in the observation.
    after_block = plane.llm.chat_requests[2].body["messages"]
    tool_result = [m for m in after_block if m["role"] == "tool"][-1]["content"]
    assert "blocked by policy" in tool_result.lower()
    assert "Title: Blocked by policy" in after_block[-1]["content"]
    assert "Blocked by policy" in last_user_text(plane.llm.chat_requests[2].body)


def test_max_steps(site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path) -> None:
    plane, url = control
    plane.llm.add(*[ToolCall("scroll", {"direction": "down"})] * 3)

    result = run(make_spec(site, max_steps=2), tmp_path, url, browser)

    assert result.error_code == "AGENT_MAX_STEPS"
    assert result.steps == 3  # the start page + 2 actions
    chats = plane.llm.chat_requests
    assert len(chats) == 3
    # The last turn offers only `done`.
    assert [t["function"]["name"] for t in chats[2].body["tools"]] == ["done"]
    assert "used all 2 browser actions" in json.dumps(chats[2].body["messages"][-1])


def test_a_run_out_of_steps_ends_gracefully_and_keeps_its_browser_state(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(*[ToolCall("scroll", {"direction": "down"})] * 3)

    result = run(make_spec(site, max_steps=1, persist_profile=True), tmp_path / "out", url, browser)

    assert result.error_code == "AGENT_MAX_STEPS"
    state = json.loads((tmp_path / "out" / "storage_state.json").read_text())
    assert set(state) == {"cookies", "origins"}
    # Without persist_profile nothing is written.
    plane.llm.add(*[ToolCall("scroll", {"direction": "down"})] * 3)
    run(make_spec(site, max_steps=1), tmp_path / "plain", url, browser)
    assert not (tmp_path / "plain" / "storage_state.json").exists()


def test_max_steps_last_turn_can_still_answer(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(ToolCall("wait", {"seconds": 0}), done(confidence=0.3))

    result = run(make_spec(site, max_steps=1), tmp_path, url, browser)

    assert result.status == "succeeded"
    assert result.confidence == 0.3


def test_max_duration(site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path) -> None:
    plane, url = control
    plane.llm.add(ToolCall("wait", {"seconds": 30}), done())
    started = time.monotonic()

    # 6 s: the clock keeps 0.5 s for the hand-in, and the start page's load must fit before the
    # model's `wait` on a loaded machine (with 2 s the deadline came during the navigation).
    result = run(make_spec(site, max_duration_s=6), tmp_path, url, browser)

    elapsed = time.monotonic() - started
    assert result.error_code == "AGENT_TIMEOUT"
    assert elapsed < 12, elapsed  # the 30 s wait was cut to the time left
    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert steps[-1]["action"] == "wait"
    assert len(plane.llm.chat_requests) == 1


def test_llm_retries_500_then_429(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(HttpError(500, retry_after=0.01), HttpError(429, retry_after=0.01), done())

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded"
    assert len(plane.llm.chat_requests) == 3


def test_llm_always_500_is_llm_error(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(*[HttpError(500, retry_after=0.01)] * 3)

    result = run(make_spec(site), tmp_path, url, browser, llm_max_retries=2)

    assert result.error_code == "LLM_ERROR"
    assert "500" in (result.error_message or "")
    assert len(plane.llm.chat_requests) == 3
    assert plane.completions[0]["body"]["error_code"] == "LLM_ERROR"


def test_402_is_budget_exceeded(site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path) -> None:
    plane, url = control
    plane.llm.add(HttpError(402, code="budget_exceeded"))

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.error_code == "BUDGET_EXCEEDED"
    assert len(plane.llm.chat_requests) == 1  # never retried


def test_budget_exceeded_code_on_another_status(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(HttpError(403, body={"error": {"type": "budget", "code": "budget_exceeded", "message": "no"}}))

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.error_code == "BUDGET_EXCEEDED"


def test_the_gateways_deadline_answer_is_agent_timeout(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    """The control plane's clock may reach max_duration_s a moment before the agent's own does."""
    plane, url = control
    body = {"error": {"type": "timeout_error", "code": "run_deadline_exceeded", "message": "max_duration_s passed"}}
    plane.llm.add(HttpError(408, body=body))

    result = run(make_spec(site), tmp_path, url, browser, llm_max_retries=0)

    assert result.error_code == "AGENT_TIMEOUT" and "max_duration_s" in (result.error_message or "")


def test_tools_and_their_errors_go_back_to_the_model(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(
        ToolCall("click", {"ref": "e999"}),  # not in the snapshot
        ToolCall("teleport", {"to": "moon"}),  # no such tool
        ToolCall("scroll", {"direction": "sideways"}),  # invalid arguments
        click(r"link Contact sales"),
        lambda body: ToolCall("type", {"ref": find_ref(body, r"textbox Work email"), "text": "a@b.example"}),
        lambda body: ToolCall("select", {"ref": find_ref(body, r"combobox Team size"), "value": "11+"}),
        ToolCall("scroll", {"direction": "down", "amount": 2}),
        lambda body: ToolCall("click", {"ref": find_ref(body, r"button Send")}),
        ToolCall("go_back", {}),
        Text("I think I am done?"),  # no tool call: nudged
        ToolCall("wait", {"seconds": 0.1}),
        done(),
    )

    result = run(make_spec(site, max_steps=20), tmp_path, url, browser)

    assert result.status == "succeeded", result
    steps = read_jsonl(tmp_path / "steps.jsonl")
    actions = [(s["action"], s["error"]) for s in steps]
    assert [a for a, _ in actions] == [
        "navigate",
        "click",
        "teleport",
        "scroll",
        "click",
        "type",
        "select",
        "scroll",
        "click",
        "go_back",
        "wait",
        "done",
    ]
    errors = {a: e for a, e in actions[1:4]}
    assert "no element has ref 'e999'" in errors["click"]
    assert "unknown tool" in errors["teleport"]
    assert "invalid arguments for scroll" in errors["scroll"]
    assert steps[8]["url"].startswith(f"{site}/thanks.html?email=a%40b.example&size=large")
    assert steps[9]["url"] == f"{site}/contact.html"
    chats = plane.llm.chat_requests
    tool_msgs = [m for m in chats[3].body["messages"] if m["role"] == "tool"]
    assert [m["content"][:6] for m in tool_msgs] == ["Error:"] * 3
    assert "scrolled down" in [m for m in chats[7].body["messages"] if m["role"] == "tool"][-1]["content"]
    nudge = chats[10].body["messages"][-1]
    assert nudge["role"] == "user" and "tool call" in nudge["content"]


def test_observation_waits_for_the_page_to_react(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(click(r"link Pricing"), click(r"button Show yearly prices"), done())

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded"
    # The button's fetch() finished before the observation was taken.
    assert "Yearly: Team 290, Enterprise 990" in last_user_text(plane.llm.chat_requests[2].body)


def test_several_tool_calls_in_one_reply(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(
        lambda body: ToolCalls(
            (
                ToolCall("click", {"ref": find_ref(body, r"link Pricing")}),
                ToolCall("scroll", {"direction": "down"}),  # skipped: the page changed under it
            )
        ),
        done(),
    )

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded"
    messages = plane.llm.chat_requests[1].body["messages"]
    tool_msgs = [m for m in messages if m["role"] == "tool"]
    assert tool_msgs[-1]["content"].startswith("Not executed")
    assert [s["action"] for s in read_jsonl(tmp_path / "steps.jsonl")] == ["navigate", "click", "done"]


def test_replay_needs_no_llm(site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path) -> None:
    plane, url = control
    plane.llm.add(
        click(r"link Pricing"),
        lambda body: ToolCall("select", {"ref": find_ref(body, r"combobox Currency"), "value": "eur"}),
        done(),
    )
    recorded = run(make_spec(site), tmp_path / "recorded", url, browser)
    assert recorded.status == "succeeded"
    replay_steps = [
        {"action": s["action"], "args": s["args"]} for s in read_jsonl(tmp_path / "recorded" / "steps.jsonl")
    ]
    calls_before = len(plane.llm.chat_requests)

    spec = make_spec(site, model="replay", start_url=None, replay={"steps": replay_steps}, run_id="run_replay01")
    result = run(spec, tmp_path / "replayed", url, browser)

    assert result.status == "succeeded", result
    assert result.result == VALID_PLANS and result.confidence == recorded.confidence
    assert len(plane.llm.chat_requests) == calls_before  # no LLM call at all
    steps = read_jsonl(tmp_path / "replayed" / "steps.jsonl")
    assert [s["action"] for s in steps] == ["navigate", "click", "select", "done"]
    assert all(s["error"] is None for s in steps), steps
    assert (tmp_path / "replayed" / "screenshots" / "step-0004.png").exists()
    assert plane.completions[-1]["run_id"] == "run_replay01"


def test_bad_spec_is_agent_crashed(control: tuple[FakeControlPlane, str], tmp_path: Path) -> None:
    plane, url = control

    result = run({"run_id": "run_bad", "prompt": "", "model": "m", "max_steps": 0}, tmp_path, url, None)

    assert result.error_code == "AGENT_CRASHED"
    assert "prompt" in (result.error_message or "") and "max_steps" in (result.error_message or "")
    assert json.loads((tmp_path / "result.json").read_text())["error_code"] == "AGENT_CRASHED"
    assert plane.completions[0]["body"]["error_code"] == "AGENT_CRASHED"
    assert plane.llm.chat_requests == []


def test_a_hanging_model_ends_the_run_at_its_deadline_as_agent_timeout(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    """Every attempt and retry is cut to the run's time left: the openai client's own retries used to
    give each attempt the full timeout, so the run ended long after max_duration_s as LLM_ERROR."""
    plane, url = control
    hangs = [Hang(), Hang(), Hang()]
    plane.llm.add(*hangs)
    try:
        started = time.monotonic()
        result = run(make_spec(site, max_duration_s=4), tmp_path, url, browser, llm_max_retries=2)
        took = time.monotonic() - started
    finally:
        for hang in hangs:
            hang.release.set()
    assert result.error_code == "AGENT_TIMEOUT", result.error_message
    assert "waiting for the model" in (result.error_message or "")
    assert took < 4 + 5  # the deadline plus closing the page; not 3 x the attempt timeout
    assert len(plane.llm.chat_requests) == 1  # the one attempt had all the time there was


@pytest.mark.parametrize(
    "garbage",
    [
        Raw(b'{"id": "x", "choices": [{"message": {"role": "assist'),
        Raw(b"<html>502 Bad Gateway</html>", content_type="text/html"),
        Raw(b'{"unexpected": true}'),
    ],
    ids=["truncated-json", "html", "not-a-completion"],
)
def test_garbage_from_the_model_is_retried_then_llm_error(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path, garbage: Raw
) -> None:
    plane, url = control
    plane.llm.add(garbage, garbage, garbage)

    result = run(make_spec(site), tmp_path, url, browser, llm_max_retries=2)

    assert result.error_code == "LLM_ERROR", result.error_message
    assert len(plane.llm.chat_requests) == 3


def test_one_garbage_answer_is_retried_and_the_run_goes_on(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(Raw(b"{not json"), done())

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded", result.error_message


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_request_the_sandbox_proxy_refuses_is_logged_as_blocked(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path, scheme: str
) -> None:
    """The browser's own policy allows the host, the egress proxy (local sandbox) refuses its address:
    the network log says blocked, the model is told."""
    from shared.sandbox.local.egress_policy import EgressPolicy
    from shared.sandbox.local.egress_server import EgressProxy

    plane, url = control
    target = f"{scheme}://127.0.0.1:{site.rsplit(':', 1)[1]}/index.html"
    plane.llm.add(ToolCall("navigate", {"url": target}), done())
    # loopback refused by the proxy (allow_loopback=False); the control plane stays reachable
    proxy = EgressProxy(EgressPolicy.build(control_url=url), run_id="run_test0001")
    host, port = proxy.listen_tcp("127.0.0.1", 0)
    try:
        result = run(make_spec(site, start_url=None), tmp_path, url, browser, browser_proxy=f"http://{host}:{port}")
    finally:
        proxy.stop()
    assert result.status == "succeeded", result.error_message
    entries = [e for e in read_jsonl(tmp_path / "network.jsonl") if e["url"].startswith(target)]
    assert entries and all(e["blocked"] for e in entries)
    assert entries[0]["status"] == (403 if scheme == "http" else None)
    assert "blocked by the domain policy" in json.dumps(plane.llm.chat_requests[1].body["messages"])


def test_garbage_tool_arguments_go_back_to_the_model(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    bad_call = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "click", "arguments": '{"ref": "e1'}}
                    ],
                },
            }
        ],
    }
    plane.llm.add(Raw(json.dumps(bad_call).encode()), done())

    result = run(make_spec(site), tmp_path, url, browser)

    assert result.status == "succeeded", result.error_message
    assert "not valid JSON" in json.dumps(plane.llm.chat_requests[1].body["messages"][-2:])


def test_a_huge_page_states_its_budget_and_extract_reaches_what_was_cut(
    site: str, browser: Any, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    plane, url = control
    plane.llm.add(
        ToolCall("extract", {"query": "item 377:"}),
        ToolCall("extract", {"part": 2}),
        done(),
    )

    result = run(make_spec(site, start_url=f"{site}/huge.html"), tmp_path, url, browser, observation_max_chars=2000)

    assert result.status == "succeeded", result
    chats = plane.llm.chat_requests
    first = chats[0].body["messages"][-1]["content"]
    assert "Item 377" not in first  # cut by the budget ...
    assert "over the budget of 2000" in first and "extract(query)" in first
    assert "more lines of this page were left out" in first
    tools = [m["content"] for m in chats[2].body["messages"] if m["role"] == "tool"]
    assert tools[0] == ("1 line(s) match 'item 377:':\nItem 376: bin M-912\nItem 377: bin N-949\nItem 378: bin O-986")
    assert tools[1].startswith("part 2 of 4:\nItem 106: bin C-922\n") and "Item 185" in tools[1]
    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert [s["action"] for s in steps] == ["navigate", "extract", "extract", "done"]
