"""``openhelm dev``: stack + gateway + orgs, the stdout protocol, a clean stop on SIGTERM."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from typing import Any

from devstack.cli import build_parser, dev_params, run_dev
from tests.devstack.conftest import FIXTURE_TEMPLATE, ROOT


class _Out(io.StringIO):
    """Collects the protocol lines and signals once they were flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed = threading.Event()

    def flush(self) -> None:
        super().flush()
        if self.getvalue():
            self.flushed.set()


def test_dev_creates_orgs_then_announces(monkeypatch: Any) -> None:
    args = build_parser().parse_args(
        [
            "dev",
            "--port",
            "0",
            "--template",
            str(FIXTURE_TEMPLATE),
            "--org",
            "acme",
            "--org",
            "globex",
            "--param",
            "FixtureSecret=fixture-secret-value",
        ]
    )
    created: list[str] = []

    def fake_bootstrap(name: str) -> tuple[str, str]:
        created.append(name)
        assert os.environ["OPENHELM_STAGE"] == "local", "orgs are created inside the running stack"
        return f"org_{name}", f"oh_test_{name}_key"

    out, stop, result = _Out(), threading.Event(), {}
    thread = threading.Thread(
        target=lambda: result.setdefault("rc", run_dev(args, stop=stop, out=out, bootstrap=fake_bootstrap))
    )
    thread.start()
    try:
        assert out.flushed.wait(30), "no READY line"
        lines = out.getvalue().splitlines()
        assert lines[0].startswith("OPENHELM_READY url=http://127.0.0.1:")
        url = lines[0].split("url=", 1)[1]
        assert lines[1:] == [
            "OPENHELM_KEY org=acme key=oh_test_acme_key",
            "OPENHELM_KEY org=globex key=oh_test_globex_key",
        ]
        assert created == ["acme", "globex"]
        assert os.environ["OPENHELM_PUBLIC_URL"] == url
        assert os.environ["FIXTURE_STAGE"] == "dev", "Stage=dev is the dev default"
        with urllib.request.urlopen(f"{url}/plain", timeout=10) as resp:
            assert resp.read() == b'{"hello": "world"}'
    finally:
        stop.set()
        thread.join(10)
    assert result["rc"] == 0
    assert "OPENHELM_PUBLIC_URL" not in os.environ


def test_failed_bootstrap_exits_without_ready() -> None:
    args = build_parser().parse_args(["dev", "--port", "0", "--template", str(FIXTURE_TEMPLATE), "--org", "acme"])

    def broken(name: str) -> tuple[str, str]:
        raise RuntimeError("no orgs today")

    out = _Out()
    assert run_dev(args, stop=threading.Event(), out=out, bootstrap=broken) == 1
    assert out.getvalue() == ""


def test_dev_params_generate_missing_secrets() -> None:
    params, generated = dev_params(FIXTURE_TEMPLATE, {})
    assert params["Stage"] == "dev" and "SandboxProvider" not in params, "defaults only for declared parameters"
    assert generated == ["FixtureSecret"] and len(params["FixtureSecret"]) >= 32
    params, generated = dev_params(FIXTURE_TEMPLATE, {"FixtureSecret": "given-secret"})
    assert generated == [] and params["FixtureSecret"] == "given-secret"


def test_console_script_protocol_and_sigterm() -> None:
    """A real process: stdout carries exactly the READY line; SIGTERM stops it cleanly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.cli", "dev", "--port", "0", "--template", str(FIXTURE_TEMPLATE)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # blocks until READY (or EOF if the process died)
        assert line.startswith("OPENHELM_READY url=http://127.0.0.1:"), line + proc.stderr.read()
        with urllib.request.urlopen(line.strip().split("url=", 1)[1] + "/text", timeout=10) as resp:
            assert resp.read() == b"just text"
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert rest == "", "nothing but protocol lines on stdout"
    assert '"event": "http"' in err and '"event": "stack_stopped"' in err
