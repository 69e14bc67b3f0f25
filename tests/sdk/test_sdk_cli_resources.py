"""``openhelm sessions | files | profiles`` at the wire (httpx's MockTransport answers as the API
would): what each command sends, what it prints (a person's view, and --json for scripts) and its
exit code. The same commands through the real API and a real terminal: tests/e2e/test_sdk_cli_e2e.py."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
from openhelm_sdk.cli import main as cli

from tests.sdk.test_sdk_resources import FILE, SESSION, sent
from tests.sdk.test_sdk_transport import RUN, Wire, envelope

READY = {**SESSION, "status": "ready", "current_url": "https://example.com/", "current_title": "Example"}
PROFILE = {
    "id": "prof_1",
    "name": "shop login",
    "size": 812,
    "cookie_domains": ["shop.example"],
    "created_at": "2026-12-02T03:00:00Z",
}


def page(*items: dict) -> dict:
    return {"object": "list", "data": list(items), "next_cursor": None}


def run(wire: Wire, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli(list(argv), stdout=out, stderr=err, client_factory=lambda **_: wire.client())
    return code, out.getvalue(), err.getvalue()


def test_sessions_create_waits_until_ready_and_prints_its_id_then_a_hint() -> None:
    wire = Wire((201, SESSION, {}), (200, SESSION, {}), (200, READY, {}))
    code, out, err = run(
        wire, "sessions", "create", "--start-url", "https://example.com/", "--metadata", "team=growth", "--wait-ready"
    )
    assert code == 0 and out == "ses_1\n"
    assert "ready · https://example.com/" in err and "openhelm sessions task ses_1" in err
    assert sent(wire.requests[0]) == (
        "POST",
        "/v1/sessions",
        {"start_url": "https://example.com/", "metadata": {"team": "growth"}},
    )


def test_a_session_that_fails_to_start_exits_1_and_one_still_starting_4() -> None:
    failed = {**SESSION, "status": "failed", "error": {"code": "SANDBOX_START_FAILED", "message": "no browser"}}
    code, out, err = run(Wire((201, SESSION, {}), (200, failed, {})), "sessions", "create", "--wait-ready")
    assert code == 1 and out == "ses_1\n" and "failed: SANDBOX_START_FAILED: no browser" in err

    clock = iter(range(0, 1000, 30))
    wire = Wire((201, SESSION, {}), *[(200, SESSION, {})] * 5)
    out_s, err_s = io.StringIO(), io.StringIO()
    code = cli(
        ["sessions", "create", "--wait-ready", "--timeout", "60"],
        stdout=out_s,
        stderr=err_s,
        client_factory=lambda **_: wire.client(clock=lambda: float(next(clock))),
    )
    assert code == 4 and "still starting" in err_s.getvalue() and "openhelm sessions get ses_1" in err_s.getvalue()


def test_sessions_list_and_get_show_status_page_and_tasks() -> None:
    busy = {**READY, "status": "busy", "current_task": "run_2", "tasks": ["run_1", "run_2"]}
    wire = Wire((200, page(busy, {**SESSION, "id": "ses_0", "status": "closed"}), {}), (200, busy, {}))
    code, out, _ = run(wire, "sessions", "list", "--status", "busy")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()] == [["ses_1", "busy"], ["ses_0", "closed"]]
    assert "https://example.com/" in out.splitlines()[0]
    assert wire.requests[0].url.params["status"] == "busy"
    code, out, _ = run(wire, "sessions", "get", "ses_1")
    assert code == 0 and "task       run_2" in out and "tasks      run_1, run_2" in out and "title      Example" in out


def test_sessions_task_wait_follows_the_run_and_prints_its_result_with_the_run_exit_codes(tmp_path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text('{"type": "object"}')
    accepted = (202, {"task_id": "run_1", "session_id": "ses_1", "poll_url": "x", "status": "queued"}, {})
    running = {**RUN, "status": "running", "progress": {"step": 1, "last_action": "click"}, "session_id": "ses_1"}
    done = {**RUN, "status": "succeeded", "result": {"n": 3}, "session_id": "ses_1"}
    queued = {**RUN, "session_id": "ses_1"}
    wire = Wire(accepted, (200, queued, {}), (200, running, {}), (200, done, {}))
    code, out, err = run(
        wire, "sessions", "task", "ses_1", "Count the links", "--schema", str(schema), "--input", "who=me", "--wait"
    )
    assert code == 0 and json.loads(out) == {"n": 3}
    assert "task run_1 in session ses_1" in err and "running · step 1/50 · click" in err and "succeeded" in err
    method, path, body = sent(wire.requests[0])
    assert (method, path) == ("POST", "/v1/sessions/ses_1/tasks")
    assert body == {"prompt": "Count the links", "output_schema": {"type": "object"}, "inputs": {"who": "me"}}
    assert wire.requests[0].headers["idempotency-key"].startswith("sdk-")

    failed = {**RUN, "status": "failed", "error": {"code": "AGENT_MAX_STEPS", "message": "too many"}}
    code, out, _ = run(
        Wire(accepted, (200, failed, {}), (200, failed, {})), "sessions", "task", "ses_1", "Do it", "--wait", "--json"
    )
    assert code == 1 and json.loads(out)["error"]["code"] == "AGENT_MAX_STEPS"

    code, out, err = run(Wire(accepted, (200, {**RUN, "session_id": "ses_1"}, {})), "sessions", "task", "ses_1", "Go")
    assert code == 0 and out == "run_1\n" and "openhelm runs watch run_1" in err


def test_a_busy_session_refuses_a_task_with_exit_5_and_the_error_as_json() -> None:
    wire = Wire((409, envelope("session_busy", 409), {}))
    code, out, err = run(wire, "sessions", "task", "ses_1", "Do it", "--json")
    assert code == 5 and "409 session_busy" in err
    assert json.loads(out)["error"]["code"] == "session_busy"


def test_sessions_action_sends_its_flags_and_a_failed_action_exits_1() -> None:
    ok = {"session_id": "ses_1", "action": "evaluate", "ok": True, "result": {"value": 3}}
    nav = {
        "session_id": "ses_1",
        "action": "navigate",
        "ok": True,
        "step": {"index": 1, "action": "navigate", "url": "https://example.com/a"},
    }
    bad = {"session_id": "ses_1", "action": "click", "ok": False, "error": "no element e9"}
    wire = Wire((200, ok, {}), (200, nav, {}), (200, bad, {}))
    code, out, err = run(wire, "sessions", "action", "ses_1", "evaluate", "--expression", "1 + 2")
    assert code == 0 and json.loads(out) == {"value": 3} and err == "ok\n"
    code, out, err = run(wire, "sessions", "action", "ses_1", "navigate", "--url", "https://example.com/a")
    assert code == 0 and out == "" and err == "ok · https://example.com/a\n"
    code, _, err = run(wire, "sessions", "action", "ses_1", "click", "--ref", "e9")
    assert code == 1 and "click failed: no element e9" in err
    assert [sent(r)[2] for r in wire.requests] == [
        {"action": "evaluate", "expression": "1 + 2"},
        {"action": "navigate", "url": "https://example.com/a"},
        {"action": "click", "ref": "e9"},
    ]
    assert run(Wire(), "sessions", "action", "ses_1", "fly")[0] == 2  # not an action: usage


def test_sessions_pause_stop_and_close_print_the_new_status() -> None:
    closed = {**READY, "status": "closed", "close_reason": "terminated", "closed_at": "2026-12-02T03:10:00Z"}
    wire = Wire((200, {**READY, "status": "paused"}, {}), (200, READY, {}), (200, closed, {}))
    assert run(wire, "sessions", "pause", "ses_1")[1] == "ses_1 paused\n"
    assert run(wire, "sessions", "stop", "ses_1")[1] == "ses_1 ready\n"
    code, out, _ = run(wire, "sessions", "close", "ses_1", "--json")
    assert code == 0 and json.loads(out)["close_reason"] == "terminated"
    assert [sent(r)[:2] for r in wire.requests] == [
        ("POST", "/v1/sessions/ses_1/pause"),
        ("POST", "/v1/sessions/ses_1/stop"),
        ("DELETE", "/v1/sessions/ses_1"),
    ]


def test_files_upload_list_get_and_delete(tmp_path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"id,total\n")
    wire = Wire(
        (201, FILE, {}),
        (200, page(FILE, {**FILE, "id": "file_0", "name": "old.pdf", "status": "pending"}), {}),
        (200, {**FILE, "sha256": "ab" * 32}, {}),
        (204, None, {}),
    )
    code, out, err = run(wire, "files", "upload", str(path))
    assert code == 0 and out == "file_1\n" and err == "orders.csv · 9 bytes · ready\n"
    assert b'filename="orders.csv"' in wire.requests[0].content
    code, out, _ = run(wire, "files", "list", "--json")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == ["file_1", "file_0"]
    code, out, _ = run(wire, "files", "get", "file_1")
    assert "name       orders.csv" in out and "sha256     " + "ab" * 32 in out
    assert run(wire, "files", "delete", "file_1")[1] == "file_1 deleted\n"
    assert sent(wire.requests[-1])[:2] == ("DELETE", "/v1/files/file_1")
    assert run(Wire(), "files", "upload", str(tmp_path / "missing.csv"))[0] == 2


def test_files_download_saves_under_its_own_name_never_overwrites_and_never_sends_the_key(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with_url = {**FILE, "name": "../../orders.csv", "download_url": "http://storage/orders.csv?sig=1"}

    def storage(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        return httpx.Response(200, content=b"id,total\n")

    wire = Wire((200, with_url, {}), (200, with_url, {}), storage)
    code, out, err = run(wire, "files", "download", "file_1")
    assert code == 0 and out == "orders.csv\n" and err == "9 bytes\n"
    assert (tmp_path / "orders.csv").read_bytes() == b"id,total\n"  # in this folder, whatever the name says
    assert wire.requests[-1].url == "http://storage/orders.csv?sig=1"

    wire = Wire((200, with_url, {}))
    code, _, err = run(wire, "files", "download", "file_1")
    assert code == 2 and "exists" in err

    pending = {**FILE, "status": "pending"}
    code, out, err = run(Wire((200, pending, {})), "files", "download", "file_1", "-o", "x.csv", "--json")
    assert code == 5 and "file_not_ready" in err and json.loads(out)["error"]["code"] == "file_not_ready"
    assert not (tmp_path / "x.csv").exists()


def test_profiles_list_get_and_delete() -> None:
    used = {**PROFILE, "last_used_at": "2026-12-02T04:00:00Z", "locked_by_run": "run_9"}
    wire = Wire((200, page(used), {}), (200, used, {}), (204, None, {}), (404, envelope("not_found", 404), {}))
    code, out, _ = run(wire, "profiles", "list")
    assert code == 0 and out.split() == ["prof_1", "812", "2026-12-02", "04:00:00", "shop", "login"]
    code, out, _ = run(wire, "profiles", "get", "prof_1")
    assert "cookies    shop.example" in out and "locked by  run_9" in out
    assert run(wire, "profiles", "delete", "prof_1", "--json")[1] == '{"id": "prof_1", "deleted": true}\n'
    code, _, err = run(wire, "profiles", "get", "prof_1")
    assert code == 5 and "404" in err
    assert [sent(r)[:2] for r in wire.requests] == [
        ("GET", "/v1/profiles"),
        ("GET", "/v1/profiles/prof_1"),
        ("DELETE", "/v1/profiles/prof_1"),
        ("GET", "/v1/profiles/prof_1"),
    ]


def test_the_api_unreachable_exits_6() -> None:
    def down(request: httpx.Request) -> Any:
        raise httpx.ConnectError("refused", request=request)

    wire = Wire(*[down] * 10)
    code, _, err = run(wire, "sessions", "list")
    assert code == 6 and "unavailable" in err
