"""Files, secrets and profiles of sessions through the API handler, against moto: a task's files
are placed into the running sandbox and its secrets travel in its command (then removed from the
mailbox), a session takes a profile at its creation and saves it back at a graceful close only.
The sandbox provider is a recording double (the browser paths run for real in
tests/e2e/test_session_files_secrets_e2e.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from shared.clock import FakeClock
from shared.orchestration.admit import admit
from shared.orchestration.start_sandbox import start_sandbox
from shared.sandbox.base import SandboxFile, SandboxFileNotFound
from shared.services import Services
from tests.integration.test_files_api import upload
from tests.support.apigw import call, http_event
from tests.support.sessions import RecordingProvider, api_services, create, ready

CANARY = "canary-Pw-7f3a91"
STATE = {
    "cookies": [
        {
            "name": "sid",
            "value": "abc",
            "domain": "shop.example.com",
            "path": "/",
            "expires": -1,
            "httpOnly": True,
            "secure": False,
            "sameSite": "Lax",
        }
    ],
    "origins": [],
}


class MailboxProvider(RecordingProvider):
    """Also takes files into a running sandbox, answers commands like an idle agent, and writes the
    context's storage_state when asked to save the profile."""

    def __init__(self) -> None:
        super().__init__()
        self.placed: dict[str, dict[str, bytes]] = {}
        self.removed: list[str] = []
        self.saved_state: bytes | None = json.dumps(STATE).encode()

    def put_files(self, sandbox_id: str, subdir: str, files: Sequence[SandboxFile]) -> str:
        self.placed[subdir] = {f.name: f.data for f in files}
        return f"/run/openhelm/mailbox/{subdir}"

    def remove_command(self, sandbox_id: str, command_id: str) -> None:
        self.removed.append(command_id)

    def read_reply(self, sandbox_id: str, command_id: str) -> dict[str, Any] | None:
        return {"id": command_id, "ok": True}

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        if path == "session/storage_state.json" and self.saved_state is not None:
            return self.saved_state
        raise SandboxFileNotFound(path)


@pytest.fixture
def svc(moto_aws: None, clock: FakeClock) -> Iterator[Services]:
    with api_services(clock) as services:
        yield services


@pytest.fixture
def provider(svc: Services) -> MailboxProvider:
    svc.sandbox_provider = MailboxProvider()
    return svc.sandbox_provider


def _task(key: str, sid: str, body: dict[str, Any]) -> Any:
    return call(http_event("POST", f"/v1/sessions/{sid}/tasks", body=body, key=key))


def test_a_task_gets_its_files_placed_and_its_secrets_only_in_its_command(
    svc: Services, provider: MailboxProvider, org_key: tuple[str, str]
) -> None:
    org_id, key = org_key
    file_id = upload(key, "cv.txt", b"my cv").json["id"]
    sid = create(key, {"start_url": "https://shop.example.com/", "allowed_domains": ["*.example.com"]}).json["id"]
    ready(svc, provider, sid)
    secrets = [{"match": "shop.example.com", "fields": {"password": CANARY}}]
    r = _task(key, sid, {"prompt": "Sign in and send the cv", "file_ids": [file_id], "secrets": secrets})
    assert r.status == 202, r.text
    run_id = r.json["task_id"]
    run = call(http_event("GET", f"/v1/runs/{run_id}", key=key)).json
    assert run["file_ids"] == [file_id] and run["secrets"] == [{"match": "shop.example.com", "fields": ["password"]}]

    admit(svc, run_id, org_id)
    start_sandbox(svc, run_id, org_id, "task-token-1")
    assert provider.placed == {f"files-{run_id}": {"cv.txt": b"my cv"}}
    (command,) = [c for c in provider.commands if c["kind"] == "task"]
    spec = command["spec"]
    assert spec["files"] == [
        {
            "name": "cv.txt",
            "path": f"/run/openhelm/mailbox/files-{run_id}/cv.txt",
            "size": 5,
            "content_type": "text/plain",
        }
    ]
    assert spec["secrets"] == [{"match": "shop.example.com", "fields": {"password": CANARY}}]
    # The agent has taken it: the command (the one copy of the value in the sandbox) is removed.
    assert provider.removed == [command["id"]]
    # Nowhere else: not the run's record, not the session's, not what the API shows.
    assert CANARY not in json.dumps(svc.runs.get(org_id, run_id).model_dump(mode="json"))
    assert CANARY not in json.dumps(svc.sessions.get(org_id, sid), default=str)
    assert CANARY not in call(http_event("GET", f"/v1/runs/{run_id}", key=key)).text


def test_task_refusals_name_what_a_session_cannot_take(
    svc: Services, provider: MailboxProvider, org_key: tuple[str, str]
) -> None:
    _, key = org_key
    sid = create(key, {"start_url": "https://shop.example.com/", "allowed_domains": ["*.example.com"]}).json["id"]
    ready(svc, provider, sid)
    outside = _task(key, sid, {"prompt": "Sign in", "secrets": [{"match": "evil.test", "fields": {"p": "x"}}]})
    assert outside.status == 422 and outside.json["error"]["code"] == "secret_domain_not_allowed"
    profile = _task(key, sid, {"prompt": "Sign in", "profile_id": "prof_x"})
    assert profile.status == 422 and "give profile_id (and persist_profile) when creating the session" in profile.text
    missing = _task(key, sid, {"prompt": "Send it", "file_ids": ["file_nope"]})
    assert missing.status == 422 and missing.json["error"]["code"] == "file_not_found"
    # A refused task leaves the session ready for the next one.
    assert call(http_event("GET", f"/v1/sessions/{sid}", key=key)).json["status"] == "ready"

    initial = {"prompt": "Sign in", "secrets": [{"match": "shop.example.com", "fields": {"p": "x"}}]}
    refused = create(key, {"start_url": "https://shop.example.com/", "initial_task": initial})
    assert refused.status == 422 and refused.json["error"]["code"] == "not_supported_in_session"


def _profile(key: str) -> str:
    return call(http_event("POST", "/v1/profiles", body={"name": "shop"}, key=key)).json["id"]


def test_a_session_starts_from_its_profile_and_saves_it_back_when_closed_by_request(
    svc: Services, provider: MailboxProvider, org_key: tuple[str, str]
) -> None:
    org_id, key = org_key
    pid = _profile(key)
    assert (
        call(http_event("POST", f"/v1/profiles/{pid}/upload", body={"cookies": [], "origins": []}, key=key)).status
        == 200
    )
    r = create(key, {"start_url": "https://shop.example.com/", "profile_id": pid, "persist_profile": True})
    assert r.status == 201, r.text
    sid = r.json["id"]
    assert r.json["profile_id"] == pid and r.json["persist_profile"] is True
    (request,) = provider.requests
    assert request.storage_state == {"cookies": [], "origins": []}
    # The session holds the write lease while live: a second writer is refused, readers are not.
    busy = create(key, {"profile_id": pid, "persist_profile": True})
    assert busy.status == 409 and busy.json["error"]["code"] == "profile_in_use"
    assert call(http_event("GET", f"/v1/profiles/{pid}", key=key)).json["locked_by_run"] == sid

    ready(svc, provider, sid)
    assert call(http_event("DELETE", f"/v1/sessions/{sid}", key=key)).status == 200
    assert any(c["kind"] == "save_profile" for c in provider.commands)
    got = call(http_event("GET", f"/v1/profiles/{pid}", key=key)).json
    assert got["locked_by_run"] is None and got["cookie_domains"] == ["shop.example.com"]
    assert "abc" not in json.dumps(svc.profiles.get(org_id, pid), default=str)  # the table never holds it

    # Reused by the next session (the saved cookie is loaded into its browser).
    create(key, {"profile_id": pid})
    assert provider.requests[-1].storage_state["cookies"][0]["value"] == "abc"


def test_a_failed_session_only_releases_its_profile(
    svc: Services, provider: MailboxProvider, org_key: tuple[str, str]
) -> None:
    from shared.sessions.service import sandbox_died

    org_id, key = org_key
    pid = _profile(key)
    sid = create(key, {"profile_id": pid, "persist_profile": True}).json["id"]
    ready(svc, provider, sid)
    assert sandbox_died(svc, org_id, sid)
    got = call(http_event("GET", f"/v1/profiles/{pid}", key=key)).json
    assert got["locked_by_run"] is None and got["size"] == 0
    assert not any(c["kind"] == "save_profile" for c in provider.commands)

    nope = create(key, {"persist_profile": True})
    assert nope.status == 422 and nope.json["error"]["code"] == "profile_not_found"
    other = create(key, {"profile_id": "prof_missing"})
    assert other.status == 422 and other.json["error"]["code"] == "profile_not_found"
