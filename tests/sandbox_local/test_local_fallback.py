"""The unisolated fallback (no bubblewrap): same contract, loud warning, proxy for the browser only."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest

from shared.sandbox.local.provider import LocalProvider
from tests.sandbox_local.conftest import PAGE_MARKER, RecordingServer, make_provider, make_request, processes_with


@pytest.fixture
def fallback(capfd: pytest.CaptureFixture[str]) -> Iterator[LocalProvider]:
    prov = make_provider(isolation="subprocess", allow_loopback=True)
    captured = capfd.readouterr().out
    assert "sandbox.isolation_degraded" in captured and "WITHOUT ISOLATION" in captured
    assert "sandbox.allow_loopback" in captured
    yield prov
    prov.close()


def test_fallback_runs_the_same_contract(
    fallback: LocalProvider, control: RecordingServer, page: RecordingServer
) -> None:
    assert fallback.isolation == "subprocess"
    request = make_request(
        control.url,
        {"mode": "probe", "proxy_urls": {"page": f"{page.url}/p", "blocked": "http://blocked.test/"}},
        blocked_domains=("blocked.test",),
    )
    info = fallback.start(request)
    assert info.metadata["isolation"] == "subprocess"
    hit = control.wait_for(lambda h: h.path.endswith("/complete"))
    assert hit.headers["Authorization"] == f"Bearer {request.run_token}"
    assert fallback.wait(info.sandbox_id, timeout=20) == 0
    probe = json.loads(fallback.read_file(info.sandbox_id, "probe.json"))
    assert probe["uid"] == fallback.sandbox_uid
    assert probe["control_url"] == control.url  # direct: the host network is shared
    assert probe["proxy_url"].startswith("http://127.0.0.1:")
    assert probe["proxy"]["page"]["status"] == 200 and PAGE_MARKER in probe["proxy"]["page"]["body"]
    assert probe["proxy"]["blocked"]["status"] == 403
    assert json.loads(fallback.read_file(info.sandbox_id, "result.json"))["status"] == "succeeded"
    assert "link-shadow" not in fallback.list_files(info.sandbox_id)


def test_fallback_kill_reaches_detached_descendants(fallback: LocalProvider, control: RecordingServer) -> None:
    marker = f"standin-fallback-{os.getpid()}-{time.monotonic_ns()}"
    info = fallback.start(make_request(control.url, {"mode": "hang", "marker": marker}))
    control.wait_for(lambda h: h.path.endswith("/progress") and b"hanging" in h.body)
    assert processes_with(marker)  # in its own session, like Playwright's browser
    assert [i.sandbox_id for i in fallback.list_running()] == [info.sandbox_id]
    started = time.monotonic()
    assert fallback.kill(info.sandbox_id) is True
    assert time.monotonic() - started < 1.0
    assert processes_with(marker) == []
    assert fallback.list_running() == []


def test_fallback_timeout(fallback: LocalProvider, control: RecordingServer) -> None:
    marker = f"standin-fallback-timeout-{os.getpid()}-{time.monotonic_ns()}"
    info = fallback.start(make_request(control.url, {"mode": "hang", "marker": marker}, timeout_s=1))
    control.wait_for(lambda h: h.path.endswith("/progress") and b"hanging" in h.body)
    assert fallback.wait(info.sandbox_id, timeout=10) is not None
    assert processes_with(marker) == []


def test_fallback_ends_what_the_agent_left_running(fallback: LocalProvider, control: RecordingServer) -> None:
    marker = f"standin-fallback-straggler-{os.getpid()}-{time.monotonic_ns()}"
    info = fallback.start(make_request(control.url, {"mode": "exit", "code": 0, "marker": marker}))
    assert fallback.wait(info.sandbox_id, timeout=20) == 0
    assert processes_with(marker) == []  # found through OPENHELM_SANDBOX_ID in its environment


def test_auto_falls_back_loudly_when_bwrap_is_missing(capfd: pytest.CaptureFixture[str]) -> None:
    with make_provider(isolation="auto", bwrap="bwrap-is-not-installed") as prov:
        assert prov.isolation == "subprocess"
    out = capfd.readouterr().out
    assert "sandbox.isolation_degraded" in out and "bwrap-is-not-installed not found" in out


def test_required_bwrap_refuses_to_fall_back() -> None:
    from shared.sandbox.base import SandboxError

    with pytest.raises(SandboxError, match="bubblewrap sandbox unavailable"):
        make_provider(isolation="bwrap", bwrap="bwrap-is-not-installed")
