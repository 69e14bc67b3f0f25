"""Custom tools the caller runs, end to end: the scripted model calls the run's own tool, the run waits
in waiting_for_tool with tool_call, the signed run.tool_call webhook goes out, the caller's result
reaches the agent; a call nobody answers times out into an error result and the run still
finishes; invalid tool definitions are refused with 422 and details[].loc."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from devstack.testing.fake_openai import ToolCall
from tests.e2e.conftest import finished, poll, wait_for_status
from tests.e2e.test_completion_e2e import Receiver

pytestmark = pytest.mark.e2e

LOOKUP = {
    "name": "lookup_order",
    "description": "Look an order up in our own system.",
    "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
}
SCHEMA = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}


@pytest.fixture
def receiver():
    r = Receiver(fail_first=set())
    yield r
    r.server.shutdown()
    r.server.server_close()


def _done_with_tool_result(body: dict) -> ToolCall:
    said = next(m["content"] for m in reversed(body["messages"]) if m.get("role") == "tool")
    return ToolCall("done", {"result": {"status": said}, "confidence": 0.8, "summary": "from the tool"})


def test_a_custom_tool_is_called_answered_and_recorded_as_a_step(stack, api, llm, site, receiver) -> None:
    secret = api("GET", "/v1/webhooks/secret").json()["secret"]
    llm.reset(ToolCall("lookup_order", {"order": "A-17"}), _done_with_tool_result)
    r = api(
        "POST",
        "/v1/runs",
        json={
            "prompt": "What is the status of order A-17?",
            "start_url": site + "/",
            "output_schema": SCHEMA,
            "tools": [LOOKUP],
            "webhook_url": receiver.url + "/hook",
        },
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["task_id"]
    run = wait_for_status(api, run_id, {"waiting_for_tool", "succeeded", "failed"})
    assert run["status"] == "waiting_for_tool", run["error"]
    call = run["tool_call"]
    assert call["name"] == "lookup_order" and call["arguments"] == {"order": "A-17"}
    (headers, body), *_ = poll(lambda: receiver.to("/hook"), "run.tool_call webhook", timeout=30)
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "run.tool_call" and payload["data"]["tool_call"]["id"] == call["id"]

    assert api("POST", f"/v1/runs/{run_id}/tool-results", json={"call_id": "call_x", "output": "x"}).status_code == 409
    both = api("POST", f"/v1/runs/{run_id}/tool-results", json={"call_id": call["id"], "output": "x", "error": "y"})
    assert both.status_code == 422
    ok = api("POST", f"/v1/runs/{run_id}/tool-results", json={"call_id": call["id"], "output": "shipped"})
    assert ok.status_code == 200, ok.text

    run = finished(api, run_id, timeout=90)
    assert run["status"] == "succeeded", run["error"]
    assert run["result"] == {"status": "shipped"}
    step = next(s for s in run["steps"] if s["action"] == "lookup_order")
    assert step["args"] == {"call_id": call["id"], "arguments": {"order": "A-17"}, "output": "shipped"}
    assert step["error"] is None


def test_a_tool_call_nobody_answers_times_out_and_the_run_still_finishes(stack, api, llm, site) -> None:
    llm.reset(ToolCall("lookup_order", {"order": "A-18"}), _done_with_tool_result)
    r = api(
        "POST",
        "/v1/runs",
        json={"prompt": "Order A-18?", "start_url": site + "/", "tools": [LOOKUP], "tool_timeout_s": 5},
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["task_id"]
    assert wait_for_status(api, run_id, {"waiting_for_tool", "failed"})["status"] == "waiting_for_tool"
    run = finished(api, run_id, timeout=90)
    assert run["status"] == "succeeded", run["error"]
    step = next(s for s in run["steps"] if s["action"] == "lookup_order")
    assert "did not answer in time" in step["error"]
    assert "did not answer in time" in run["result"]["status"]  # what the model was told


@pytest.mark.parametrize(
    ("tools", "loc"),
    [
        ([{**LOOKUP, "name": "click"}], ["body", "tools", "0", "name"]),
        ([{**LOOKUP, "name": "has space"}], ["body", "tools", "0", "name"]),
        ([{**LOOKUP, "parameters": {"type": "nonsense"}}], ["body", "tools", "0", "parameters"]),
        ([LOOKUP] * 17, ["body", "tools"]),
        ([LOOKUP, LOOKUP], ["body", "tools"]),
    ],
)
def test_invalid_tool_definitions_are_refused(stack, api, tools, loc) -> None:
    r = api("POST", "/v1/runs", json={"prompt": "Use the tools", "tools": tools})
    assert r.status_code == 422, r.text
    assert loc in [d["loc"] for d in r.json()["error"]["details"]], r.json()
