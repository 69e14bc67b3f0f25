"""The live view's frame source (openhelm_agent/live.py) with real Chromium: frames of a CDP
screencast behind a per-sandbox secret, served on a unix socket as the local sandbox has it."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path
from typing import Any

from openhelm_agent.evidence import EvidenceWriter
from openhelm_agent.live import LiveView, frame_mac, token_ok
from openhelm_agent.policy import DomainPolicy

SECRET = "s3cret-of-this-sandbox"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("live", timeout=5)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def _get(sock: str, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = _UnixConnection(sock)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _token(exp: int) -> str:
    return f"{exp}.{frame_mac(SECRET, exp)}"


def test_frame_tokens_need_the_secret_and_end_with_their_expiry() -> None:
    assert token_ok(SECRET, _token(2000), now_s=1999)
    assert not token_ok(SECRET, _token(2000), now_s=2001)  # expired
    assert not token_ok("another sandbox", _token(2000), now_s=1999)
    assert not token_ok(SECRET, "2000.forged", now_s=1999)
    assert not token_ok(SECRET, None, now_s=0)


def test_the_endpoint_serves_the_screencasts_latest_frame_and_url(browser: Any, site: str, tmp_path: Path) -> None:
    from openhelm_agent.browser import BrowserSession

    sock = str(tmp_path / "live.sock")
    view = LiveView(f"unix:{sock}", SECRET)
    view.start()
    session = BrowserSession(browser, DomainPolicy.from_lists([], []), EvidenceWriter(tmp_path / "ev"))
    try:
        token = _token(int(time.time()) + 60)
        assert _get(sock, "/frame?t=wrong")[0] == 403
        assert _get(sock, f"/frame?t={_token(int(time.time()) - 1)}")[0] == 403  # an expired link's token
        session.page.goto(f"{site}/index.html")
        deadline = time.monotonic() + 10
        while view.frames.seq == 0 and time.monotonic() < deadline:
            view.screencast.pump(session.page)
        status, headers, body = _get(sock, f"/frame?t={token}")
        assert status == 200 and body[:2] == b"\xff\xd8"  # a JPEG
        assert headers["Content-Type"] == "image/jpeg" and headers["Access-Control-Allow-Origin"] == "*"
        first = int(headers["X-Frame-Seq"])
        state = json.loads(_get(sock, f"/state?t={token}")[2])
        assert state["url"].endswith("/index.html") and state["width"] == 1280

        session.page.goto(f"{site}/pricing.html")  # the page moves: new frames come
        deadline = time.monotonic() + 10
        while view.frames.seq <= first and time.monotonic() < deadline:
            view.screencast.pump(session.page)
        status, headers, _ = _get(sock, f"/frame?t={token}")
        assert int(headers["X-Frame-Seq"]) > first
        assert json.loads(_get(sock, f"/state?t={token}")[2])["url"].endswith("/pricing.html")
    finally:
        view.close()
        session.close()


ANIMATED = (
    "data:text/html,<style>@keyframes m{from{left:0}to{left:1000px}}div{position:absolute;width:100px;"
    "height:100px;background:red;animation:m 1s infinite alternate}</style><div></div>"
)


def test_a_moving_page_gives_several_frames_a_second_while_the_session_idles(browser: Any, tmp_path: Path) -> None:
    from openhelm_agent.browser import BrowserSession

    view = LiveView(f"unix:{tmp_path / 'live.sock'}", SECRET)
    session = BrowserSession(browser, DomainPolicy.from_lists([], []), EvidenceWriter(tmp_path / "ev"))
    try:
        session.page.goto(ANIMATED)
        view.screencast.attach(session.page)
        started, first = time.monotonic(), view.frames.seq
        while time.monotonic() - started < 2:
            view.screencast.pump(session.page)  # as the idle loop does between its 50 ms waits
        assert (view.frames.seq - first) / 2 >= 5  # measured about 40 a second on a 2-core machine
    finally:
        view.close()
        session.close()
