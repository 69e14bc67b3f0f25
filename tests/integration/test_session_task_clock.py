"""A paused task's time budget does not run; the session's absolute deadline does. The clock is
injected: the reaper and the LLM gateway's deadline check are asked at moments chosen by the test.
The sandbox provider is a recording double that reports the session's sandbox alive and answers
control commands (the browser paths run for real in tests/e2e/test_sessions_e2e.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from shared.api import deps
from shared.clock import FakeClock
from shared.llm_gateway import RunDeadlineExceeded, call_timeout
from shared.orchestration.admit import admit
from shared.orchestration.start_sandbox import start_sandbox
from shared.reaper import reap
from shared.sandbox.base import SandboxInfo
from shared.services import Services
from tests.support.apigw import call, http_event
from tests.support.aws import make_services
from tests.support.sessions import RecordingProvider, create, ready


class LiveProvider(RecordingProvider):
    """Its sandboxes stay up and its agent acknowledges every command at once."""

    def list_running(self) -> list[SandboxInfo]:
        return [
            SandboxInfo(f"rec_{i}", r.run_id, self.name, datetime.now(), r.metadata)
            for i, r in enumerate(self.requests, 1)
            if f"rec_{i}" not in self.killed
        ]

    def read_reply(self, sandbox_id: str, command_id: str) -> dict[str, Any] | None:
        return {"id": command_id, "ok": True}


@pytest.fixture
def svc(moto_aws: None, clock: FakeClock) -> Iterator[Services]:
    services = make_services(clock=clock, OPENHELM_RUN_TOKEN_SECRET="x" * 40, OPENHELM_SANDBOX_GRACE_S="10")
    services.sandbox_provider = LiveProvider()
    deps.override(services)
    yield services
    deps.override(None)


def running_task(svc: Services, org_id: str, key: str, sid: str, max_duration_s: int) -> str:
    body = {"prompt": "Read the page", "max_duration_s": max_duration_s}
    r = call(http_event("POST", f"/v1/sessions/{sid}/tasks", body=body, key=key))
    assert r.status == 202, r.text
    run_id = r.json["task_id"]
    # The execution's wait for the task allows for pauses up to the session's end (600 s here at most).
    assert admit(svc, run_id, org_id)["task_timeout_s"] >= max_duration_s + svc.settings.sandbox_grace_s + 250
    start_sandbox(svc, run_id, org_id, "task-token-1")
    return run_id


def test_a_paused_task_keeps_its_time_budget_and_the_session_deadline_still_runs(
    svc: Services, clock: FakeClock, org_key
) -> None:
    org_id, key = org_key
    sid = create(key, {"start_url": "https://example.com/", "max_duration_s": 600, "idle_timeout_s": 900}).json["id"]
    ready(svc, svc.sandbox_provider, sid)
    run_id = running_task(svc, org_id, key, sid, max_duration_s=60)

    clock.advance(30)
    assert call(http_event("POST", f"/v1/sessions/{sid}/pause", key=key)).json["status"] == "paused"
    # Paused for four minutes, far past the task's 60 s: the reaper leaves it be and the gateway
    # would still give its next model call the 30 s the task had left.
    clock.advance(240)
    assert run_id not in reap(svc).timed_out
    assert call(http_event("GET", f"/v1/runs/{run_id}", key=key)).json["status"] == "running"
    left, _ = call_timeout(svc, svc.runs.get(org_id, run_id, consistent=True), None)
    assert left == pytest.approx(30, abs=1)

    assert call(http_event("POST", f"/v1/sessions/{sid}/resume", key=key)).json["status"] == "busy"
    clock.advance(20)  # 50 s of the task's own time used
    assert run_id not in reap(svc).timed_out
    left, _ = call_timeout(svc, svc.runs.get(org_id, run_id, consistent=True), None)
    assert left == pytest.approx(10, abs=1)
    # Past its 60 s (plus grace) of running time: the task's budget is spent, pauses not counted.
    clock.advance(25)
    with pytest.raises(RunDeadlineExceeded):
        call_timeout(svc, svc.runs.get(org_id, run_id, consistent=True), None)
    assert run_id in reap(svc).timed_out
    run = call(http_event("GET", f"/v1/runs/{run_id}", key=key)).json
    assert run["status"] == "failed" and run["error"]["code"] == "AGENT_TIMEOUT"


def test_the_sessions_absolute_deadline_ends_a_paused_session(svc: Services, clock: FakeClock, org_key) -> None:
    org_id, key = org_key
    sid = create(key, {"start_url": "https://example.com/", "max_duration_s": 300, "idle_timeout_s": 900}).json["id"]
    ready(svc, svc.sandbox_provider, sid)
    run_id = running_task(svc, org_id, key, sid, max_duration_s=120)
    call(http_event("POST", f"/v1/sessions/{sid}/pause", key=key))
    clock.advance(200)
    report = reap(svc)
    assert sid not in report.sessions.expired and run_id not in report.timed_out
    clock.advance(101)  # the session's 300 s are up, paused task or not
    assert sid in reap(svc).sessions.expired
    session = call(http_event("GET", f"/v1/sessions/{sid}", key=key)).json
    assert session["status"] == "expired" and session["close_reason"] == "max_duration"
    run = call(http_event("GET", f"/v1/runs/{run_id}", key=key)).json
    assert run["status"] in ("cancelled", "failed")
