"""Manual control of a session through the real API handler, against moto: take over (a running
task is paused), a person's actions (steps marked ``by: person``, typed text kept nowhere), release
(the task resumes with a note of what the person did), and the 409s / 404s of the state rules. The
sandbox is a recording double that answers commands as the agent would (the browser path runs for
real in tests/e2e/test_sessions_e2e.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from shared.clock import FakeClock
from shared.orgs import bootstrap_org
from shared.sandbox.base import SandboxFileNotFound
from shared.services import Services
from tests.support.apigw import call, http_event
from tests.support.sessions import RecordingProvider, api_services, create, ready

SECRET_TEXT = "hunter2-Zq9"


class AnsweringProvider(RecordingProvider):
    """Answers each command as the session's agent does; an action's step echoes its args as sent."""

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        if path.startswith("replies/"):
            command_id = path.removeprefix("replies/").removesuffix(".json")
            command = next((c for c in self.commands if c["id"] == command_id), None)
            if command is not None:
                return json.dumps(self._answer(command)).encode()
        raise SandboxFileNotFound(path)

    def _answer(self, command: dict[str, Any]) -> dict[str, Any]:
        if command["kind"] != "action":
            return {"ok": True}
        step = {
            "index": len([c for c in self.commands if c["kind"] == "action"]),
            "action": command["action"],
            "args": command["args"],
            "url": "https://example.com/next",
            "title": "Next",
            "started_at": "2026-01-01T00:00:00+00:00",
            "duration_ms": 5,
        }
        return {"ok": True, "result": {"message": "done"}, "step": step}


@pytest.fixture
def svc(moto_aws: None, clock: FakeClock) -> Iterator[Services]:
    with api_services(clock) as services:
        yield services


@pytest.fixture
def provider(svc: Services) -> AnsweringProvider:
    svc.sandbox_provider = AnsweringProvider()
    return svc.sandbox_provider


def _post(key: str, path: str, body: dict | None = None) -> Any:
    return call(http_event("POST", path, body=body, key=key))


def test_take_over_pauses_the_task_and_release_resumes_it_told_what_the_person_did(
    svc: Services, provider: AnsweringProvider, org_key
) -> None:
    from shared.orchestration.admit import admit
    from shared.orchestration.start_sandbox import start_sandbox

    org_id, key = org_key
    sid = create(key).json["id"]
    ready(svc, provider, sid)
    run_id = _post(key, f"/v1/sessions/{sid}/tasks", {"prompt": "Fill in the form"}).json["task_id"]
    admit(svc, run_id, org_id)
    start_sandbox(svc, run_id, org_id, "task-token-1")

    taken = _post(key, f"/v1/sessions/{sid}/control", {"action": "take_over"})
    assert taken.status == 200, taken.text
    assert taken.json["status"] == "manual" and taken.json["current_task"] == run_id and taken.json["manual_since"]
    assert any(c["kind"] == "pause" and c["run_id"] == run_id for c in provider.commands)
    again = _post(key, f"/v1/sessions/{sid}/control", {"action": "take_over"})
    assert again.status == 409 and again.json["error"]["details"] == {"status": "manual"}

    for body in (
        {"action": "click", "x": 120, "y": 40},
        {"action": "type", "text": SECRET_TEXT, "human_like": True},
        {"action": "key_press", "key": "Enter"},
        {"action": "double_click", "x": 5, "y": 6},
        {"action": "scroll", "dx": 0, "dy": 300},
    ):
        r = _post(key, f"/v1/sessions/{sid}/actions", body)
        assert r.status == 200 and r.json["ok"], r.text
        assert r.json["step"]["by"] == "person"
    typed = next(c for c in provider.commands if c.get("action") == "type")
    assert typed["by"] == "person" and typed["args"]["human_like"] is True
    # Not a person's action while taken over.
    assert (
        _post(key, f"/v1/sessions/{sid}/actions", {"action": "navigate", "url": "https://example.com/"}).status == 422
    )

    session = call(http_event("GET", f"/v1/sessions/{sid}", key=key)).json
    assert [s["by"] for s in session["steps"]] == ["person"] * 5
    type_step = next(s for s in session["steps"] if s["action"] == "type")
    assert type_step["args"] == {"human_like": True, "submit": False, "text_length": len(SECRET_TEXT)}
    assert SECRET_TEXT not in json.dumps(session)
    assert SECRET_TEXT not in json.dumps(svc.sessions.get(org_id, sid, consistent=True), default=str)

    released = _post(key, f"/v1/sessions/{sid}/control", {"action": "release"})
    assert released.status == 200 and released.json["status"] == "busy" and released.json["manual_since"] is None
    (resume,) = [c for c in provider.commands if c["kind"] == "resume"]
    assert resume["run_id"] == run_id
    assert resume["note"].startswith(
        "A person took control of the browser and did: click at (120,40); typed 11 characters; pressed Enter; "
        "double-click at (5,6); scrolled by (0,300). The page is now https://example.com/next."
    )
    assert SECRET_TEXT not in json.dumps(provider.commands[-1])
    assert _post(key, f"/v1/sessions/{sid}/control", {"action": "release"}).status == 409
    # Busy again: direct actions are refused as before.
    assert _post(key, f"/v1/sessions/{sid}/actions", {"action": "click", "x": 1, "y": 1}).status == 409


def test_an_idle_session_can_be_taken_over_and_a_closed_one_never_changes(
    svc: Services, provider: AnsweringProvider, org_key
) -> None:
    _, key = org_key
    sid = create(key).json["id"]
    assert _post(key, f"/v1/sessions/{sid}/control", {"action": "take_over"}).status == 409  # starting
    ready(svc, provider, sid)
    assert _post(key, f"/v1/sessions/{sid}/control", {"action": "release"}).status == 409  # not manual
    taken = _post(key, f"/v1/sessions/{sid}/control", {"action": "take_over", "note": "fixing the cookie banner"})
    assert taken.status == 200 and taken.json["status"] == "manual" and taken.json["current_task"] is None
    assert not any(c["kind"] == "pause" for c in provider.commands)
    task = _post(key, f"/v1/sessions/{sid}/tasks", {"prompt": "Read the page"})
    assert task.status == 409  # nobody else drives while a person has control

    _, other = bootstrap_org("globex", svc)
    assert _post(other, f"/v1/sessions/{sid}/control", {"action": "release"}).status == 404
    assert _post(other, f"/v1/sessions/{sid}/actions", {"action": "click", "x": 1, "y": 1}).status == 404

    released = _post(key, f"/v1/sessions/{sid}/control", {"action": "release"})
    assert released.status == 200 and released.json["status"] == "ready"
    assert not any(c["kind"] == "resume" for c in provider.commands)

    assert call(http_event("DELETE", f"/v1/sessions/{sid}", key=key)).status == 200
    for action in ("take_over", "release"):
        r = _post(key, f"/v1/sessions/{sid}/control", {"action": action})
        assert r.status == 409 and r.json["error"]["details"] == {"status": "closed"}
    assert _post(key, f"/v1/sessions/{sid}/control", {"action": "grab"}).status == 422
