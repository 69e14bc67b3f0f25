"""The sessions API through the real API handler, against moto: limits, slots, refusals and the
agent's ready report. The sandbox provider is a recording double (the browser paths run for real in
tests/e2e/test_sessions_e2e.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from shared import tokens
from shared.clock import FakeClock
from shared.models.orgs import OrgLimits
from shared.orgs import bootstrap_org
from shared.services import Services
from tests.support.apigw import call, http_event
from tests.support.sessions import RecordingProvider, api_services, create, ready


@pytest.fixture
def svc(moto_aws: None, clock: FakeClock) -> Iterator[Services]:
    with api_services(clock) as services:
        yield services


@pytest.fixture
def provider(svc: Services) -> RecordingProvider:
    svc.sandbox_provider = RecordingProvider()
    return svc.sandbox_provider


def test_create_answers_201_and_starts_a_serve_mode_sandbox(svc: Services, provider, org_key) -> None:
    org_id, key = org_key
    r = create(key, {"start_url": "https://example.com/", "idle_timeout_s": 60, "max_duration_s": 600})
    assert r.status == 201, r.text
    body = r.json
    assert body["id"].startswith("ses_") and body["status"] == "starting"
    assert r.headers["location"] == f"/v1/sessions/{body['id']}"
    created = datetime.fromisoformat(body["created_at"])
    assert (datetime.fromisoformat(body["expires_at"]) - created).total_seconds() == 600
    (request,) = provider.requests
    assert request.mailbox and request.run_spec["mode"] == "session" and request.run_id == body["id"]
    assert request.metadata == {"session_id": body["id"], "org_id": org_id}
    # The sandbox's token is the session's: good for its ready report, not for any run.
    assert tokens.verify(svc.settings.token_secret(), request.run_token, 0, body["id"]).org_id == org_id

    assert ready(svc, provider, body["id"]).status == 204
    got = call(http_event("GET", f"/v1/sessions/{body['id']}", key=key)).json
    assert got["status"] == "ready" and got["current_title"] == "Example" and got["idle_expires_at"]
    assert ready(svc, provider, body["id"]).status == 409  # once


def test_limits_bound_max_duration_and_bad_input_changes_nothing(svc: Services, provider, org_key) -> None:
    org_id, key = org_key
    r = create(key, {"max_duration_s": 7200})
    assert r.status == 422 and r.json["error"]["code"] == "limit_exceeded"
    assert r.json["error"]["details"][0]["loc"] == ["max_duration_s"]
    assert create(key, {"idle_timeout_s": 5}).status == 422
    refused = create(key, {"initial_task": {"prompt": "x" * 10, "allowed_domains": ["a.com"]}})
    assert refused.status == 422  # the session's own policy applies to its tasks
    assert create(key, {"keep_alive": 0}).status == 422  # a boolean, not a number
    assert create(key, {"persist_profile": 0}).status == 422  # so is this one (schemathesis found it)
    assert provider.requests == [] and svc.sessions.active_count(org_id) == 0
    assert call(http_event("GET", "/v1/sessions", key=key)).json["data"] == []


def test_live_sessions_take_slots_and_a_close_frees_one_at_once(svc: Services, provider) -> None:
    org_id, key = bootstrap_org("slots", svc, limits=OrgLimits(max_concurrent_sessions=2))
    first, second = create(key).json, create(key).json
    third = create(key)
    assert third.status == 429 and third.json["error"]["code"] == "session_limit"
    closed = call(http_event("DELETE", f"/v1/sessions/{first['id']}", key=key))
    assert closed.status == 200 and closed.json["status"] == "closed" and closed.json["close_reason"] == "terminated"
    assert provider.killed == ["rec_1"]
    assert svc.sessions.active_count(org_id) == 1
    assert create(key).status == 201
    again = call(http_event("DELETE", f"/v1/sessions/{first['id']}", key=key))
    assert again.status == 409 and "closed" in again.json["error"]["message"]
    listed = call(http_event("GET", "/v1/sessions", key=key, query={"status": "starting", "limit": "1"})).json
    assert len(listed["data"]) == 1 and listed["next_cursor"]
    query = {"status": "starting", "limit": "5", "cursor": listed["next_cursor"]}
    rest = call(http_event("GET", "/v1/sessions", key=key, query=query))
    paged = [s["id"] for s in listed["data"] + rest.json["data"]]
    assert len(paged) == 2 and len(set(paged)) == 2 and second["id"] in paged  # first is closed: filtered out


def test_no_sandbox_is_503_and_the_failed_session_costs_nothing(svc: Services, provider, org_key) -> None:
    org_id, key = org_key
    provider.fail = True
    r = create(key)
    assert r.status == 503 and r.json["error"]["code"] == "no_capacity"
    (failed,) = call(http_event("GET", "/v1/sessions", key=key)).json["data"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "SANDBOX_START_FAILED"
    assert failed["usage"]["cost_micros"] == 0 and failed["usage"]["waived_reason"]
    assert svc.sessions.active_count(org_id) == 0


def test_a_balance_that_cannot_pay_the_longest_life_is_402(svc: Services, provider) -> None:
    _, key = bootstrap_org("poor", svc, start_balance_micros=1)
    r = create(key, {"max_duration_s": 3000})
    assert r.status == 402 and r.json["error"]["code"] == "insufficient_balance"
    assert provider.requests == []


def test_wrong_states_are_409_naming_the_state_and_other_orgs_get_404(svc: Services, provider, org_key) -> None:
    _, key = org_key
    sid = create(key).json["id"]
    action = call(http_event("POST", f"/v1/sessions/{sid}/actions", body={"action": "screenshot"}, key=key))
    assert action.status == 409 and "starting" in action.json["error"]["message"]
    assert action.json["error"]["details"] == {"status": "starting"}
    task = call(http_event("POST", f"/v1/sessions/{sid}/tasks", body={"prompt": "Read the page"}, key=key))
    assert task.status == 409 and "starting" in task.json["error"]["message"]
    assert call(http_event("POST", f"/v1/sessions/{sid}/pause", key=key)).status == 409
    assert call(http_event("POST", f"/v1/sessions/{sid}/stop", key=key)).status == 409
    bad = call(http_event("POST", f"/v1/sessions/{sid}/actions", body={"action": "click", "x": -1}, key=key))
    assert bad.status == 422 and any("x" in d["loc"] for d in bad.json["error"]["details"])

    _, other = bootstrap_org("globex", svc)
    for method, path, body in (
        ("GET", f"/v1/sessions/{sid}", None),
        ("DELETE", f"/v1/sessions/{sid}", None),
        ("POST", f"/v1/sessions/{sid}/actions", {"action": "screenshot"}),
        ("POST", f"/v1/sessions/{sid}/tasks", {"prompt": "Read the page"}),
        ("POST", f"/v1/sessions/{sid}/pause", None),
    ):
        r = call(http_event(method, path, body=body, key=other))
        assert r.status == 404 and r.json["error"]["code"] == "session_not_found", (method, path)
    assert call(http_event("GET", "/v1/sessions/not-an-id", key=key)).status == 404


def test_a_task_claims_a_ready_session_and_goes_to_its_mailbox(svc: Services, provider, org_key) -> None:
    from shared.orchestration.admit import admit
    from shared.orchestration.start_sandbox import start_sandbox

    org_id, key = org_key
    sid = create(key).json["id"]
    ready(svc, provider, sid)
    r = call(http_event("POST", f"/v1/sessions/{sid}/tasks", body={"prompt": "Read the page title"}, key=key))
    assert r.status == 202, r.text
    run_id = r.json["task_id"]
    assert r.json["session_id"] == sid and r.headers["location"] == f"/v1/runs/{run_id}"
    busy = call(http_event("GET", f"/v1/sessions/{sid}", key=key)).json
    assert busy["status"] == "busy" and busy["current_task"] == run_id and busy["tasks"] == [run_id]
    second = call(http_event("POST", f"/v1/sessions/{sid}/tasks", body={"prompt": "Another one"}, key=key))
    assert second.status == 409 and "busy" in second.json["error"]["message"]

    # The state machine's steps, driven by hand: StartSandbox pushes the task, it starts no sandbox.
    admit(svc, run_id, org_id)
    started = start_sandbox(svc, run_id, org_id, "task-token-1")
    assert started == {"sandbox_id": "rec_1"} and len(provider.requests) == 1
    (command,) = [c for c in provider.commands if c["kind"] == "task"]
    assert command["run_id"] == run_id and command["spec"]["run_id"] == run_id
    assert tokens.verify(svc.settings.token_secret(), command["token"], 0, run_id).org_id == org_id
    run = call(http_event("GET", f"/v1/runs/{run_id}", key=key)).json
    assert run["status"] == "running" and run["session_id"] == sid

    # Stop: the run is cancelled, the session is ready again and the agent was told.
    stopped = call(http_event("POST", f"/v1/sessions/{sid}/stop", key=key))
    assert stopped.status == 200 and stopped.json["status"] == "ready" and stopped.json["current_task"] is None
    assert any(c["kind"] == "stop" and c["run_id"] == run_id for c in provider.commands)
    run = call(http_event("GET", f"/v1/runs/{run_id}", key=key)).json
    assert run["status"] == "cancelled" and run["error"]["code"] == "CANCELLED"
