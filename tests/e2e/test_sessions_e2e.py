"""Sessions end to end: one bubblewrap sandbox whose Chromium stays open across tasks (each a run
through the state machine) and direct actions, with the model played by the scripted server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.testing.fake_openai import Stall, ToolCall, find_ref, last_user_text
from tests.e2e.conftest import finished, poll, serve_directory, wait_for_status

pytestmark = pytest.mark.e2e

SITE = Path(__file__).resolve().parent / "session_site"
NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with serve_directory(SITE) as url:
        yield url


def ready_session(api: Any, **body: Any) -> dict:
    r = api("POST", "/v1/sessions", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"].startswith("ses_") and created["status"] == "starting" and created["expires_at"]
    assert r.headers["Location"] == f"/v1/sessions/{created['id']}"
    return session_in(api, created["id"], {"ready"})


def session_in(api: Any, session_id: str, statuses: set[str], timeout: float = 60) -> dict:
    def probe() -> dict | None:
        s = api("GET", f"/v1/sessions/{session_id}").json()
        return s if s["status"] in statuses else None

    return poll(probe, f"session {session_id} in {sorted(statuses)}", timeout)


def act(api: Any, session_id: str, **action: Any) -> dict:
    r = api("POST", f"/v1/sessions/{session_id}/actions", json=action)
    assert r.status_code == 200, r.text
    return r.json()


def welcome_name(body: dict) -> ToolCall:
    match = re.search(r"Welcome back, (\w+)", last_user_text(body))
    name = match.group(1) if match else "nobody"
    return ToolCall("done", {"result": {"name": name}, "confidence": 0.9, "summary": "read the account page"})


def test_a_session_keeps_its_browser_across_tasks_and_direct_actions(stack, api, llm, shop) -> None:
    from shared.services import get_services

    session = ready_session(api, start_url=shop + "/login.html", idle_timeout_s=120)
    sid = session["id"]
    assert session["current_url"].endswith("/login.html") and session["current_title"].startswith("Sign in")

    # Task 1 signs in through the form (the cookie is set by the page's own script).
    llm.reset(
        lambda body: ToolCall("type", {"ref": find_ref(body, r"textbox"), "text": "alice", "submit": True}),
        ToolCall("done", {"result": {"name": "alice"}, "confidence": 0.9, "summary": "signed in"}),
    )
    r = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Sign in as alice", "output_schema": NAME_SCHEMA})
    assert r.status_code == 202, r.text
    first = r.json()
    assert first["session_id"] == sid and first["poll_url"].endswith(f"/v1/runs/{first['task_id']}")
    # One task at a time: the session is busy until the first one ends.
    busy = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Again"})
    assert busy.status_code == 409 and "busy" in busy.json()["error"]["message"]
    run1 = finished(api, first["task_id"])
    assert run1["status"] == "succeeded", run1["error"]
    assert run1["session_id"] == sid and [s["action"] for s in run1["steps"]] == ["type", "done"]
    assert run1["usage"]["sandbox_seconds"] == 0  # the session pays for its sandbox, once
    ready = session_in(api, sid, {"ready"})
    assert ready["tasks"] == [first["task_id"]] and ready["current_task"] is None
    assert ready["current_url"] == run1["progress"]["last_url"]

    # Direct actions between tasks, in the same browser: the cookie is there.
    assert act(api, sid, action="evaluate", expression="document.cookie")["result"]["value"] == "user=alice"
    nav = act(api, sid, action="navigate", url=shop + "/account.html")
    assert nav["ok"] and nav["step"]["url"].endswith("/account.html") and nav["step"]["screenshot_url"]
    text = act(api, sid, action="extract")["result"]["text"]
    assert "Welcome back, alice" in text
    act(api, sid, action="navigate", url=shop + "/login.html")
    snapshot = act(api, sid, action="extract")["result"]["text"]
    ref = re.search(r"textbox Name \[(\w+)\]", snapshot).group(1)
    assert act(api, sid, action="type", ref=ref, text="bob")["ok"]
    assert act(api, sid, action="key_press", key="Enter")["ok"]
    assert (
        act(api, sid, action="evaluate", expression="document.getElementById('status').textContent")["result"]["value"]
        == "Signed in as bob"
    )
    link = re.search(r"link My account \[(\w+)\]", act(api, sid, action="extract")["result"]["text"]).group(1)
    assert act(api, sid, action="click", ref=link)["step"]["url"].endswith("/account.html")
    assert act(api, sid, action="go_back")["step"]["url"].endswith("/login.html")
    # A click by coordinates: the "My account" link's own position.
    box = act(
        api,
        sid,
        action="evaluate",
        expression="(() => { const r = document.querySelector('a').getBoundingClientRect(); "
        "return [r.x + r.width / 2, r.y + r.height / 2]; })()",
    )["result"]["value"]
    assert act(api, sid, action="click", x=box[0], y=box[1])["step"]["url"].endswith("/account.html")
    thrown = act(api, sid, action="evaluate", expression="(() => { throw new Error('nope') })()")
    assert not thrown["ok"] and "nope" in thrown["error"]
    bad = api("POST", f"/v1/sessions/{sid}/actions", json={"action": "navigate"})
    assert bad.status_code == 422 and any("url" in d["loc"] for d in bad.json()["error"]["details"])

    # Task 2 depends on task 1's cookie (bob signed in since): it reads the account page.
    llm.reset(welcome_name)
    r = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Who is signed in?", "output_schema": NAME_SCHEMA})
    run2 = finished(api, r.json()["task_id"])
    assert run2["status"] == "succeeded" and run2["result"] == {"name": "bob"}, run2
    wait_for_status(api, run2["id"], {"succeeded"})
    poll(lambda: api("GET", f"/v1/runs/{run2['id']}").json()["evidence_status"] == "ready", "evidence", 30)

    seen = session_in(api, sid, {"ready"})
    actions = [s["action"] for s in seen["steps"]]
    assert actions[:2] == ["evaluate", "navigate"] and "click" in actions and "key_press" in actions
    assert all(s["screenshot_url"] for s in seen["steps"] if not s["error"])
    assert seen["tasks"] == [first["task_id"], run2["id"]]

    # Another org sees none of it.
    from shared.orgs import bootstrap_org

    _, other_key = bootstrap_org("e2e-other-org")
    import requests

    other = requests.get(stack.url + f"/v1/sessions/{sid}", headers={"Authorization": f"Bearer {other_key}"})
    assert other.status_code == 404
    other = requests.delete(stack.url + f"/v1/sessions/{sid}", headers={"Authorization": f"Bearer {other_key}"})
    assert other.status_code == 404

    listed = api("GET", "/v1/sessions?status=ready").json()
    assert [s["id"] for s in listed["data"]] == [sid]

    # Terminate: the sandbox is killed, usage recorded once, the slot freed.
    svc = get_services()
    sandbox_id = svc.sessions.get(api.org_id, sid)["sandbox_id"]
    closed = api("DELETE", f"/v1/sessions/{sid}")
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed" and body["close_reason"] == "terminated"
    assert body["usage"]["sandbox_seconds"] > 0
    assert sandbox_id not in {s.sandbox_id for s in svc.sandbox.list_running()}
    assert svc.sessions.active_count(api.org_id) == 0
    again = api("DELETE", f"/v1/sessions/{sid}")
    assert again.status_code == 409 and "closed" in again.json()["error"]["message"]
    # Billed once, after the close: one charge for the session's sandbox time, one per task (tokens
    # and the run fee only), nothing twice.
    billed = poll(
        lambda: (u := api("GET", f"/v1/sessions/{sid}").json()["usage"])["cost_status"] == "billed" and u,
        "session billed",
        30,
    )
    assert billed["sandbox_seconds"] == body["usage"]["sandbox_seconds"] and billed["cost_micros"] > 0
    for task in (first["task_id"], run2["id"]):
        poll(lambda t=task: api("GET", f"/v1/runs/{t}").json()["usage"]["cost_status"] == "billed", "task billed", 30)
    charges = api("GET", "/v1/balance/transactions?limit=100").json()["data"]
    charged = sorted(c["run_id"] for c in charges if c["kind"] == "run_charge")
    assert charged == sorted([sid, first["task_id"], run2["id"]])
    session_charge = next(c for c in charges if c["run_id"] == sid)
    assert -session_charge["amount_micros"] == billed["cost_micros"]
    stack.invoke(
        "BillingFunction", {"detail-type": "Session Closed", "detail": {"session_id": sid, "org_id": api.org_id}}
    )
    again = api("GET", "/v1/balance/transactions?limit=100").json()["data"]
    assert len(again) == len(charges)  # a redelivered event charges nothing more
    assert api("POST", f"/v1/sessions/{sid}/actions", json={"action": "screenshot"}).status_code == 409


def test_an_idle_session_expires_by_the_reaper_clock(stack, api, llm, shop) -> None:
    from shared.clock import FakeClock
    from shared.services import Services, get_services
    from shared.sessions.reaper import reap_sessions

    session = ready_session(api, start_url=shop + "/login.html", idle_timeout_s=60)
    live = get_services()
    alive = {s.sandbox_id: s for s in live.sandbox.list_running()}
    # A minute from now nothing has happened in it: the reaper, with its clock moved, closes it.
    early = Services(
        settings=live.settings,
        aws=live.aws,
        sandbox_provider=live.sandbox,
        clock=FakeClock(live.clock.now() + timedelta(seconds=30)),
    )
    assert session["id"] not in reap_sessions(early, alive).expired
    later = Services(
        settings=live.settings,
        aws=live.aws,
        sandbox_provider=live.sandbox,
        clock=FakeClock(live.clock.now() + timedelta(seconds=61)),
    )
    assert session["id"] in reap_sessions(later, alive).expired
    gone = api("GET", f"/v1/sessions/{session['id']}").json()
    assert gone["status"] == "expired" and gone["close_reason"] == "idle_timeout"
    sandbox_id = live.sessions.get(api.org_id, session["id"])["sandbox_id"]
    assert sandbox_id not in {s.sandbox_id for s in live.sandbox.list_running()}
    assert live.sessions.active_count(api.org_id) == 0


def test_a_sandbox_killed_under_a_busy_session_fails_it_and_its_task(stack, api, llm, shop) -> None:
    from shared.services import get_services

    session = ready_session(api, start_url=shop + "/login.html")
    stall = Stall(60)
    llm.reset(stall)
    r = api("POST", f"/v1/sessions/{session['id']}/tasks", json={"prompt": "Think for a long time"})
    task_id = r.json()["task_id"]
    wait_for_status(api, task_id, {"running"})
    poll(lambda: llm.chat_requests, "the agent asked the model", 30)
    svc = get_services()
    svc.sandbox.kill(svc.sessions.get(api.org_id, session["id"])["sandbox_id"])
    stall.released.set()
    stack.invoke("ReaperFunction", {})
    # The kill's SIGTERM lets the in-sandbox supervisor report the death before the reaper runs (then
    # the reaper's pass finds the session already failed); either way the session ends SANDBOX_DIED.
    failed = api("GET", f"/v1/sessions/{session['id']}").json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "SANDBOX_DIED"
    run = finished(api, task_id)
    assert run["status"] == "failed" and run["error"]["code"] == "AGENT_CRASHED"


def test_pause_resume_and_stop_a_running_task(stack, api, llm, shop) -> None:
    session = ready_session(api, start_url=shop + "/login.html")
    sid = session["id"]
    gate = Stall(60, then=ToolCall("wait", {"seconds": 0}))
    llm.reset(gate, ToolCall("done", {"result": {"name": "x"}, "confidence": 0.5, "summary": "done"}))
    task_id = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Wait, then finish"}).json()["task_id"]
    poll(lambda: llm.chat_requests, "the agent asked the model", 30)
    # Busy: direct actions wait for a pause.
    assert api("POST", f"/v1/sessions/{sid}/actions", json={"action": "screenshot"}).status_code == 409
    paused = api("POST", f"/v1/sessions/{sid}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    gate.released.set()  # the model answers; the agent must not act on it while paused
    poll(gate.answered.is_set, "the stalled answer went out", 10)
    asked = len(llm.chat_requests)
    # While paused, a direct action runs: the agent's main thread is inside the task, so only its
    # pause loop (between two steps) can answer it. That is the proof that the task is held ...
    shot = act(api, sid, action="evaluate", expression="1 + 1")
    assert shot["result"]["value"] == 2
    # ... and the task took no step: no new model call, the run's progress still at its start.
    assert len(llm.chat_requests) == asked
    assert api("POST", f"/v1/sessions/{sid}/pause").status_code == 409
    resumed = api("POST", f"/v1/sessions/{sid}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "busy"
    run = finished(api, task_id)
    assert run["status"] == "succeeded", run["error"]
    assert [s["action"] for s in run["steps"]] == ["wait", "done"]

    # Stop: the task ends cancelled, the session stays.
    slow = Stall(60, then=ToolCall("wait", {"seconds": 0}))
    llm.reset(slow)
    task_id = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Never finish"}).json()["task_id"]
    wait_for_status(api, task_id, {"running"})
    stopped = api("POST", f"/v1/sessions/{sid}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "ready"
    run = finished(api, task_id)
    assert run["status"] == "cancelled" and run["error"]["code"] == "CANCELLED"
    assert api("POST", f"/v1/sessions/{sid}/stop").status_code == 409
    # The agent leaves the task at its next step: once the model call in flight returns (at once
    # here), the browser serves the next action; the model's answer is not acted on.
    slow.released.set()
    assert act(api, sid, action="evaluate", expression="2 + 2")["result"]["value"] == 4
    api("DELETE", f"/v1/sessions/{sid}")


def test_a_run_task_session_closes_itself_after_its_initial_task(stack, api, llm, shop) -> None:
    from shared.services import get_services

    llm.reset(welcome_name)
    r = api(
        "POST",
        "/v1/sessions",
        json={
            "start_url": shop + "/account.html",
            "keep_alive": False,
            "initial_task": {"prompt": "Who is signed in?", "output_schema": NAME_SCHEMA},
        },
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    closed = session_in(api, sid, {"closed", "failed", "expired"})
    assert closed["status"] == "closed" and closed["close_reason"] == "task_done"
    run = finished(api, closed["tasks"][0])
    assert run["status"] == "succeeded" and run["result"] == {"name": "nobody"}
    svc = get_services()
    sandbox_id = svc.sessions.get(api.org_id, sid)["sandbox_id"]
    poll(lambda: api("GET", f"/v1/runs/{run['id']}").json()["evidence_status"] == "ready", "evidence", 30)
    poll(lambda: sandbox_id not in {s.sandbox_id for s in svc.sandbox.list_running()}, "sandbox killed", 10)
    assert svc.sessions.active_count(api.org_id) == 0


def test_a_killed_session_agent_fails_the_session_at_once_without_the_reaper(stack, api, llm, shop) -> None:
    import os
    import signal

    from shared.services import get_services

    session = ready_session(api, start_url=shop + "/login.html")
    svc = get_services()
    sandbox_id = svc.sessions.get(api.org_id, session["id"])["sandbox_id"]
    procs = svc.sandbox.processes(sandbox_id)
    (pid,) = [p for p, argv in procs.items() if argv[1:] == ["-m", "openhelm_agent"]]
    os.kill(pid, signal.SIGKILL)  # the supervisor reports the exit; nobody invokes the reaper
    failed = session_in(api, session["id"], {"failed", "closed", "expired"}, timeout=20)
    assert failed["status"] == "failed" and failed["error"]["code"] == "SANDBOX_DIED"
    assert "signal=9" in failed["error"]["message"]
    assert svc.sessions.active_count(api.org_id) == 0


def test_extract_with_a_schema_asks_the_model_once_and_bills_the_session(stack, api, llm, shop) -> None:
    from devstack.testing.fake_openai import Text

    session = ready_session(api, start_url=shop + "/login.html")
    sid = session["id"]
    assert act(api, sid, action="evaluate", expression="(document.cookie = 'user=carol', 1)")["ok"]
    act(api, sid, action="navigate", url=shop + "/account.html")
    llm.reset(
        Text('{"name": "carol"}', usage={"prompt_tokens": 700, "completion_tokens": 9}),
        Text('```json\n{"name": 42}\n```'),
        Text("I think it is carol"),
    )
    got = act(api, sid, action="extract", output_schema=NAME_SCHEMA, instruction="Who is signed in?")
    assert got["ok"] and got["result"]["data"] == {"name": "carol"}, got
    assert got["step"]["action"] == "extract" and got["step"]["screenshot_url"]
    (asked,) = llm.chat_requests
    prompt = asked.body["messages"][-1]["content"]
    # The model read the page's text and the schema, through the gateway on the session's model.
    assert "Welcome back, carol" in prompt and '"required": ["name"]' in prompt and "Who is signed in?" in prompt
    assert asked.body["model"] == "fake-model" and asked.body["response_format"] == {"type": "json_object"}
    assert "sk-upstream-test-key" in (asked.authorization or "")  # the provider key never entered the sandbox

    wrong = act(api, sid, action="extract", output_schema=NAME_SCHEMA)
    assert not wrong["ok"] and wrong["error_code"] == "extract_invalid"
    assert "$.name" in wrong["error"] and "42" in wrong["result"]["answer"]
    prose = act(api, sid, action="extract", output_schema=NAME_SCHEMA)
    assert not prose["ok"] and prose["error_code"] == "extract_invalid" and "not JSON" in prose["error"]
    assert len(llm.chat_requests) == 3  # once per action, never retried
    # Without a schema no model is asked.
    assert "Welcome back, carol" in act(api, sid, action="extract")["result"]["text"]
    assert len(llm.chat_requests) == 3
    bad = api("POST", f"/v1/sessions/{sid}/actions", json={"action": "extract", "output_schema": {"type": 5}})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"][0] == "output_schema"

    live = api("GET", f"/v1/sessions/{sid}").json()["usage"]
    assert live["input_tokens"] == 700 + 100 + 100 and live["output_tokens"] == 9 + 10 + 10
    closed = api("DELETE", f"/v1/sessions/{sid}").json()
    assert closed["usage"]["input_tokens"] == 900
    billed = poll(
        lambda: (u := api("GET", f"/v1/sessions/{sid}").json()["usage"])["cost_status"] == "billed" and u,
        "session billed",
        30,
    )
    from shared.billing.pricing import cost_of
    from shared.services import get_services

    svc = get_services()
    tokens_cost = cost_of(svc.settings.pricing, "fake-model", input_tokens=900, output_tokens=29, sandbox_ms=0)
    assert billed["cost_micros"] >= tokens_cost.input + tokens_cost.output > 0
    charges = api("GET", "/v1/balance/transactions?limit=100").json()["data"]
    assert [c["run_id"] for c in charges if c["kind"] == "run_charge"] == [sid]  # one record, tokens included


def test_a_session_agent_killed_mid_task_fails_the_task_with_the_supervisors_reason(stack, api, llm, shop) -> None:
    import os
    import signal

    from shared.services import get_services

    session = ready_session(api, start_url=shop + "/login.html")
    stall = Stall(60)
    llm.reset(stall)
    task_id = api("POST", f"/v1/sessions/{session['id']}/tasks", json={"prompt": "Think"}).json()["task_id"]
    poll(lambda: llm.chat_requests, "the agent asked the model", 30)
    svc = get_services()
    sandbox_id = svc.sessions.get(api.org_id, session["id"])["sandbox_id"]
    (pid,) = [p for p, argv in svc.sandbox.processes(sandbox_id).items() if argv[1:] == ["-m", "openhelm_agent"]]
    os.kill(pid, signal.SIGKILL)  # the supervisor reports it; nobody invokes the reaper
    try:
        failed = session_in(api, session["id"], {"failed", "closed", "expired"}, timeout=20)
        run = finished(api, task_id)
    finally:
        stall.released.set()
    assert failed["status"] == "failed" and failed["error"]["code"] == "SANDBOX_DIED"
    assert run["status"] == "failed" and run["error"]["code"] == "AGENT_CRASHED"
    assert "signal=9" in run["error"]["message"] and "reporter=supervisor" in run["error"]["message"]
    assert svc.sessions.active_count(api.org_id) == 0
    assert sandbox_id not in {s.sandbox_id for s in svc.sandbox.list_running()}


def test_stop_during_a_model_call_cancels_at_once_and_bills_the_task_once(stack, api, llm, shop) -> None:
    import time

    session = ready_session(api, start_url=shop + "/login.html")
    sid = session["id"]
    stall = Stall(60, then=ToolCall("navigate", {"url": shop + "/account.html"}))
    llm.reset(stall)
    task_id = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Think, then act"}).json()["task_id"]
    poll(lambda: llm.chat_requests, "the agent asked the model", 30)
    t0 = time.monotonic()
    stopped = api("POST", f"/v1/sessions/{sid}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "ready"
    assert time.monotonic() - t0 < 5  # the stop does not wait for the model
    run = api("GET", f"/v1/runs/{task_id}").json()
    assert run["status"] == "cancelled" and run["error"]["code"] == "CANCELLED"
    # The model answers late: the agent does not act on it and asks nothing more.
    stall.released.set()
    poll(stall.answered.is_set, "the stalled answer went out", 10)
    assert act(api, sid, action="evaluate", expression="location.pathname")["result"]["value"] == "/login.html"
    assert len(llm.chat_requests) == 1
    run = api("GET", f"/v1/runs/{task_id}").json()
    assert run["status"] == "cancelled" and not run["steps"]  # the late answer took no step
    # The session takes the next task in the same browser.
    llm.reset(ToolCall("done", {"result": {"name": "x"}, "confidence": 0.5, "summary": "ok"}))
    nxt = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Finish"}).json()["task_id"]
    assert finished(api, nxt)["status"] == "succeeded"
    api("DELETE", f"/v1/sessions/{sid}")
    for task in (task_id, nxt):
        poll(lambda t=task: api("GET", f"/v1/runs/{t}").json()["usage"]["cost_status"] == "billed", "billed", 30)
    charges = api("GET", "/v1/balance/transactions?limit=100").json()["data"]
    charged = [c["run_id"] for c in charges if c["kind"] == "run_charge"]
    assert charged.count(task_id) == 1 and charged.count(nxt) == 1
