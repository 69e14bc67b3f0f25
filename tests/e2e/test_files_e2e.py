"""Files end to end: uploads through the API (multipart and presigned), put on a page's file inputs by
the agent with real Chromium, and a download the browser makes kept with the evidence."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.testing.fake_openai import ToolCall, find_ref
from tests.e2e.conftest import finished, poll

pytestmark = pytest.mark.e2e

PAGES = Path(__file__).resolve().parent / "files_site"
REPORT = b"month,revenue\n2026-10,1200\n2026-11,1350\n"
BIG_BYTES = 21 * 1024 * 1024  # over the 20 MiB a run keeps of one download


class _Site(http.server.SimpleHTTPRequestHandler):
    posted: list[bytes]

    def do_POST(self) -> None:  # the form's target: keeps what the browser sent
        self.posted.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def files_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("files_site")
    for page in PAGES.iterdir():
        shutil.copy(page, root / page.name)
    (root / "report.csv").write_bytes(REPORT)
    with open(root / "big.bin", "wb") as fh:
        fh.write(os.urandom(1024) * (BIG_BYTES // 1024))
    posted: list[bytes] = []
    handler = functools.partial(type("Handler", (_Site,), {"posted": posted}), directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url, server.posted = f"http://127.0.0.1:{server.server_address[1]}", posted  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


def _other_org(stack: Any) -> Any:
    from shared.orgs import bootstrap_org

    _, key = bootstrap_org(f"e2e-other-{time.monotonic_ns()}")
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    return lambda method, path, **kw: s.request(method, stack.url + path, timeout=30, **kw)


def test_files_uploaded_both_ways_are_put_on_a_form_by_the_agent(stack, api, llm, files_site) -> None:
    notes = b"Crew manifest\n" * 10
    small = api("POST", "/v1/files", files={"file": ("notes.txt", notes, "text/plain")})
    assert small.status_code == 201, small.text
    assert small.json()["status"] == "ready" and small.json()["size"] == len(notes)
    assert small.json()["sha256"] == hashlib.sha256(notes).hexdigest()

    table = b"a,b\n" + b"1,2\n" * 50_000  # 200 KB: the presigned path
    ticket = api("POST", "/v1/files", json={"name": "table.csv", "size": len(table), "content_type": "text/csv"})
    assert ticket.status_code == 200, ticket.text
    large_id = ticket.json()["file"]["id"]
    assert api("GET", f"/v1/files/{large_id}").json()["status"] == "pending"
    wrong = requests.post(
        ticket.json()["url"], data=ticket.json()["fields"], files={"file": ("table.csv", table + b"x")}, timeout=30
    )
    # S3 refuses it (the POST policy pins the size); moto does not check policies, but a file whose
    # object is not of the announced size never becomes ready either way.
    assert wrong.status_code >= 400 or api("GET", f"/v1/files/{large_id}").json()["status"] == "pending"
    up = requests.post(
        ticket.json()["url"], data=ticket.json()["fields"], files={"file": ("table.csv", table)}, timeout=30
    )
    assert up.status_code in (200, 201, 204), up.text
    large = api("GET", f"/v1/files/{large_id}").json()
    assert large["status"] == "ready"
    assert requests.get(large["download_url"], timeout=30).content == table
    listed = api("GET", "/v1/files").json()["data"]
    assert {f["id"] for f in listed} == {small.json()["id"], large_id}

    # Another org sees neither file and cannot attach them.
    other = _other_org(stack)
    assert other("GET", f"/v1/files/{large_id}").status_code == 404
    assert other("DELETE", f"/v1/files/{large_id}").status_code == 404
    refused = other("POST", "/v1/runs", json={"prompt": "Send it", "file_ids": [large_id]})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "file_not_found"

    llm.reset(
        lambda body: ToolCall("upload_file", {"ref": find_ref(body, r"button Document"), "file": "notes.txt"}),
        lambda body: ToolCall("upload_file", {"ref": find_ref(body, r"button Attachment"), "file": "table.csv"}),
        lambda body: ToolCall("click", {"ref": find_ref(body, r"button Send")}),
        ToolCall("done", {"result": {"sent": True}, "confidence": 0.9, "summary": "sent both files"}),
    )
    r = api(
        "POST",
        "/v1/runs",
        json={
            "prompt": "Send notes.txt as the document and table.csv as the attachment",
            "start_url": files_site.url + "/upload.html",
            "file_ids": [small.json()["id"], large_id],
        },
    )
    assert r.status_code == 202, r.text
    run = finished(api, r.json()["task_id"])
    assert run["status"] == "succeeded", (run["error"], run["steps"])
    assert run["file_ids"] == [small.json()["id"], large_id]
    assert [s["error"] for s in run["steps"] if s["action"] == "upload_file"] == [None, None]
    assert "notes.txt (text/plain" in llm.chat_requests[0].body["messages"][0]["content"]
    (form,) = files_site.posted
    assert b'name="document"; filename="notes.txt"' in form and notes in form
    assert b'name="attachment"; filename="table.csv"' in form and table in form

    assert api("DELETE", f"/v1/files/{large_id}").status_code == 204
    assert api("GET", f"/v1/files/{large_id}").status_code == 404
    gone = api("POST", "/v1/runs", json={"prompt": "Send it", "file_ids": [large_id]})
    assert gone.status_code == 422 and gone.json()["error"]["details"][0]["loc"] == ["file_ids", 0]


def test_a_download_is_kept_with_the_evidence_and_one_over_the_cap_is_refused(stack, api, llm, files_site) -> None:
    llm.reset(
        lambda body: ToolCall("click", {"ref": find_ref(body, r"link Download report")}),
        lambda body: ToolCall("click", {"ref": find_ref(body, r"link Download archive")}),
        ToolCall("done", {"result": {"ok": True}, "confidence": 0.9, "summary": "downloaded"}),
    )
    r = api("POST", "/v1/runs", json={"prompt": "Download the report", "start_url": files_site.url + "/download.html"})
    run_id = r.json()["task_id"]
    run = finished(api, run_id)
    assert run["status"] == "succeeded", (run["error"], run["steps"])
    clicks = [s for s in run["steps"] if s["action"] == "click"]
    assert clicks[0]["error"] is None
    assert "not kept" in clicks[1]["error"] and "20971520" in clicks[1]["error"]

    poll(lambda: api("GET", f"/v1/runs/{run_id}").json()["evidence_status"] == "ready", "evidence stored", 30)
    run = api("GET", f"/v1/runs/{run_id}").json()
    (kept,) = run["files"]
    assert kept["name"] == "report.csv" and kept["size"] == len(REPORT)
    assert kept["sha256"] == hashlib.sha256(REPORT).hexdigest()
    assert kept["source_url"] == files_site.url + "/report.csv"
    fetched = requests.get(kept["download_url"], timeout=30)
    assert fetched.status_code == 200 and hashlib.sha256(fetched.content).hexdigest() == kept["sha256"]
    manifest = requests.get(run["evidence_manifest_url"], timeout=30).json()
    assert {"path": "downloads/0001-report.csv", "sha256": kept["sha256"]}.items() <= next(
        f for f in manifest["files"] if f["path"].startswith("downloads/")
    ).items()
