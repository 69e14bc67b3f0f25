"""The sessions toolset of /mcp through the real API handler, against moto: the same sessions the
/v1/sessions routes show, their refusals as tool errors naming code and status, and the key's scope.
The sandbox provider is a double that records commands and answers direct actions (the browser paths
run for real in tests/e2e/test_sessions_e2e.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.clock import FakeClock
from shared.orgs import bootstrap_org
from shared.services import Services
from tests.integration.test_mcp_api import rpc, tool
from tests.support.apigw import call, http_event
from tests.support.sessions import RecordingProvider, api_services

SESSION_TOOLS = [
    "create_session",
    "get_session",
    "list_sessions",
    "run_session_task",
    "session_action",
    "control_session",
    "close_session",
]


class AnsweringProvider(RecordingProvider):
    """Starts nothing; records commands; answers each action as a browser that did it."""

    def read_reply(self, sandbox_id: str, command_id: str) -> dict[str, Any] | None:
        command = next(c for c in self.commands if c["id"] == command_id)
        if command["kind"] != "action":
            return {"ok": True}
        url = command["args"].get("url", "https://example.com/")
        step = {"index": 0, "action": command["action"], "url": url, "title": "Example"}
        return {"ok": True, "result": f"did {command['action']}", "step": step}


@pytest.fixture
def svc(moto_aws: None, clock: FakeClock) -> Iterator[Services]:
    with api_services(clock) as services:
        yield services


@pytest.fixture
def provider(svc: Services) -> AnsweringProvider:
    svc.sandbox_provider = AnsweringProvider()
    return svc.sandbox_provider


def ready(provider: AnsweringProvider, session_id: str) -> None:
    request = next(r for r in provider.requests if r.run_id == session_id)
    r = call(
        http_event(
            "POST",
            f"/internal/sessions/{session_id}/ready",
            body={"url": "https://example.com/", "title": "Example"},
            headers={"authorization": f"Bearer {request.run_token}"},
        )
    )
    assert r.status == 204, r.text


def api(key: str, method: str, path: str) -> dict[str, Any]:
    return call(http_event(method, path, key=key)).json


def error_text(res: dict[str, Any]) -> str:
    assert res["isError"] is True, res
    return res["content"][0]["text"]


def test_the_session_tools_are_listed_after_the_run_tools(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    listed = rpc(key, "tools/list").json["result"]["tools"]
    run_tools = ["create_run", "get_run", "list_runs", "cancel_run", "answer_input", "send_tool_result"]
    assert [t["name"] for t in listed] == [*run_tools, *SESSION_TOOLS]


def test_a_session_opened_worked_and_closed_through_mcp_is_the_api_s_session(
    svc: Services, provider: AnsweringProvider, org_key: tuple[str, str]
) -> None:
    _, key = org_key
    opened = tool(key, "create_session", {"start_url": "https://example.com/", "idle_timeout_s": 60})
    assert opened["isError"] is False
    summary = opened["structuredContent"]
    sid = summary["session_id"]
    assert summary["status"] == "starting" and summary["live"] is True and "get_session" in summary["next"]
    assert api(key, "GET", summary["envelope"])["idle_timeout_s"] == 60

    ready(provider, sid)
    got = tool(key, "get_session", {"session_id": sid})["structuredContent"]
    assert got["status"] == "ready" and got["current_title"] == "Example"

    acted = tool(key, "session_action", {"session_id": sid, "action": "navigate", "url": "https://example.com/a"})
    answer = acted["structuredContent"]
    assert answer == {
        "session_id": sid,
        "action": "navigate",
        "ok": True,
        "result": "did navigate",
        "url": "https://example.com/a",
        "title": "Example",
        "screenshot_url": None,
    }
    (command,) = [c for c in provider.commands if c["kind"] == "action"]
    assert command["action"] == "navigate" and command["args"] == {"url": "https://example.com/a"}
    assert tool(key, "get_session", {"session_id": sid})["structuredContent"]["current_url"] == "https://example.com/a"

    task = tool(key, "run_session_task", {"session_id": sid, "prompt": "Read the page title"})["structuredContent"]
    assert task["session_id"] == sid and task["run_id"].startswith("run_") and task["finished"] is False
    run = api(key, "GET", task["envelope"])
    assert run["session_id"] == sid and run["prompt"] == "Read the page title"
    busy = tool(key, "get_session", {"session_id": sid})["structuredContent"]
    assert busy["status"] == "busy" and busy["current_task"] == task["run_id"] and busy["tasks"] == 1
    again = tool(key, "run_session_task", {"session_id": sid, "prompt": "Another one"})
    assert "(409)" in error_text(again) and "busy" in error_text(again)

    stopped = tool(key, "control_session", {"session_id": sid, "verb": "stop"})["structuredContent"]
    assert stopped["status"] == "ready" and stopped["current_task"] is None
    assert api(key, "GET", task["envelope"])["status"] == "cancelled"

    page = tool(key, "list_sessions", {"status": "ready"})["structuredContent"]
    assert [s["session_id"] for s in page["sessions"]] == [sid] and page["next_cursor"] is None

    closed = tool(key, "close_session", {"session_id": sid})["structuredContent"]
    assert closed["status"] == "closed" and closed["live"] is False and closed["close_reason"] == "terminated"
    assert provider.killed == ["rec_1"] and api(key, "GET", f"/v1/sessions/{sid}")["status"] == "closed"
    assert "(409)" in error_text(tool(key, "close_session", {"session_id": sid}))


def test_refusals_are_tool_errors_that_change_nothing(
    svc: Services, provider: AnsweringProvider, org_key: tuple[str, str]
) -> None:
    _, key = org_key
    assert "limit_exceeded (422)" in error_text(tool(key, "create_session", {"max_duration_s": 7200}))
    assert provider.requests == [] and api(key, "GET", "/v1/sessions")["data"] == []

    sid = tool(key, "create_session", {})["structuredContent"]["session_id"]
    starting = tool(key, "session_action", {"session_id": sid, "action": "screenshot"})
    assert "(409)" in error_text(starting) and "starting" in error_text(starting)
    ready(provider, sid)
    bad = tool(key, "session_action", {"session_id": sid, "action": "click", "x": -1})
    assert "validation_failed (422)" in error_text(bad)
    assert "(409)" in error_text(tool(key, "control_session", {"session_id": sid, "verb": "pause"}))
    assert [c for c in provider.commands if c["kind"] == "action"] == []

    _, other = bootstrap_org("globex", svc)
    for name, args in (
        ("get_session", {"session_id": sid}),
        ("session_action", {"session_id": sid, "action": "screenshot"}),
        ("run_session_task", {"session_id": sid, "prompt": "Read the page"}),
        ("close_session", {"session_id": sid}),
    ):
        assert "session_not_found (404)" in error_text(tool(other, name, args)), name
    assert api(key, "GET", f"/v1/sessions/{sid}")["status"] == "ready"


def test_a_read_only_key_may_look_but_not_open_act_or_close(
    svc: Services, provider: AnsweringProvider, org_key: tuple[str, str]
) -> None:
    _, key = org_key
    reader = call(http_event("POST", "/v1/keys", key=key, body={"name": "assistant", "scopes": ["read"]})).json["key"]
    sid = tool(key, "create_session", {})["structuredContent"]["session_id"]
    ready(provider, sid)
    assert tool(reader, "get_session", {"session_id": sid})["structuredContent"]["status"] == "ready"
    assert len(tool(reader, "list_sessions", {})["structuredContent"]["sessions"]) == 1
    for name, args in (
        ("create_session", {}),
        ("session_action", {"session_id": sid, "action": "screenshot"}),
        ("run_session_task", {"session_id": sid, "prompt": "Read the page"}),
        ("control_session", {"session_id": sid, "verb": "stop"}),
        ("close_session", {"session_id": sid}),
    ):
        assert "insufficient_scope (403)" in error_text(tool(reader, name, args)), name
    assert len(provider.requests) == 1 and provider.commands == []
    assert api(key, "GET", f"/v1/sessions/{sid}")["status"] == "ready"
