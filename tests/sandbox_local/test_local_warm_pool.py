"""Warm sandboxes (shared/sandbox/local/warm_pool.py): the real agent with Chromium launched ahead of
the run, handed to one run only, replaced in the background, drained by close()."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devstack.testing.fake_openai import FakeOpenAI, ToolCall, make_handler
from shared.sandbox.base import LIVE_VIEW_KEY, SandboxRequest
from shared.sandbox.local.provider import LocalProvider
from tests.agent.harness import CHROMIUM, FakeControlPlane
from tests.sandbox_local.conftest import RecordingServer, make_request, requires_bwrap

pytestmark = [
    requires_bwrap,
    pytest.mark.sandbox_chromium,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
DONE = ToolCall("done", {"result": {"title": "Allowed page"}, "confidence": 0.9, "summary": "read the title"})


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def plane() -> Iterator[tuple[FakeControlPlane, str]]:
    fake = FakeControlPlane(FakeOpenAI([], when_exhausted=DONE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake.respond))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def warm_provider(size: int, base_dir: str) -> LocalProvider:
    # The real agent (its own command), so the warm mode is what runs; loopback for the test page.
    return LocalProvider(base_dir=base_dir, isolation="bwrap", allow_loopback=True, kill_grace_s=0.3, warm_pool=size)


@pytest.fixture
def pool(sandbox_base_dir: str) -> Iterator[LocalProvider]:
    provider = warm_provider(1, sandbox_base_dir)
    yield provider
    provider.close()


def run_request(control_url: str, page: RecordingServer, **kwargs: Any) -> SandboxRequest:
    request = make_request(control_url, {}, **kwargs)
    spec = {
        "run_id": request.run_id,
        "prompt": "Read the page title",
        "start_url": f"{page.url}/warm",
        "output_schema": SCHEMA,
        "model": "gpt-test",
        "max_steps": 3,
        "max_duration_s": 60,
        "allowed_domains": list(request.allowed_domains),
        "blocked_domains": list(request.blocked_domains),
    }
    return dataclasses.replace(request, run_spec=spec)


def completion(fake: FakeControlPlane, run_id: str) -> dict[str, Any]:
    found = wait_until(lambda: [c for c in fake.completions if c["run_id"] == run_id], timeout=90)
    return found[0]["body"]  # type: ignore[no-any-return]


def test_a_warm_sandbox_serves_one_run_and_the_pool_refills(
    pool: LocalProvider, plane: tuple[FakeControlPlane, str], page: RecordingServer
) -> None:
    fake, url = plane
    (warm_id,) = wait_until(lambda: pool.warm_ids(ready_only=True))

    # A run that asks for a live view: the warm agent has no live socket, so the run gets none (no
    # live_view mark, no endpoint: the control plane gives it no live_url rather than a broken one).
    first = dataclasses.replace(run_request(url, page), live_secret="s" * 64)
    info = pool.start(first)
    assert info.sandbox_id == warm_id
    assert info.metadata["warm"] == "true" and info.run_id == first.run_id
    assert LIVE_VIEW_KEY not in info.metadata and pool.live_endpoint(warm_id) is None
    assert warm_id not in pool.warm_ids()
    body = completion(fake, first.run_id)
    assert body["status"] == "succeeded", body
    assert body["result"] == {"title": "Allowed page"}
    assert page.wait_for(lambda h: h.path == "/warm").method == "GET"
    assert pool.wait(warm_id, timeout=30) == 0  # the run's agent ends with its run: no second run in it

    (refilled,) = wait_until(lambda: pool.warm_ids(ready_only=True))
    assert refilled != warm_id
    second = run_request(url, page)
    assert pool.start(second).sandbox_id == refilled
    assert completion(fake, second.run_id)["status"] == "succeeded"


def test_a_warm_sandbox_applies_the_runs_egress_policy(
    pool: LocalProvider, plane: tuple[FakeControlPlane, str], page: RecordingServer
) -> None:
    fake, url = plane
    (warm_id,) = wait_until(lambda: pool.warm_ids(ready_only=True))
    request = run_request(url, page, blocked_domains=("127.0.0.1",))
    info = pool.start(request)
    assert info.sandbox_id == warm_id
    body = completion(fake, request.run_id)
    network = pool.read_file(info.sandbox_id, "network.jsonl").decode()
    assert '"blocked": true' in network
    with pytest.raises(AssertionError):
        page.wait_for(lambda h: h.path == "/warm", timeout=1.0)
    assert body["status"] in {"succeeded", "failed"}


def test_a_run_the_warm_sandbox_cannot_honour_starts_cold(
    pool: LocalProvider, plane: tuple[FakeControlPlane, str], page: RecordingServer
) -> None:
    fake, url = plane
    (warm_id,) = wait_until(lambda: pool.warm_ids(ready_only=True))
    request = run_request(url, page, envs={"GREETING": "hello"})  # Chromium's environment is fixed at launch
    info = pool.start(request)
    assert info.sandbox_id != warm_id and "warm" not in info.metadata
    assert pool.warm_ids() == [warm_id]
    assert completion(fake, request.run_id)["status"] == "succeeded"


def test_a_warm_sandbox_whose_chromium_died_is_discarded(
    pool: LocalProvider, plane: tuple[FakeControlPlane, str], page: RecordingServer
) -> None:
    fake, url = plane
    (warm_id,) = wait_until(lambda: pool.warm_ids(ready_only=True))
    for pid, argv in pool.processes(warm_id).items():
        if "chrom" in os.path.basename(argv[0]).lower():
            with contextlib.suppress(ProcessLookupError):  # its children die with the first one
                os.kill(pid, signal.SIGKILL)
    # SIGKILL lands a moment later: from then on the sandbox is not offered.
    wait_until(lambda: warm_id not in pool.warm_ids(ready_only=True))

    request = run_request(url, page)
    info = pool.start(request)
    assert info.sandbox_id != warm_id
    assert completion(fake, request.run_id)["status"] == "succeeded"
    assert warm_id not in pool.warm_ids()
    assert not (Path(pool.base_dir) / warm_id).exists()


def test_close_drains_the_pool(sandbox_base_dir: str) -> None:
    provider = warm_provider(2, sandbox_base_dir)
    try:
        ids = wait_until(lambda: len(provider.warm_ids(ready_only=True)) == 2 and provider.warm_ids(), timeout=90)
        pids = [pid for sandbox_id in ids for pid in provider.processes(sandbox_id)]
        assert pids
    finally:
        provider.close()
    assert provider.warm_ids() == []
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert alive == []
    for sandbox_id in ids:
        assert not (Path(sandbox_base_dir) / sandbox_id).exists()
        for parent in provider._cgroups.parents.values() if provider._cgroups.available else ():
            assert not (parent / f"openhelm-{sandbox_id}").exists()
    assert provider._warm_thread is not None and not provider._warm_thread.is_alive()  # nothing refills


def test_no_pool_by_default(sandbox_base_dir: str) -> None:
    provider = LocalProvider(base_dir=sandbox_base_dir, isolation="bwrap")
    try:
        assert provider.warm_pool_size == 0 and provider.warm_ids() == []
    finally:
        provider.close()
