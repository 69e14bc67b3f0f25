"""The sandbox's supervisor (openhelm_agent/supervise.py) as a real process around a stand-in child."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SUPERVISOR = Path(__file__).resolve().parents[2] / "sandbox_image" / "agent" / "openhelm_agent" / "supervise.py"
AGENT_SRC = SUPERVISOR.parents[1]
TOKEN = "ohrt_supervisor-test-token"


@pytest.fixture
def plane() -> Iterator[tuple[str, queue.Queue[tuple[str, dict[str, str], Any]]]]:
    hits: queue.Queue[tuple[str, dict[str, str], Any]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.put((self.path, dict(self.headers), json.loads(body)))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def supervise(tmp_path: Path, control_url: str, child: str) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "run_spec.json"
    spec.write_text(json.dumps({"run_id": "run_sup1", "prompt": "x", "model": "m"}))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(AGENT_SRC),
        "OPENHELM_RUN_SPEC": str(spec),
        "OPENHELM_CONTROL_URL": control_url,
        "OPENHELM_RUN_TOKEN": TOKEN,
    }
    cmd = [sys.executable, "-I", "-S", str(SUPERVISOR), "--", sys.executable, "-c", child]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def test_an_agent_killed_by_sigkill_is_reported_with_the_signal(tmp_path: Path, plane: Any) -> None:
    url, hits = plane
    done = supervise(tmp_path, url, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert done.returncode == 128 + signal.SIGKILL, done.stderr
    path, headers, body = hits.get(timeout=5)
    assert path == "/internal/runs/run_sup1/exit"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert body["reporter"] == "supervisor" and body["signal"] == signal.SIGKILL and body["exit_code"] is None
    assert TOKEN not in done.stderr


def test_an_agent_that_exits_without_its_completion_is_reported(tmp_path: Path, plane: Any) -> None:
    url, hits = plane
    done = supervise(tmp_path, url, "raise SystemExit(3)")
    assert done.returncode == 3
    _, _, body = hits.get(timeout=5)
    assert body["exit_code"] == 3 and body["signal"] is None


def test_an_accepted_completion_means_no_report(tmp_path: Path, plane: Any) -> None:
    """The agent's callback client tells the supervisor through the pipe after a 2xx (then exits 1:
    the run failed, but it was handed in)."""
    url, hits = plane
    child = "from openhelm_agent.callback import tell_supervisor; tell_supervisor(); raise SystemExit(1)"
    done = supervise(tmp_path, url, child)
    assert done.returncode == 1, done.stderr
    assert hits.empty()
