"""Browser profiles end to end: a run logs in and persists the profile, the next one starts logged in,
the state goes out and comes back as storage_state, and a second writer meanwhile gets 409."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.testing.fake_openai import ToolCall, find_ref, last_user_text
from tests.e2e.conftest import finished, poll

pytestmark = pytest.mark.e2e

SITE = Path(__file__).resolve().parent / "profile_site"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def harbour() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


DONE = ToolCall("done", {"result": {"ok": True}, "confidence": 0.9, "summary": "done"})


def test_a_profile_persisted_by_one_run_is_used_by_the_next(stack, api, llm, harbour) -> None:
    created = api("POST", "/v1/profiles", json={"name": "harbour crew"})
    assert created.status_code == 201, created.text
    profile_id = created.json()["id"]
    assert api("GET", f"/v1/profiles/{profile_id}/download").json()["error"]["code"] == "profile_empty"

    llm.reset(
        lambda body: ToolCall("click", {"ref": find_ref(body, r"button Sign in")}),
        lambda body: ToolCall("wait", {"seconds": 2}),
        DONE,
    )
    writer = {
        "prompt": "Sign in",
        "start_url": harbour + "/login.html",
        "profile_id": profile_id,
        "persist_profile": True,
    }
    r = api("POST", "/v1/runs", json=writer)
    assert r.status_code == 202, r.text
    run_id = r.json()["task_id"]
    # A second writer while the first holds the lease: 409; the profile says who writes it.
    second = api("POST", "/v1/runs", json=writer)
    assert second.status_code == 409 and second.json()["error"]["code"] == "profile_in_use", second.text
    assert api("GET", f"/v1/profiles/{profile_id}").json()["locked_by_run"] == run_id
    assert api("DELETE", f"/v1/profiles/{profile_id}").status_code == 409

    run = finished(api, run_id)
    assert run["status"] == "succeeded", (run["error"], run["steps"])
    assert "Signed in as captain" in last_user_text(llm.chat_requests[-1].body)
    poll(lambda: api("GET", f"/v1/profiles/{profile_id}").json()["size"] > 0, "profile saved", 30)
    profile = api("GET", f"/v1/profiles/{profile_id}").json()
    assert profile["cookie_domains"] == ["127.0.0.1"] and profile["locked_by_run"] is None
    assert profile["updated_at"] and profile["last_used_at"]

    link = api("GET", f"/v1/profiles/{profile_id}/download").json()
    state = requests.get(link["url"], timeout=30).json()
    (cookie,) = [c for c in state["cookies"] if c["name"] == "harbour_session"]
    assert cookie["value"] == "captain" and cookie["expires"] == -1  # a session cookie, kept
    assert {"name": "harbour_theme", "value": "night"} in state["origins"][0]["localStorage"]

    # The next run starts signed in (a reader: no lease, nothing saved back).
    llm.reset(DONE)
    reader = api(
        "POST",
        "/v1/runs",
        json={"prompt": "Who am I?", "start_url": harbour + "/account.html", "profile_id": profile_id},
    )
    assert finished(api, reader.json()["task_id"])["status"] == "succeeded"
    assert "Signed in as captain (theme night)" in last_user_text(llm.chat_requests[0].body)

    # Uploaded state replaces it; the next run sees that one.
    cookie["value"] = "bosun"
    up = api("POST", f"/v1/profiles/{profile_id}/upload", json=state)
    assert up.status_code == 200, up.text
    bad = api("POST", f"/v1/profiles/{profile_id}/upload", json={"cookies": [{"name": "x"}]})
    assert bad.status_code == 422
    llm.reset(DONE)
    again = api(
        "POST",
        "/v1/runs",
        json={"prompt": "Who am I?", "start_url": harbour + "/account.html", "profile_id": profile_id},
    )
    assert finished(api, again.json()["task_id"])["status"] == "succeeded"
    assert "Signed in as bosun" in last_user_text(llm.chat_requests[0].body)

    # Nothing of the state is in the table: only metadata.
    items = stack.client("dynamodb").scan(TableName=stack.physical_id("MainTable"))["Items"]
    leaks = [i for i in items if "bosun" in json.dumps(i) or 'captain"' in json.dumps(i)]
    assert leaks == []


def test_profile_ids_are_checked(stack, api) -> None:
    r = api("POST", "/v1/runs", json={"prompt": "x x", "persist_profile": True})
    assert r.status_code == 422
    r = api("POST", "/v1/runs", json={"prompt": "x x", "profile_id": "prof_01M8TDQ3XMNH7N69YB5ZTEMVRJ"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "profile_not_found"
    assert api("GET", "/v1/profiles/prof_01M8TDQ3XMNH7N69YB5ZTEMVRJ").status_code == 404
