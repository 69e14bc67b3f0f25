"""Viewer links and bundle manifests: what a forged, expired or misdirected link answers, and what
tampering with a bundle shows."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from shared.config import Settings
from shared.errors import Forbidden, NotFound
from shared.viewer import bundle, links
from shared.viewer.page import render, security_headers

KEY = b"k" * 32
NOW = 1_800_000_000


def test_a_link_opens_its_run_until_it_expires() -> None:
    token = links.mint(KEY, "org_a", "run_1", NOW + 60)
    claims = links.verify(KEY, token, "run_1", NOW)
    assert (claims.org_id, claims.run_id, claims.expires_at) == ("org_a", "run_1", NOW + 60)
    with pytest.raises(links.ViewerLinkExpired) as expired:
        links.verify(KEY, token, "run_1", NOW + 61)
    assert expired.value.status == 410


def test_another_runs_link_is_404_and_a_forged_one_403() -> None:
    token = links.mint(KEY, "org_a", "run_1", NOW + 60)
    with pytest.raises(NotFound):
        links.verify(KEY, token, "run_2", NOW)
    # the same claims re-signed with another key, a changed run id, a changed expiry, garbage
    forged = [
        links.mint(b"x" * 32, "org_a", "run_1", NOW + 60),
        token.replace("run_1", "run_2"),
        token.replace(str(NOW + 60), str(NOW + 10**6)),
        token[:-2],
        "ohvw_nonsense",
        "",
        None,
    ]
    for bad in forged:
        with pytest.raises(Forbidden):
            links.verify(KEY, bad, "run_2" if bad and "run_2" in bad else "run_1", NOW)


def test_the_viewer_key_is_its_own_or_derived_never_the_run_token_secret() -> None:
    derived = Settings(OPENHELM_RUN_TOKEN_SECRET="r" * 40)
    assert derived.viewer_key() != derived.token_secret() and len(derived.viewer_key()) == 32
    own = Settings(OPENHELM_RUN_TOKEN_SECRET="r" * 40, OPENHELM_VIEWER_SECRET="v" * 32)
    assert own.viewer_key() == b"v" * 32
    with pytest.raises(RuntimeError):
        Settings(OPENHELM_RUN_TOKEN_SECRET="r" * 40, OPENHELM_VIEWER_SECRET="short").viewer_key()


def _bundle(files: list[tuple[str, bytes]]) -> bytes:
    return bundle.pack(files, run_id="run_1", org_id="org_a", created_at="2026-01-01T00:00:00Z", key=KEY)


def test_a_bundle_checks_out_and_tampering_shows() -> None:
    run = json.dumps({"id": "run_1", "status": "succeeded"}).encode()
    data = _bundle([("run.json", run), ("screenshots/step-0001.png", b"\x89PNG..."), ("../evil", b"x")])
    assert data == _bundle([("run.json", run), ("screenshots/step-0001.png", b"\x89PNG..."), ("../evil", b"x")])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "../evil" not in zf.namelist()
        check = bundle.open_bundle(zf, KEY)
    assert check.intact and check.verified == 2 and check.signature == "valid"
    assert check.run["id"] == "run_1"

    # one screenshot changed after signing: its digest no longer matches
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, b"changed" if name.endswith(".png") else src.read(name))
    with zipfile.ZipFile(out) as zf:
        check = bundle.open_bundle(zf, b"another key" * 3)
    assert check.problems == [
        "screenshots/step-0001.png: does not match its SHA-256 in the manifest",
        "the manifest's signature does not match",
    ]


def test_the_page_escapes_what_pages_said_and_allows_no_script() -> None:
    run = {
        "id": "run_1",
        "status": "succeeded",
        "prompt": "<script>alert(1)</script>",
        "steps": [
            {"index": 1, "action": "goto", "title": "<img src=x onerror=alert(1)>", "url": "javascript:alert(1)"}
        ],
        "evidence": [{"step": 1, "screenshot_url": "https://bucket.s3.amazonaws.com/k?sig=1"}],
    }
    html = render(run, "footer")
    assert "<script>" not in html and "<img src=x" not in html and 'href="javascript' not in html
    assert 'src="https://bucket.s3.amazonaws.com/k?sig=1"' in html
    csp = security_headers(["https://bucket.s3.amazonaws.com/k?sig=1"])["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "img-src 'self' https://bucket.s3.amazonaws.com;" in csp
