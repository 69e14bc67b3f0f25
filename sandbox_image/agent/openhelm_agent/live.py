"""The live view's frame source (docs/sessions.md, "Live view"): a CDP screencast of the session's
page, and a tiny HTTP endpoint on one sandbox port that hands out its latest JPEG frame and the
page's URL. Stdlib only (http.server in a thread); the screencast itself is Playwright's CDP session.

* ``OPENHELM_LIVE_LISTEN``: where to listen, ``tcp:<host>:<port>`` (E2B: the port its edge exposes as
  ``<port>-<sandboxId>.<domain>``) or ``unix:<path>`` (the local sandbox has no network of its own:
  the provider relays one loopback port of the host to this socket).
* ``OPENHELM_LIVE_SECRET``: the per-sandbox secret. It never leaves the control plane except into
  this process; a viewer's page holds only a frame token, ``<expiry>.<mac>`` with
  mac = base64url(HMAC-SHA256(secret, "frames.v1.<expiry>")), which ends with the signed live link.

The endpoint is read-only on purpose: input on the picture goes to the API (the live link's control
mode), which routes it through the session's manual control, so every click is a step marked as done
by a person and the agent hears of it on release. A leaked frame token shows frames; it clicks nothing.

Threads: Playwright's sync API belongs to the main thread, so screencast events are received there
(while a Playwright call runs, or in :meth:`Screencast.pump` when the session is idle); the HTTP
thread only reads the latest frame under a lock.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from openhelm_agent.browser import page_url, short_error
from openhelm_agent.log import get_logger

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession, Page

log = get_logger("openhelm_agent.live")

LISTEN_ENV = "OPENHELM_LIVE_LISTEN"
SECRET_ENV = "OPENHELM_LIVE_SECRET"
_LABEL = "frames.v1"
JPEG_QUALITY = 60
MAX_WIDTH, MAX_HEIGHT = 1280, 800


def frame_mac(secret: str, expires_at: int) -> str:
    digest = hmac.new(secret.encode(), f"{_LABEL}.{expires_at}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_ok(secret: str, token: str | None, now_s: float) -> bool:
    """A frame token minted with this sandbox's secret and not expired."""
    if not secret or not token or token.count(".") != 1:
        return False
    exp, mac = token.split(".")
    if not exp.isdigit() or len(exp) > 12:
        return False
    return hmac.compare_digest(mac.encode(), frame_mac(secret, int(exp)).encode()) and int(exp) >= now_s


class LiveFrames:
    """The latest frame and where the page is, shared by the main thread and the HTTP thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jpeg: bytes | None = None
        self.seq = 0
        self.url = ""
        self.width = 0.0
        self.height = 0.0

    def put(self, jpeg: bytes, width: float, height: float, url: str) -> None:
        with self._lock:
            self.jpeg, self.width, self.height, self.url = jpeg, width, height, url
            self.seq += 1

    def set_url(self, url: str) -> None:
        with self._lock:
            self.url = url

    def latest(self) -> tuple[bytes | None, dict[str, Any]]:
        with self._lock:
            return self.jpeg, {"seq": self.seq, "url": self.url, "width": self.width, "height": self.height}


class Screencast:
    """Page.startScreencast on the session's current page (re-attached when the current tab changes),
    every frame acknowledged so Chromium keeps sending them."""

    def __init__(self, frames: LiveFrames) -> None:
        self.frames = frames
        self._page: Page | None = None
        self._cdp: CDPSession | None = None

    def attach(self, page: Page) -> None:
        if page is self._page:
            return
        self.detach()
        try:
            cdp = page.context.new_cdp_session(page)
            cdp.on("Page.screencastFrame", lambda params: self._on_frame(cdp, page, params))
            cdp.send(
                "Page.startScreencast",
                {"format": "jpeg", "quality": JPEG_QUALITY, "maxWidth": MAX_WIDTH, "maxHeight": MAX_HEIGHT},
            )
        except Exception as exc:  # the live view is a window on the session, never its end
            log.warning("screencast start failed", extra={"error": short_error(exc)})
            return
        self._page, self._cdp = page, cdp

    def detach(self) -> None:
        cdp, self._cdp, self._page = self._cdp, None, None
        if cdp is not None:
            with contextlib.suppress(Exception):  # the page is already gone
                cdp.detach()

    def _on_frame(self, cdp: CDPSession, page: Page, params: dict[str, Any]) -> None:
        try:
            meta = params.get("metadata") or {}
            jpeg = base64.b64decode(params.get("data") or "")
            self.frames.put(
                jpeg, float(meta.get("deviceWidth") or 0), float(meta.get("deviceHeight") or 0), page_url(page)
            )
        except (binascii.Error, ValueError, TypeError) as exc:
            log.warning("bad screencast frame", extra={"error": str(exc)})
        try:
            cdp.send("Page.screencastFrameAck", {"sessionId": params.get("sessionId")})
        except Exception as exc:
            log.warning("screencast ack failed", extra={"error": short_error(exc)})

    def pump(self, page: Page, ms: float = 30) -> None:
        """While the main thread has nothing else to do: follow the current tab and let Playwright
        deliver the screencast's frames for ``ms`` milliseconds."""
        self.attach(page)
        try:
            self.frames.set_url(page_url(page))
            page.wait_for_timeout(ms)
        except Exception as exc:  # a closing page: the next pump attaches to the new one
            log.warning("screencast pump failed", extra={"error": short_error(exc)})
            self.detach()


class _Handler(BaseHTTPRequestHandler):
    server: LiveHTTPServer
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:  # a unix socket's peer has no address
        return "live"

    def log_message(self, format: str, *args: Any) -> None:  # never log: the token is in the query
        return

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        # The live page is served by the API's origin; it reads /state with fetch (the token is its
        # credential, no cookie is involved) and shows /frame in an <img>.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "X-Frame-Seq")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        token = (parse_qs(parts.query).get("t") or [None])[0]
        if parts.path not in ("/frame", "/state"):
            self._send(404, b'{"error":"not found"}', "application/json")
            return
        if not token_ok(self.server.secret, token, time.time()):
            self._send(403, b'{"error":"missing, forged or expired frame token"}', "application/json")
            return
        jpeg, state = self.server.frames.latest()
        if parts.path == "/state":
            self._send(200, json.dumps(state).encode(), "application/json")
        elif jpeg is None:
            self._send(204, b"", "image/jpeg", {"X-Frame-Seq": "0"})
        else:
            self._send(200, jpeg, "image/jpeg", {"X-Frame-Seq": str(state["seq"])})

    do_HEAD = do_GET


class LiveHTTPServer(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, listen: str, secret: str, frames: LiveFrames) -> None:
        self.secret = secret
        self.frames = frames
        kind, _, where = listen.partition(":")
        if kind == "unix":
            self.address_family = socket.AF_UNIX
            if os.path.exists(where):
                os.unlink(where)
            super().__init__(where, _Handler)  # type: ignore[arg-type]
        elif kind == "tcp":
            host, _, port = where.rpartition(":")
            super().__init__((host or "0.0.0.0", int(port)), _Handler)
        else:
            raise ValueError(f"{LISTEN_ENV} must be tcp:<host>:<port> or unix:<path>, not {listen!r}")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A viewer that went away mid-answer (a frame superseded, a closed tab) is not an error; the
        rest is logged in one line, never as a traceback on the agent's stderr."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError):
            log.warning("live view request failed", extra={"error": short_error(exc) if exc else "unknown"})

    def server_bind(self) -> None:
        if self.address_family == socket.AF_UNIX:
            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = "live", 0
        else:
            super().server_bind()


class LiveView:
    """The frame source of one sandbox: its screencast and its HTTP endpoint."""

    def __init__(self, listen: str, secret: str) -> None:
        self.frames = LiveFrames()
        self.screencast = Screencast(self.frames)
        self.server = LiveHTTPServer(listen, secret, self.frames)
        self._thread = threading.Thread(target=self.server.serve_forever, name="live-view", daemon=True)

    @classmethod
    def from_env(cls, environ: dict[str, str] | os._Environ[str]) -> LiveView | None:
        listen, secret = environ.get(LISTEN_ENV), environ.get(SECRET_ENV)
        if not listen or not secret:
            return None
        try:
            view = cls(listen, secret)
        except (OSError, ValueError) as exc:  # the session goes on without its live view
            log.warning("live view not started", extra={"error": str(exc)})
            return None
        view.start()
        log.info("live view serving", extra={"listen": listen.split(":", 1)[0]})
        return view

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.screencast.detach()
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never ran otherwise
            self.server.shutdown()
        self.server.server_close()
