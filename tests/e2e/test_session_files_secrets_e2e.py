"""Files, secrets and browser profiles of sessions end to end: one bubblewrap sandbox with real
Chromium, its tasks given files and secrets after it started, its browser started from a profile
and saved back at its close; the model is played by the scripted server."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devstack.testing.fake_openai import ToolCall, find_ref, last_user_text
from tests.e2e.conftest import finished, poll
from tests.e2e.test_files_e2e import files_site  # noqa: F401 - fixture
from tests.e2e.test_profiles_e2e import harbour  # noqa: F401 - fixture
from tests.e2e.test_secrets_e2e import DONE, _type, login_site  # noqa: F401 - fixture
from tests.e2e.test_sessions_e2e import act, ready_session, session_in

pytestmark = pytest.mark.e2e


def test_a_session_task_puts_files_placed_after_the_sandbox_started_on_a_form(
    stack: Any,
    api: Any,
    llm: Any,
    files_site: Any,  # noqa: F811
) -> None:
    notes = b"Crew manifest\n" * 10
    file_id = api("POST", "/v1/files", files={"file": ("notes.txt", notes, "text/plain")}).json()["id"]
    sid = ready_session(api, start_url=files_site.url + "/upload.html")["id"]
    llm.reset(
        lambda body: ToolCall("upload_file", {"ref": find_ref(body, r"button Document"), "file": "notes.txt"}),
        lambda body: ToolCall("click", {"ref": find_ref(body, r"button Send")}),
        ToolCall("done", {"result": {"sent": True}, "confidence": 0.9, "summary": "sent"}),
    )
    r = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Send notes.txt", "file_ids": [file_id]})
    assert r.status_code == 202, r.text
    run = finished(api, r.json()["task_id"])
    assert run["status"] == "succeeded", (run["error"], run["steps"])
    assert run["session_id"] == sid and run["file_ids"] == [file_id]
    assert [s["error"] for s in run["steps"] if s["action"] == "upload_file"] == [None]
    assert "notes.txt (text/plain" in llm.chat_requests[0].body["messages"][0]["content"]
    (form,) = files_site.posted[-1:]
    assert b'filename="notes.txt"' in form and notes in form

    # A direct action does the same with another file, placed when the action is taken.
    table = b"a,b\n1,2\n"
    table_id = api("POST", "/v1/files", files={"file": ("table.csv", table, "text/csv")}).json()["id"]
    act(api, sid, action="navigate", url=files_site.url + "/upload.html")
    snapshot = act(api, sid, action="extract")["result"]["text"]
    ref = re.search(r"button Attachment[^\[\n]*\[(\w+)\]", snapshot).group(1)
    placed = act(api, sid, action="upload_file", ref=ref, file_id=table_id)
    assert placed["ok"], placed["error"]
    send = re.search(r"button Send[^\[\n]*\[(\w+)\]", snapshot).group(1)
    assert act(api, sid, action="click", ref=send)["ok"]
    poll(lambda: b'filename="table.csv"' in files_site.posted[-1], "form sent", 10)
    assert table in files_site.posted[-1]
    nothing = {"action": "upload_file", "ref": ref, "file_id": "file_x"}
    missing = api("POST", f"/v1/sessions/{sid}/actions", json=nothing)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "file_not_found"
    assert api("DELETE", f"/v1/sessions/{sid}").status_code == 200


def test_a_session_task_signs_in_with_secrets_the_model_never_sees(
    stack: Any,
    api: Any,
    llm: Any,
    login_site: Any,  # noqa: F811
) -> None:
    from shared.services import get_services

    token_pw = secrets.token_hex(8)
    password, port = f"Pw-{token_pw}", login_site.port
    sid = ready_session(api, start_url=f"http://localhost:{port}/login.html", allowed_domains=["localhost"])["id"]
    outside = api(
        "POST",
        f"/v1/sessions/{sid}/tasks",
        json={"prompt": "Sign in", "secrets": [{"match": "evil.test", "fields": {"password": password}}]},
    )
    assert outside.status_code == 422 and outside.json()["error"]["code"] == "secret_domain_not_allowed"

    llm.reset(
        _type(r"textbox Email", "crew@example.test"),
        _type(r"textbox Password", "<secret:password>", submit=True),
        DONE,
    )
    body = {"prompt": "Sign in to Harbour", "secrets": [{"match": "localhost", "fields": {"password": password}}]}
    r = api("POST", f"/v1/sessions/{sid}/tasks", json=body)
    assert r.status_code == 202, r.text
    run_id = r.json()["task_id"]
    run = finished(api, run_id)
    assert run["status"] == "succeeded", (run["error"], run["steps"])
    logins = [parse_qs(urlsplit(p).query) for p in login_site.seen if p.startswith("/welcome.html")]
    assert logins[-1]["password"] == [password]
    for request in llm.chat_requests:
        assert token_pw not in json.dumps(request.body)
    assert [s["args"]["text"] for s in run["steps"] if s["action"] == "type"][-1] == "<secret:password>"

    # The secret served that task only: the next task's placeholder is not filled in.
    session_in(api, sid, {"ready"})
    api(
        "POST", f"/v1/sessions/{sid}/actions", json={"action": "navigate", "url": f"http://localhost:{port}/login.html"}
    )
    llm.reset(_type(r"textbox Password", "<secret:password>"), DONE)
    later = finished(api, api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Type it again"}).json()["task_id"])
    assert later["status"] == "succeeded", (later["error"], later["steps"])
    field = api(
        "POST",
        f"/v1/sessions/{sid}/actions",
        json={"action": "evaluate", "expression": "document.querySelector('input[type=password]').value"},
    ).json()
    assert field["ok"] and field["result"]["value"] == ""
    typed = next(s for s in later["steps"] if s["action"] == "type")
    assert "there is no secret <secret:password> in this run" in typed["error"]
    assert token_pw not in api("GET", f"/v1/runs/{later['id']}").text

    # Nothing the system keeps shows the value: the records, the session's mailbox, the sandbox's logs.
    poll(lambda: api("GET", f"/v1/runs/{run_id}").json()["evidence_status"] == "ready", "evidence stored", 30)
    svc = get_services()
    items = stack.client("dynamodb").scan(TableName=stack.physical_id("MainTable"))["Items"]
    assert [i for i in items if token_pw in json.dumps(i, default=str)] == []
    sandbox_id = svc.sessions.get(api.org_id, sid)["sandbox_id"]
    mailbox = svc.sandbox.out_path(sandbox_id).parent / "mailbox"  # type: ignore[attr-defined]
    assert [p for p in mailbox.glob("*.json") if token_pw.encode() in p.read_bytes()] == []
    for path in svc.sandbox.log_paths(sandbox_id):  # type: ignore[attr-defined]
        assert token_pw.encode() not in Path(path).read_bytes()
    assert api("DELETE", f"/v1/sessions/{sid}").status_code == 200


def test_a_session_starts_from_its_profile_and_saves_it_back_at_its_close(
    stack: Any,
    api: Any,
    llm: Any,
    harbour: str,  # noqa: F811
) -> None:
    profile_id = api("POST", "/v1/profiles", json={"name": "harbour crew"}).json()["id"]
    sid = ready_session(api, start_url=harbour + "/login.html", profile_id=profile_id, persist_profile=True)["id"]
    busy = api("POST", "/v1/sessions", json={"profile_id": profile_id, "persist_profile": True})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "profile_in_use"
    refused = api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Sign in", "profile_id": profile_id})
    assert refused.status_code == 422

    llm.reset(
        lambda body: ToolCall("click", {"ref": find_ref(body, r"button Sign in")}),
        lambda body: ToolCall("wait", {"seconds": 2}),
        DONE,
    )
    run = finished(api, api("POST", f"/v1/sessions/{sid}/tasks", json={"prompt": "Sign in"}).json()["task_id"])
    assert run["status"] == "succeeded", (run["error"], run["steps"])
    assert api("GET", f"/v1/profiles/{profile_id}").json()["size"] == 0  # saved at the session's close only
    session_in(api, sid, {"ready"})
    assert api("DELETE", f"/v1/sessions/{sid}").status_code == 200
    profile = api("GET", f"/v1/profiles/{profile_id}").json()
    assert profile["size"] > 0 and profile["locked_by_run"] is None and profile["cookie_domains"] == ["127.0.0.1"]
    state = requests.get(api("GET", f"/v1/profiles/{profile_id}/download").json()["url"], timeout=30).json()
    (cookie,) = [c for c in state["cookies"] if c["name"] == "harbour_session"]
    assert cookie["value"] == "captain" and cookie["expires"] == -1

    # The next session starts signed in.
    nxt = ready_session(api, start_url=harbour + "/account.html", profile_id=profile_id)
    llm.reset(DONE)
    who = finished(api, api("POST", f"/v1/sessions/{nxt['id']}/tasks", json={"prompt": "Who am I?"}).json()["task_id"])
    assert who["status"] == "succeeded"
    assert "Signed in as captain" in last_user_text(llm.chat_requests[0].body)
    assert api("DELETE", f"/v1/sessions/{nxt['id']}").status_code == 200
