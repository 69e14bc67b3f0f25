"""A run that asks a person, end to end: real Chromium on a login page that needs a one-time code, a
scripted model that calls ask_human, the signed run.needs_input webhook, the answer through the
API, and the run succeeding with the code in no step record, result, webhook or log line. And an
input deadline that passes: the run fails INPUT_TIMEOUT."""

from __future__ import annotations

import functools
import http.server
import json
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from devstack.testing.fake_openai import ToolCall, find_ref
from tests.e2e.conftest import finished, poll, wait_for_status
from tests.e2e.test_completion_e2e import Receiver
from tests.e2e.test_secrets_e2e import _drain, _events_queue, _everything_kept

pytestmark = pytest.mark.e2e

CODE = "482913"
LOGIN = """<!doctype html><html><head><title>Harbor login</title></head><body>
<main id="m"><h1>Enter your code</h1>
<form id="f"><label for="c">One-time code</label><input id="c" name="code" autocomplete="off">
<button type="submit">Sign in</button></form></main>
<script>document.getElementById('f').addEventListener('submit', e => { e.preventDefault();
  const ok = document.getElementById('c').value === 'THE_CODE';
  document.getElementById('m').innerHTML = ok ? '<h1>Signed in</h1>' : '<h1>Wrong code</h1>'; });</script>
</body></html>""".replace("THE_CODE", CODE)
SCHEMA = {"type": "object", "properties": {"signed_in": {"type": "boolean"}}, "required": ["signed_in"]}
FIELDS = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[0-9]{6}$"}}, "required": ["code"]}
ASK = ToolCall("ask_human", {"question": "What is the one-time code we sent you?", "fields": FIELDS})


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def login_site() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "login.html").write_text(LOGIN)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=root))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}/login.html"
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=set())
    yield r
    r.server.shutdown()
    r.server.server_close()


def _type_the_answer(body: dict) -> ToolCall:
    """The model types what the person answered (it reads it from the ask_human result)."""
    said = next(m["content"] for m in reversed(body["messages"]) if "The person answered" in str(m.get("content")))
    code = json.loads(re.search(r"The person answered: (\{.*\})", said).group(1))["code"]
    return ToolCall("type", {"ref": find_ref(body, r"textbox"), "text": code, "submit": True})


def test_a_login_that_needs_a_code_asks_waits_and_succeeds_without_leaking_it(
    stack, api, llm, login_site, receiver, capfd
) -> None:
    secret = api("GET", "/v1/webhooks/secret").json()["secret"]
    bus = _events_queue(stack)  # every event on the bus, as an integrator's rule would see them
    llm.reset(
        ASK,
        _type_the_answer,
        ToolCall("done", {"result": {"signed_in": True}, "confidence": 0.9, "summary": "signed in with the code"}),
    )
    r = api(
        "POST",
        "/v1/runs",
        json={
            "prompt": "Sign in to the site",
            "start_url": login_site,
            "output_schema": SCHEMA,
            "human_input": True,
            "input_timeout_s": 120,
            "webhook_url": receiver.url + "/hook",
        },
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["task_id"]
    run = wait_for_status(api, run_id, {"needs_input", "succeeded", "failed"})
    assert run["status"] == "needs_input", run["error"]
    request = run["input_request"]
    assert request["question"] == "What is the one-time code we sent you?" and request["schema"] == FIELDS

    (headers, body), *_ = poll(lambda: receiver.to("/hook"), "run.needs_input webhook", timeout=30)
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "run.needs_input"
    assert payload["data"]["id"] == run_id and payload["data"]["input_request"]["id"] == request["id"]

    bad = api("POST", f"/v1/runs/{run_id}/input", json={"request_id": request["id"], "answer": {"code": "12"}})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["body", "answer", "code"]
    ok = api("POST", f"/v1/runs/{run_id}/input", json={"request_id": request["id"], "answer": {"code": CODE}})
    assert ok.status_code == 200, ok.text
    again = api("POST", f"/v1/runs/{run_id}/input", json={"request_id": request["id"], "answer": {"code": CODE}})
    assert again.status_code == 409

    run = finished(api, run_id, timeout=90)
    assert run["status"] == "succeeded", run["error"]
    assert run["result"] == {"signed_in": True}
    actions = [s["action"] for s in run["steps"]]
    assert actions[:3] == ["navigate", "ask_human", "type"], actions
    typed = run["steps"][2]["args"]["text"]
    assert typed == f"[redacted:{request['id']}]"
    assert CODE not in json.dumps(run)
    for _headers, sent in receiver.to("/hook"):
        assert CODE.encode() not in sent
    # Nor on the bus, nor in anything the stack keeps (records, evidence objects, executions), nor in
    # the sandbox's logs.
    poll(lambda: api("GET", f"/v1/runs/{run_id}").json()["evidence_status"] == "ready", "evidence stored", 30)
    events = _drain(stack, bus)
    assert any(b"Run Needs Input" in e for e in events) and any(b"Run Succeeded" in e for e in events)
    assert [e for e in events if CODE.encode() in e] == []
    assert [where for where, data in _everything_kept(stack, run_id).items() if CODE.encode() in data] == []
    from shared.services import get_services

    svc = get_services()
    sandbox_id = svc.runs.get(api.org_id, run_id, consistent=True).sandbox_id
    for path in svc.sandbox.log_paths(sandbox_id):  # type: ignore[attr-defined]
        assert CODE.encode() not in Path(path).read_bytes()
    assert CODE not in "".join(capfd.readouterr())


def test_an_input_deadline_that_passes_fails_the_run_input_timeout(stack, api, llm, login_site) -> None:
    llm.reset(ASK)
    r = api(
        "POST",
        "/v1/runs",
        json={"prompt": "Sign in", "start_url": login_site, "human_input": True, "input_timeout_s": 10},
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["task_id"]
    assert wait_for_status(api, run_id, {"needs_input", "failed"})["status"] == "needs_input"
    run = finished(api, run_id, timeout=90)
    assert run["status"] == "failed" and run["error"]["code"] == "INPUT_TIMEOUT", run["error"]
    late = api("POST", f"/v1/runs/{run_id}/input", json={"request_id": "inp_x", "answer": "123456"})
    assert late.status_code == 409
    # Nothing is left running: not its sandbox, not its execution.
    from shared.services import get_services

    svc = get_services()
    sandbox_id = svc.runs.get(api.org_id, run_id, consistent=True).sandbox_id
    poll(lambda: sandbox_id not in {s.sandbox_id for s in svc.sandbox.list_running()}, "sandbox gone", 30)
    sfn = stack.client("stepfunctions")

    def still_running() -> list[str]:
        return [
            ex["name"]
            for machine in sfn.list_state_machines()["stateMachines"]
            for ex in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")[
                "executions"
            ]
            if run_id in ex["name"]
            or run_id in json.dumps(sfn.describe_execution(executionArn=ex["executionArn"]).get("input", ""))
        ]

    poll(lambda: not still_running(), "the run's execution ended", 30)


def test_without_human_input_the_tool_is_not_offered(stack, api, llm, login_site) -> None:
    llm.reset(ToolCall("done", {"result": {"signed_in": False}, "confidence": 0.2, "summary": "no code"}))
    r = api("POST", "/v1/runs", json={"prompt": "Sign in", "start_url": login_site, "output_schema": SCHEMA})
    assert finished(api, r.json()["task_id"])["status"] == "succeeded"
    offered = {t["function"]["name"] for t in llm.chat_requests[-1].body["tools"]}
    assert "ask_human" not in offered and "click" in offered


def test_waiting_for_the_answer_does_not_run_down_the_runs_time(stack, api, llm, login_site) -> None:
    """The real clocks on both sides (the control plane's and the agent's own deadline): a run that
    waits past its max_duration_s for the person still finishes, and the wait is not billed. (With an
    injected clock: tests/integration/test_human_input.py::test_the_wait_does_not_run_down_the_budget.)"""
    from datetime import UTC, datetime, timedelta

    from shared.services import get_services

    max_s = 25  # the agent's own time (a cold Chromium, three model calls) fits well within it
    llm.reset(
        ASK,
        _type_the_answer,
        ToolCall("done", {"result": {"signed_in": True}, "confidence": 0.9, "summary": "signed in"}),
    )
    r = api(
        "POST",
        "/v1/runs",
        json={
            "prompt": "Sign in",
            "start_url": login_site,
            "output_schema": SCHEMA,
            "human_input": True,
            "input_timeout_s": 120,
            "max_duration_s": max_s,
        },
    )
    run_id = r.json()["task_id"]
    run = wait_for_status(api, run_id, {"needs_input", "failed"})
    assert run["status"] == "needs_input", run["error"]
    started = datetime.fromisoformat(run["started_at"])
    past = started + timedelta(seconds=max_s + 3)

    def waited_past_the_budget() -> bool:
        assert api("GET", f"/v1/runs/{run_id}").json()["status"] == "needs_input"  # no timeout meanwhile
        return datetime.now(UTC) > past

    poll(waited_past_the_budget, "the wait to outlast max_duration_s", max_s + 30)
    request_id = run["input_request"]["id"]
    ok = api("POST", f"/v1/runs/{run_id}/input", json={"request_id": request_id, "answer": {"code": CODE}})
    assert ok.status_code == 200, ok.text
    run = finished(api, run_id, timeout=90)
    assert run["status"] == "succeeded", run["error"]
    wall = (datetime.fromisoformat(run["finished_at"]) - started).total_seconds()
    assert wall > max_s + 3
    record = get_services().runs.get(api.org_id, run_id, consistent=True)
    # The run's own time (the wall time less the wait, as the control plane measured it) is within
    # its budget, and that is what is billed.
    assert record.paused_s > 3 and wall - record.paused_s < max_s
    billed = run["usage"]["sandbox_seconds"]
    assert billed < max_s and billed == pytest.approx(wall - record.paused_s, abs=2.0), (wall, record.paused_s)


def test_a_session_task_asks_by_default_and_the_answer_goes_on_in_the_sessions_browser(
    stack, api, llm, login_site
) -> None:
    from tests.e2e.test_sessions_e2e import ready_session, session_in

    session = ready_session(api, start_url=login_site)
    sid = session["id"]
    llm.reset(
        ASK,
        _type_the_answer,
        ToolCall("done", {"result": {"signed_in": True}, "confidence": 0.9, "summary": "signed in"}),
    )
    r = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Sign in", "output_schema": SCHEMA})
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    run = wait_for_status(api, task_id, {"needs_input", "succeeded", "failed"})
    assert run["status"] == "needs_input", run["error"]
    assert api("GET", f"/v1/sessions/{sid}").json()["status"] == "busy"
    request_id = run["input_request"]["id"]
    ok = api("POST", f"/v1/runs/{task_id}/input", json={"request_id": request_id, "answer": {"code": CODE}})
    assert ok.status_code == 200, ok.text
    run = finished(api, task_id, timeout=90)
    assert run["status"] == "succeeded" and run["result"] == {"signed_in": True}, run["error"]
    assert CODE not in json.dumps(run)
    assert session_in(api, sid, {"ready"})["current_task"] is None

    # Turned off for a task: the tool is not offered.
    llm.reset(ToolCall("done", {"result": {"signed_in": True}, "confidence": 0.5, "summary": "no asking"}))
    r = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Look", "human_input": False})
    assert finished(api, r.json()["task_id"])["status"] == "succeeded"
    offered = {t["function"]["name"] for t in llm.chat_requests[-1].body["tools"]}
    assert "ask_human" not in offered
    assert api("DELETE", f"/v1/sessions/{sid}").status_code == 200
