"""``python -m openhelm_agent`` as a real process: environment in, evidence and callbacks out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devstack.testing.fake_openai import HttpError, ToolCall, find_ref
from tests.agent.harness import CHROMIUM, TOKEN, VALID_PLANS, FakeControlPlane, make_spec, read_jsonl

AGENT_SRC = Path(__file__).resolve().parents[2] / "sandbox_image" / "agent"


@pytest.fixture
def forward_proxy() -> Iterator[tuple[str, list[str]]]:
    """A plain-HTTP forward proxy that relays GETs and records the absolute URLs it was asked for."""
    seen: list[str] = []
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            try:
                with direct.open(self.path, timeout=10) as upstream:
                    status, body = upstream.status, upstream.read()
                    ctype = upstream.headers.get("Content-Type", "text/html")
            except urllib.error.HTTPError as exc:
                status, body, ctype = exc.code, b"", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def agent_env(spec_path: Path, out_dir: Path, control_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHELM_")}
    env.update(
        PYTHONPATH=str(AGENT_SRC),
        OPENHELM_RUN_SPEC=str(spec_path),
        OPENHELM_OUT_DIR=str(out_dir),
        OPENHELM_CONTROL_URL=control_url,
        OPENHELM_RUN_TOKEN=TOKEN,
        OPENHELM_CHROMIUM=CHROMIUM,
        **extra,
    )
    return env


def test_module_entry_point_runs_a_spec_through_the_proxy(
    site: str, control: tuple[FakeControlPlane, str], forward_proxy: tuple[str, list[str]], tmp_path: Path
) -> None:
    plane, url = control
    proxy_url, proxied = forward_proxy
    plane.llm.add(
        lambda body: ToolCall("click", {"ref": find_ref(body, r"link Pricing")}),
        ToolCall("done", {"result": VALID_PLANS, "confidence": 0.8, "summary": "From the pricing table."}),
    )
    spec_path = tmp_path / "run_spec.json"
    spec_path.write_text(json.dumps(make_spec(site, run_id="run_proc0001")))
    out_dir = tmp_path / "out"

    proc = subprocess.run(
        [sys.executable, "-m", "openhelm_agent"],
        env=agent_env(spec_path, out_dir, url, OPENHELM_BROWSER_PROXY=proxy_url),
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out_dir / "result.json").read_text())
    assert result["status"] == "succeeded" and result["result"] == VALID_PLANS
    assert [s["action"] for s in read_jsonl(out_dir / "steps.jsonl")] == ["navigate", "click", "done"]
    assert plane.completions[0]["run_id"] == "run_proc0001"
    assert plane.completions[0]["authorization"] == f"Bearer {TOKEN}"
    assert plane.completions[0]["body"] == result
    # Chromium sent even loopback traffic through OPENHELM_BROWSER_PROXY.
    assert f"{site}/index.html" in proxied and f"{site}/pricing.html" in proxied
    # Logs are JSON lines on stderr and never carry the token.
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert any(line["event"] == "run finished" for line in lines)
    assert TOKEN not in proc.stderr


def test_model_calls_go_to_openhelm_llm_url_when_given(
    site: str, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    """The LLM gateway is its own endpoint (a function URL): calls go there, callbacks do not."""
    from devstack.testing.fake_openai import FakeOpenAI

    plane, url = control
    spec_path = tmp_path / "run_spec.json"
    spec_path.write_text(json.dumps(make_spec(site, run_id="run_llmurl01")))
    done = ToolCall("done", {"result": VALID_PLANS, "confidence": 0.8, "summary": "From the pricing table."})
    with FakeOpenAI([done]) as gateway:
        proc = subprocess.run(
            [sys.executable, "-m", "openhelm_agent"],
            env=agent_env(spec_path, tmp_path / "out", url, OPENHELM_LLM_URL=gateway.base_url),
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (chat,) = gateway.chat_requests
    assert chat.path == "/v1/chat/completions" and chat.authorization == f"Bearer {TOKEN}"
    assert plane.llm.chat_requests == [] and plane.completions[0]["run_id"] == "run_llmurl01"


def test_openhelm_constrained_output_turns_on_response_format(
    site: str, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    """A llama.cpp-style upstream: the tool call comes back as JSON content under a JSON schema."""
    from devstack.testing.fake_openai import FakeOpenAI, Text

    plane, url = control
    spec_path = tmp_path / "run_spec.json"
    spec_path.write_text(json.dumps(make_spec(site, run_id="run_constr01")))
    done = {"name": "done", "arguments": {"result": VALID_PLANS, "confidence": 0.8, "summary": "Pricing table."}}
    with FakeOpenAI([Text(json.dumps(done))]) as gateway:
        proc = subprocess.run(
            [sys.executable, "-m", "openhelm_agent"],
            env=agent_env(
                spec_path, tmp_path / "out", url, OPENHELM_LLM_URL=gateway.base_url, OPENHELM_CONSTRAINED_OUTPUT="true"
            ),
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (chat,) = gateway.chat_requests
    assert chat.body["response_format"]["type"] == "json_schema" and "tools" not in chat.body
    assert plane.completions[0]["body"]["result"] == VALID_PLANS


@pytest.fixture
def hanging_site() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """(base URL, asked, release): GET /hang blocks until ``release`` is set; any other path is a page."""
    asked, release = threading.Event(), threading.Event()

    class Hang(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/hang"):
                asked.set()
                release.wait(30)
            body = b"<!doctype html><title>Start</title><h1>Start</h1>"
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the browser is gone
                pass

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked, release
    release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("busy_in", ["llm_call", "page_load"])
def test_sigterm_still_leaves_a_result(
    busy_in: str,
    hanging_site: tuple[str, threading.Event, threading.Event],
    control: tuple[FakeControlPlane, str],
    tmp_path: Path,
) -> None:
    plane, url = control
    site, asked, release = hanging_site
    if busy_in == "llm_call":

        def stall(body: dict[str, Any]) -> ToolCall:
            asked.set()
            release.wait(30)
            return ToolCall("wait", {"seconds": 0})

        plane.llm.add(stall)
    else:
        plane.llm.add(ToolCall("navigate", {"url": f"{site}/hang"}))
    spec_path = tmp_path / "run_spec.json"
    spec_path.write_text(json.dumps(make_spec(site, run_id="run_proc0002", start_url=f"{site}/")))
    out_dir = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "openhelm_agent"],
        env=agent_env(spec_path, out_dir, url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert asked.wait(60), "the agent never got busy"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()

    assert proc.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    result = json.loads((out_dir / "result.json").read_text())
    assert result["error_code"] == "AGENT_CRASHED"
    assert "interrupted" in result["error_message"]
    assert plane.completions and plane.completions[0]["body"] == result


STUCK_CLEANUP = """
import signal, sys, threading
import openhelm_agent.__main__ as entry
entry.TERMINATE_GRACE_S = 0.5
signal.signal(signal.SIGTERM, entry._terminate)
try:
    print("busy", flush=True)
    threading.Event().wait(60)
finally:  # a close that never returns, as a wedged Playwright loop's would
    signal.signal(signal.SIGTERM, entry._terminate)
    threading.Event().wait(60)
"""


def test_a_cleanup_stuck_after_sigterm_is_cut_by_the_watchdog() -> None:
    env = {**os.environ, "PYTHONPATH": str(AGENT_SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK_CLEANUP], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "busy\n"
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)  # a second signal neither restarts nor breaks the cut
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "cleanup after the signal is stuck" in stderr


def test_unreadable_spec_still_leaves_a_result(control: tuple[FakeControlPlane, str], tmp_path: Path) -> None:
    _, url = control
    spec_path = tmp_path / "missing.json"
    proc = subprocess.run(
        [sys.executable, "-m", "openhelm_agent"],
        env=agent_env(spec_path, tmp_path / "out", url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["error_code"] == "AGENT_CRASHED" and "cannot read run spec" in result["error_message"]


def test_missing_environment_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHELM_")}
    env["PYTHONPATH"] = str(AGENT_SRC)
    proc = subprocess.run([sys.executable, "-m", "openhelm_agent"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "OPENHELM_RUN_TOKEN" in proc.stderr


def _newest_browser_process() -> int:
    """The host pid of the most recently started Chromium browser process below this test process."""

    def stat(pid: int) -> tuple[int, int]:  # (ppid, start time)
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), int(fields[19])

    ours, found = {os.getpid()}, []
    for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            ppid, started = stat(pid)
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if ppid in ours or pid in ours:
            ours.add(pid)
            if b"--remote-debugging-pipe" in argv and not any(a.startswith(b"--type=") for a in argv):
                found.append((started, pid))
    return max(found)[1]


def _crashed_run(site: str, control_url: str, tmp_path: Path, run_id: str) -> dict[str, Any]:
    """Run the agent process on ``site`` with a 2,048 MB limit; it must fail: its result.json."""
    spec_path = tmp_path / "run_spec.json"
    spec_path.write_text(json.dumps(make_spec(site, run_id=run_id)))
    out_dir = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "openhelm_agent"],
        env=agent_env(spec_path, out_dir, control_url, OPENHELM_MEMORY_LIMIT_MB="2048"),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    return json.loads((out_dir / "result.json").read_text())


def test_a_browser_that_dies_ends_the_run_as_a_crash_naming_memory(
    site: str, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    """The OOM killer may pick the browser itself rather than a renderer: no more actions on a dead
    browser (they would fail one by one until the model gives up), the run ends AGENT_CRASHED."""
    plane, url = control

    def kill_the_browser(_body: dict) -> ToolCall:
        os.kill(_newest_browser_process(), signal.SIGKILL)
        return ToolCall("wait", {"seconds": 1})

    plane.llm.add(kill_the_browser, *[ToolCall("wait", {"seconds": 1})] * 5)
    result = _crashed_run(site, url, tmp_path, "run_proc0003")
    assert result["error_code"] == "AGENT_CRASHED", result["error_message"]
    assert "browser crashed, most likely out of memory (the sandbox's memory limit is 2048 MB)" in (
        result["error_message"] or ""
    )
    assert len(plane.llm.chat_requests) <= 2


def test_a_model_call_that_fails_after_the_browser_died_still_names_the_crash(
    site: str, control: tuple[FakeControlPlane, str], tmp_path: Path
) -> None:
    """Under memory pressure the model call in flight can fail before the crash is noticed (seen in CI
    as LLM_ERROR on an OOM run): the crash is the cause the caller needs to read."""
    plane, url = control

    def kill_the_browser_then_fail(_body: dict) -> HttpError:
        os.kill(_newest_browser_process(), signal.SIGKILL)
        return HttpError(400, code="bad_request")

    plane.llm.add(kill_the_browser_then_fail)
    result = _crashed_run(site, url, tmp_path, "run_proc0004")
    assert result["error_code"] == "AGENT_CRASHED", result["error_message"]
    assert "browser crashed, most likely out of memory" in (result["error_message"] or "")
