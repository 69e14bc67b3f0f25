"""The run viewer and the trace bundle end to end: a real run through the local stack (scripted model,
bubblewrap sandbox, Chromium), its signed viewer_url loaded in real Chromium, refused links, the
bundle downloaded through its presigned redirect and checked against its manifest, then opened offline
with ``openhelm view`` and loaded in Chromium again."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.testing.fake_openai import ToolCall, find_ref
from shared.config import Settings
from shared.viewer import bundle, links
from tests.e2e.conftest import ROOT, chromium_browser, finished, poll

pytestmark = pytest.mark.e2e

SECRET = "e2e-" + "s" * 40  # the stack's RunTokenSecret (tests/e2e/conftest.py); ViewerSecret is left empty
SCREENSHOT = Path(os.environ.get("OPENHELM_VIEWER_SCREENSHOT", "/work/wt/viewer-screenshot.png"))
OTHER = "run_01" + "Z" * 24  # a well-formed id of no run
SCHEMA = json.loads((ROOT / "devstack" / "demo_site" / "task.json").read_text())["output_schema"]
TIERS = [
    {"name": "Deckhand", "monthly_price_usd": 0, "per_member": False},
    {"name": "Crew", "monthly_price_usd": 12, "per_member": True},
    {"name": "Fleet", "monthly_price_usd": 29, "per_member": True},
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium_browser() as b:
        yield b


def _page_shows_the_run(page, run: dict) -> None:  # type: ignore[no-untyped-def]
    """Every step with its action and screenshot (each image decoded: naturalWidth > 0), the result,
    the confidence, the usage and the network log."""
    assert page.locator("#status").inner_text() == run["status"]
    assert page.locator("#prompt-text").inner_text() == run["prompt"]
    assert json.loads(page.locator("#result").inner_text()) == run["result"]
    assert page.locator("#confidence").inner_text() == f"{run['confidence']['score']:.2f}"
    steps = page.locator(".step")
    assert steps.count() == len(run["steps"])
    for i, step in enumerate(run["steps"]):
        text = steps.nth(i).inner_text()
        assert f"{step['index']}. {step['action']}" in text and "ms" in text
    assert page.locator("img.shot").count() == len(run["evidence"]) > 0
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=15_000)
    widths = page.eval_on_selector_all("img.shot", "imgs => imgs.map(i => i.naturalWidth)")
    assert all(w > 0 for w in widths), widths
    usage = page.locator("#usage").inner_text()
    assert str(run["usage"]["input_tokens"]) in usage and run["usage"]["cost_usd"] in usage
    assert page.locator("#network tbody tr").count() == len(run["network"]) > 0


def test_viewer_link_page_bundle_and_offline_view(stack, api, llm, site, browser, tmp_path) -> None:
    llm.reset(
        lambda body: ToolCall("click", {"ref": find_ref(body, r"link Pricing")}),
        ToolCall("done", {"result": {"tiers": TIERS}, "confidence": 0.9, "summary": "three tiers"}),
    )
    r = api(
        "POST", "/v1/runs", json={"prompt": "List the pricing tiers", "start_url": site + "/", "output_schema": SCHEMA}
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["task_id"]
    assert finished(api, run_id)["status"] == "succeeded"
    # wait for the evidence and the bill, so the page shows what the bundle keeps
    run = poll(
        lambda: (
            (x := api("GET", f"/v1/runs/{run_id}").json())["evidence_status"]
            and x["usage"]["cost_status"] == "billed"
            and x
        ),
        "evidence stored and run billed",
    )
    assert run["evidence_status"] == "ready", run["evidence_error"]
    viewer_url = run["viewer_url"]
    assert viewer_url.startswith(stack.url + f"/v1/runs/{run_id}/view?token=ohvw_")
    assert "oh_test_" not in viewer_url

    # -- the live page, in Chromium, with no API key
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    answer = page.goto(viewer_url)
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    _page_shows_the_run(page, run)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # -- refused links: forged, another run's, expired; each a clear page
    token = viewer_url.split("token=", 1)[1]
    forged = viewer_url[:-3] + ("AAA" if not viewer_url.endswith("AAA") else "BBB")
    other_run = viewer_url.replace(f"/v1/runs/{run_id}/", f"/v1/runs/{OTHER}/")
    expired = links.mint(Settings(OPENHELM_RUN_TOKEN_SECRET=SECRET).viewer_key(), api.org_id, run_id, 1_000_000_000)
    for url, status, title in [
        (forged, 403, "This link is not valid"),
        (viewer_url.split("?")[0], 403, "This link is not valid"),
        (other_run, 404, "No such run"),
        (viewer_url.replace(token, expired), 410, "This link has expired"),
    ]:
        answer = page.goto(url)
        assert answer.status == status, url
        assert page.locator("#error-title").inner_text() == title
    assert requests.get(forged, timeout=10).status_code == 403  # and not only for a browser

    # -- the bundle: a 303 to a presigned zip built once into S3
    first = api("GET", f"/v1/runs/{run_id}/bundle", allow_redirects=False)
    assert first.status_code == 303, first.text
    info = first.json()
    assert first.headers["Location"] == info["url"] and info["cached"] is False and info["files"] > 0
    again = api("GET", f"/v1/runs/{run_id}/bundle?redirect=false")
    assert again.status_code == 200 and again.json()["cached"] is True and again.json()["bytes"] == info["bytes"]
    download = requests.get(info["url"], timeout=30)
    assert download.status_code == 200 and len(download.content) == info["bytes"]
    assert "openhelm-" in download.headers.get("content-disposition", "")
    assert api("GET", f"/v1/runs/{OTHER}/bundle").status_code == 404

    with zipfile.ZipFile(io.BytesIO(download.content)) as zf:
        check = bundle.open_bundle(zf, bundle.signing_key(Settings(OPENHELM_RUN_TOKEN_SECRET=SECRET).viewer_key()))
        names = set(zf.namelist())
        evidence_manifest = json.loads(zf.read(bundle.EVIDENCE_MANIFEST))
        steps = [json.loads(line) for line in zf.read("steps.jsonl").splitlines() if line.strip()]
        bundled_run = json.loads(zf.read(bundle.RUN))
        shots = {e["path"]: zf.read(e["path"]) for e in run["evidence"]}
    assert check.intact and check.signature == "valid", check.problems
    assert {
        "manifest.json",
        "run.json",
        "evidence-manifest.json",
        "result.json",
        "steps.jsonl",
        "network.jsonl",
    } <= names
    assert names == {"manifest.json"} | {f["path"] for f in check.manifest["files"]}
    # the evidence manifest is the stored one; every screenshot is its stored bytes
    assert evidence_manifest == requests.get(run["evidence_manifest_url"], timeout=10).json()
    for item in run["evidence"]:
        assert hashlib.sha256(shots[item["path"]]).hexdigest() == item["sha256"]
        assert shots[item["path"]].startswith(b"\x89PNG")
    assert [s["action"] for s in steps] == [s["action"] for s in run["steps"]]
    assert bundled_run["result"] == {"tiers": TIERS} and bundled_run["usage"] == run["usage"]
    assert bundled_run["viewer_url"] is None and all(e["screenshot_url"] is None for e in bundled_run["evidence"])

    # -- offline: `openhelm view bundle.zip` serves the same page from disk
    path = tmp_path / "bundle.zip"
    path.write_bytes(download.content)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHELM_")}
    view = subprocess.Popen(
        [sys.executable, "-m", "devstack.cli", "view", str(path), "--no-open"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        line = view.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("OPENHELM_VIEW url=http://127.0.0.1:"), (line, view.stderr.read() if view.poll() else "")
        answer = page.goto(line.split("url=", 1)[1].strip())
        assert answer.status == 200
        _page_shows_the_run(page, run)
        assert "files match the manifest" in page.locator("#source").inner_text()
    finally:
        view.terminate()
        view.wait(timeout=10)

    # -- and unzipped, with no OpenHelm at all: index.html from the folder
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(folder)
    page.goto((folder / "index.html").as_uri())
    _page_shows_the_run(page, run)
    context.close()


def test_a_tampered_bundle_opens_and_says_so(tmp_path) -> None:
    run = json.dumps({"id": "run_x", "status": "failed", "prompt": "p", "steps": []}).encode()
    data = bundle.pack([("run.json", run)], run_id="run_x", org_id="org_x", created_at="", key=b"k" * 32)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, run.replace(b"failed", b"succeeded") if name == "run.json" else src.read(name))
    path = tmp_path / "tampered.zip"
    path.write_bytes(out.getvalue())
    from devstack.view import BundleServer

    server = BundleServer(path).start()
    try:
        html = requests.get(server.url, timeout=10).text
        assert "does not match its manifest" in html and "run.json" in html
        assert requests.get(server.url + "../etc/passwd", timeout=10).status_code == 404
    finally:
        server.close()
    not_a_bundle = tmp_path / "x.zip"
    not_a_bundle.write_bytes(b"not a zip")
    done = subprocess.run(
        [sys.executable, "-m", "devstack.cli", "view", str(not_a_bundle), "--no-open"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2 and "x.zip" in done.stderr
