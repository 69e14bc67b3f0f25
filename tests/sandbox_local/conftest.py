"""Fixtures of the local sandbox tests: a control-plane stand-in, a page server, providers.

Every server listens on 127.0.0.1 only. Waiting is always on a queue, an event or the sandbox's
process with a deadline; nothing sleeps.
"""

from __future__ import annotations

import atexit
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared.sandbox.base import SandboxRequest
from shared.sandbox.local.host import probe_bwrap
from shared.sandbox.local.provider import LocalProvider

STANDIN_DIR = Path(__file__).with_name("standin")
AGENT_OUTPUTS = Path(__file__).resolve().parents[2] / "devstack" / "testing" / "agent_outputs.py"
PAGE_MARKER = "hello-from-the-host-page"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sandbox_chromium: starts real Chromium inside the local sandbox")


@dataclass
class Hit:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingServer:
    """A threaded HTTP server on 127.0.0.1 that records every request into a queue."""

    body: bytes = b'{"ok": true}'
    content_type: str = "application/json"
    hits: queue.Queue[Hit] = field(default_factory=queue.Queue)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordingServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.hits.put(Hit(time.monotonic(), self.command, self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", owner.content_type)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, predicate: Callable[[Hit], bool], timeout: float = 20.0) -> Hit:
        """The first recorded request matching ``predicate`` (others are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("expected request did not arrive in time")
            try:
                hit = self.hits.get(timeout=remaining)
            except queue.Empty as exc:
                raise AssertionError("expected request did not arrive in time") from exc
            if predicate(hit):
                return hit


@pytest.fixture
def control() -> Iterator[RecordingServer]:
    server = RecordingServer().start()
    yield server
    server.stop()


@pytest.fixture
def page() -> Iterator[RecordingServer]:
    html = f"<html><head><title>Allowed page</title></head><body><h1>{PAGE_MARKER}</h1></body></html>"
    server = RecordingServer(body=html.encode(), content_type="text/html; charset=utf-8").start()
    yield server
    server.stop()


def bwrap_ready() -> bool:
    setpriv = shutil.which("setpriv") if os.geteuid() == 0 else None
    return probe_bwrap("bwrap", setpriv)[0]


requires_bwrap = pytest.mark.skipif(not bwrap_ready(), reason="bubblewrap cannot create sandboxes here")


_test_base_dir: str | None = None
_standin_dir: str | None = None


@pytest.fixture(scope="session", autouse=True)
def sandbox_base_dir() -> Iterator[str]:
    """One base dir for the session's sandboxes (traversable by uid 65534), removed at the end."""
    global _test_base_dir
    path = tempfile.mkdtemp(prefix="openhelm-sandbox-tests-", dir="/tmp")
    os.chmod(path, 0o711)
    _test_base_dir = path
    yield path
    _test_base_dir = None
    shutil.rmtree(path, ignore_errors=True)


def standin_dir() -> str:
    """The stand-in agent beside the out-dir writer it imports (devstack/testing/agent_outputs.py),
    in a directory the sandbox's uid can read; made once per process (tests start providers in
    subprocesses too), removed when the process exits."""
    global _standin_dir
    if _standin_dir is None:
        path = tempfile.mkdtemp(prefix="openhelm-standin-", dir="/tmp")
        os.chmod(path, 0o755)
        for source in (STANDIN_DIR / "standin_agent.py", AGENT_OUTPUTS):
            os.chmod(shutil.copy(source, path), 0o644)
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _standin_dir = path
    return _standin_dir


def make_provider(**kwargs: Any) -> LocalProvider:
    if _test_base_dir is not None:
        kwargs.setdefault("base_dir", _test_base_dir)
    kwargs.setdefault("agent_path", standin_dir())
    kwargs.setdefault("command", [sys.executable, "-m", "standin_agent"])
    kwargs.setdefault("kill_grace_s", 0.3)
    return LocalProvider(**kwargs)


@pytest.fixture
def provider() -> Iterator[LocalProvider]:
    """bwrap provider with allow_loopback (the test pages live on the host's 127.0.0.1)."""
    prov = make_provider(isolation="bwrap", allow_loopback=True)
    yield prov
    prov.close()


def make_request(control_url: str, standin: dict[str, Any], **kwargs: Any) -> SandboxRequest:
    run_id = kwargs.pop("run_id", f"run_{secrets.token_hex(6)}")
    kwargs.setdefault("timeout_s", 60)
    kwargs.setdefault("run_token", f"ohrt_{secrets.token_hex(16)}")
    return SandboxRequest(
        run_id=run_id,
        org_id="org_test",
        run_spec={"run_id": run_id, "prompt": "stand-in", "standin": standin},
        control_url=control_url,
        **kwargs,
    )


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker``."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if needle in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def python_has(module: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", f"import importlib.util,sys; sys.exit(importlib.util.find_spec({module!r}) is None)"],
        capture_output=True,
    )
    return done.returncode == 0
