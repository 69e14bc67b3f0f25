"""The SDK's sessions, files, profiles, keys and webhooks at the wire (httpx's MockTransport answers
as the API would): the requests each call sends, the typed answers, and enums a newer server grew.
The same calls through the real API are in tests/e2e/test_sdk_resources_e2e.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from openhelm_sdk import AsyncClient, RunStatus
from openhelm_sdk.errors import ConflictError
from openhelm_sdk.models import NavigateAction, SessionStatus

from tests.sdk.test_sdk_transport import RUN, Wire, envelope

SESSION = {
    "id": "ses_1",
    "status": "starting",
    "project_id": "prj_1",
    "idle_timeout_s": 300,
    "max_duration_s": 3600,
    "created_at": "2026-12-02T03:00:00Z",
    "expires_at": "2026-12-02T04:00:00Z",
}
FILE = {
    "id": "file_1",
    "name": "orders.csv",
    "size": 9,
    "content_type": "text/csv",
    "status": "ready",
    "created_at": "2026-12-02T03:00:00Z",
}


def sent(request: httpx.Request) -> tuple[str, str, Any]:
    body = json.loads(request.content) if request.content and b"{" in request.content[:1] else None
    return request.method, request.url.path, body


def test_a_session_is_created_waited_for_worked_in_and_closed() -> None:
    ready = {**SESSION, "status": "ready", "current_url": "https://example.com/"}
    wire = Wire(
        (201, SESSION, {}),
        (200, SESSION, {}),
        (200, ready, {}),
        (200, {"session_id": "ses_1", "action": "navigate", "ok": True, "result": None}, {}),
        (202, {"task_id": "run_1", "session_id": "ses_1", "poll_url": "x", "status": "queued"}, {}),
        (200, {**RUN, "status": "succeeded", "result": {"n": 1}, "session_id": "ses_1"}, {}),
        (200, {**ready, "status": "closed", "close_reason": "terminated"}, {}),
    )
    client = wire.client()
    session = client.sessions.create(start_url="https://example.com/", idle_timeout_s=300, wait_ready=True)
    assert session.status == SessionStatus.READY and session.current_url == "https://example.com/"
    did = client.sessions.action("ses_1", NavigateAction(action="navigate", url="https://example.com/a"))
    assert did.ok is True
    run = client.sessions.task("ses_1", "Count the links", output_schema={"type": "object"}, wait=True)
    assert run.status == RunStatus.SUCCEEDED and run.result == {"n": 1}
    closed = client.sessions.close("ses_1")
    assert closed.status == SessionStatus.CLOSED
    assert [sent(r)[:2] for r in wire.requests] == [
        ("POST", "/v1/sessions"),
        ("GET", "/v1/sessions/ses_1"),
        ("GET", "/v1/sessions/ses_1"),
        ("POST", "/v1/sessions/ses_1/actions"),
        ("POST", "/v1/sessions/ses_1/tasks"),
        ("GET", "/v1/runs/run_1"),
        ("DELETE", "/v1/sessions/ses_1"),
    ]
    assert sent(wire.requests[0])[2] == {"start_url": "https://example.com/", "idle_timeout_s": 300}
    assert sent(wire.requests[3])[2] == {"action": "navigate", "url": "https://example.com/a"}
    task = wire.requests[4]
    assert sent(task)[2] == {"prompt": "Count the links", "output_schema": {"type": "object"}}
    assert task.headers["idempotency-key"].startswith("sdk-")  # a task is a run: never two on a retry
    assert wire.slept == [0.75]  # one poll while it was starting


def test_actions_by_name_pause_resume_stop_and_the_api_s_409() -> None:
    busy = {**SESSION, "status": "busy", "current_task": "run_1"}
    wire = Wire(
        (200, {"session_id": "ses_1", "action": "evaluate", "ok": True, "result": {"value": 3}}, {}),
        (200, {**busy, "status": "paused"}, {}),
        (200, busy, {}),
        (200, {**SESSION, "status": "ready"}, {}),
        (409, envelope("session_state", 409), {}),
    )
    client = wire.client()
    assert client.sessions.action("ses_1", "evaluate", expression="1 + 2").result == {"value": 3}
    assert client.sessions.pause("ses_1").status == SessionStatus.PAUSED
    assert client.sessions.resume("ses_1").status == SessionStatus.BUSY
    assert client.sessions.stop("ses_1").status == SessionStatus.READY
    with pytest.raises(ConflictError):
        client.sessions.stop("ses_1")
    assert [r.url.path for r in wire.requests] == [
        "/v1/sessions/ses_1/actions",
        "/v1/sessions/ses_1/pause",
        "/v1/sessions/ses_1/resume",
        "/v1/sessions/ses_1/stop",
        "/v1/sessions/ses_1/stop",
    ]
    assert sent(wire.requests[0])[2] == {"action": "evaluate", "expression": "1 + 2"}


def test_a_small_file_goes_as_one_multipart_part(tmp_path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"id,total\n")
    wire = Wire((201, FILE, {}), (200, {"object": "list", "data": [FILE], "next_cursor": None}, {}), (204, None, {}))
    client = wire.client()
    uploaded = client.files.upload(path)
    assert uploaded.id == "file_1" and uploaded.status == "ready"
    assert [f.id for f in client.files.list()] == ["file_1"]
    client.files.delete("file_1")
    post = wire.requests[0]
    assert post.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="orders.csv"' in post.content and b"id,total\n" in post.content
    assert b"Content-Type: text/csv" in post.content
    assert [sent(r)[:2] for r in wire.requests[1:]] == [("GET", "/v1/files"), ("DELETE", "/v1/files/file_1")]


def test_a_large_file_goes_by_the_presigned_post_without_the_api_key() -> None:
    data = b"x" * (4 * 1024 * 1024 + 1)
    upload = {
        "file": {**FILE, "name": "big.bin", "size": len(data), "status": "pending"},
        "url": "http://storage/bucket",
        "fields": {"key": "files/org/file_1", "policy": "p"},
        "expires_at": "2026-12-02T03:15:00Z",
    }
    wire = Wire((200, upload, {}), (204, None, {}), (200, {**FILE, "name": "big.bin", "size": len(data)}, {}))
    got = wire.client().files.upload(data, name="big.bin")
    assert got.status == "ready" and got.size == len(data)
    create, to_storage, read = wire.requests
    assert sent(create)[2] == {"name": "big.bin", "size": len(data), "content_type": "application/octet-stream"}
    assert to_storage.url == "http://storage/bucket" and "authorization" not in to_storage.headers
    assert b'name="policy"' in to_storage.content and to_storage.content.rstrip().endswith(b"--")
    assert read.url.path == "/v1/files/file_1"


def test_profiles_keys_and_webhooks_send_what_the_api_takes() -> None:
    profile = {"id": "prof_1", "name": "shop", "created_at": "2026-12-02T03:00:00Z"}
    key = {
        "id": "key_2",
        "name": "ci",
        "prefix": "oh_test_ab",
        "scopes": ["read"],
        "created_at": "2026-12-02T03:00:00Z",
        "key": "oh_test_secret",
    }
    hook = {"id": "wh_1", "url": "https://hooks.example.com/", "event_types": ["run.succeeded"], "created_at": "x"}
    hook["created_at"] = "2026-12-02T03:00:00Z"
    wire = Wire(
        (201, profile, {}),
        (200, {**profile, "cookie_domains": ["example.com"]}, {}),
        (200, {"url": "https://s3/state.json", "expires_at": "2026-12-02T03:15:00Z"}, {}),
        (201, key, {}),
        (200, {"object": "list", "data": [{k: v for k, v in key.items() if k != "key"}]}, {}),
        (204, None, {}),
        (201, hook, {}),
        (200, {"object": "list", "data": [hook], "next_cursor": None}, {}),
        (200, {"secret": "whsec_new", "previous_expires_at": "2026-12-03T03:00:00Z"}, {}),
    )
    client = wire.client()
    assert client.profiles.create(name="shop").id == "prof_1"
    state = {"cookies": [{"name": "sid", "value": "1", "domain": "example.com", "path": "/"}], "origins": []}
    assert client.profiles.upload("prof_1", state).cookie_domains == ["example.com"]
    assert client.profiles.download("prof_1").url == "https://s3/state.json"
    created = client.keys.create(name="ci", scopes=["read"])
    assert created.key == "oh_test_secret"
    assert [k.id for k in client.keys.list()] == ["key_2"]
    client.keys.revoke("key_2")
    assert client.webhooks.create(url="https://hooks.example.com/", event_types=["run.succeeded"]).id == "wh_1"
    assert [w.id for w in client.webhooks.list()] == ["wh_1"]
    assert client.webhooks.rotate_secret().secret == "whsec_new"
    assert [sent(r) for r in wire.requests] == [
        ("POST", "/v1/profiles", {"name": "shop"}),
        ("POST", "/v1/profiles/prof_1/upload", state),
        ("GET", "/v1/profiles/prof_1/download", None),
        ("POST", "/v1/keys", {"name": "ci", "scopes": ["read"]}),
        ("GET", "/v1/keys", None),
        ("DELETE", "/v1/keys/key_2", None),
        ("POST", "/v1/webhooks", {"url": "https://hooks.example.com/", "event_types": ["run.succeeded"]}),
        ("GET", "/v1/webhooks", None),
        ("POST", "/v1/webhooks/secret/rotate", None),
    ]


def test_a_status_from_a_newer_server_parses_and_is_not_terminal() -> None:
    wire = Wire(
        (200, {**RUN, "status": "awaiting_approval"}, {}),
        (200, {**SESSION, "status": "hibernating"}, {}),
    )
    client = wire.client()
    run = client.runs.get("run_1")
    assert run.status == "awaiting_approval" and run.status.value == "awaiting_approval"
    assert run.status not in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
    assert run.model_dump(mode="json")["status"] == "awaiting_approval"
    assert client.sessions.get("ses_1").status == "hibernating"
    assert RunStatus("succeeded") is RunStatus.SUCCEEDED  # known values stay the members they were


def test_the_async_client_has_the_same_resources() -> None:
    ready = {**SESSION, "status": "ready"}
    wire = Wire(
        (201, ready, {}),
        (202, {"task_id": "run_1", "session_id": "ses_1", "poll_url": "x", "status": "queued"}, {}),
        (200, RUN, {}),
        (201, FILE, {}),
        (200, {"object": "list", "data": [ready], "next_cursor": None}, {}),
        (200, {**ready, "status": "closed"}, {}),
    )

    async def go() -> list[Any]:
        transport = httpx.MockTransport(wire)
        async with AsyncClient("oh_test_key", "http://api", http_client=httpx.AsyncClient(transport=transport)) as c:
            session = await c.sessions.create(wait_ready=True)
            run = await c.sessions.task(session.id, "Count the links")
            file = await c.files.upload(b"id,total\n", name="orders.csv")
            listed = [s.id async for s in c.sessions.list(status="ready")]
            closed = await c.sessions.close(session.id)
            return [session.status, run.status, file.id, listed, closed.status]

    assert asyncio.run(go()) == [SessionStatus.READY, RunStatus.QUEUED, "file_1", ["ses_1"], SessionStatus.CLOSED]
    assert wire.requests[4].url.params["status"] == "ready"
    assert wire.requests[1].headers["idempotency-key"].startswith("sdk-")


def test_a_download_reads_the_presigned_url_without_the_key_and_a_pending_file_is_a_conflict() -> None:
    ready = {**FILE, "download_url": "http://storage/f?sig=1"}

    def storage(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers and request.url == "http://storage/f?sig=1"
        return httpx.Response(200, content=b"id,total\n")

    wire = Wire((200, ready, {}), storage, (200, {**FILE, "status": "pending"}, {}), (200, ready, {}), storage)
    client = wire.client()
    assert client.files.download("file_1") == b"id,total\n"
    with pytest.raises(ConflictError) as caught:
        client.files.download("file_1")
    assert caught.value.code == "file_not_ready"

    async def go() -> bytes:
        transport = httpx.MockTransport(wire)
        async with AsyncClient("oh_test_key", "http://api", http_client=httpx.AsyncClient(transport=transport)) as c:
            return await c.files.download("file_1")

    assert asyncio.run(go()) == b"id,total\n"
    assert [r.url.host for r in wire.requests] == ["api", "storage", "api", "api", "storage"]
