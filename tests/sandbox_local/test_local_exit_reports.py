"""A sandbox that ends without its completion is reported to the control plane at once: by the
supervisor inside when only the agent died, by the provider's watcher when nothing inside is left
(bridge or sandbox init killed). No reaper involved."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from shared.sandbox.local.provider import LocalProvider
from tests.sandbox_local.conftest import Hit, RecordingServer, make_request, processes_with, requires_bwrap
from tests.support.polling import poll

pytestmark = requires_bwrap


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    return int(data[data.rfind(b")") + 2 :].split()[1])


def hanging_agent(provider: LocalProvider, control: RecordingServer) -> tuple[str, str, int]:
    """(run id, run token, host pid of the stand-in agent) of a sandbox whose agent hangs."""
    marker = f"standin-exit-{os.getpid()}-{os.urandom(4).hex()}"
    request = make_request(control.url, {"mode": "hang", "marker": marker})
    provider.start(request)
    control.wait_for(lambda h: h.path.endswith("/progress") and b"hanging" in h.body)
    (grandchild,) = poll(lambda: processes_with(marker), "the stand-in's grandchild", 10)
    return request.run_id, request.run_token, parent_of(grandchild)


def exit_report(control: RecordingServer, run_id: str, reporter: str) -> tuple[Hit, dict]:
    hit = control.wait_for(
        lambda h: h.path == f"/internal/runs/{run_id}/exit" and json.loads(h.body)["reporter"] == reporter,
        timeout=10,
    )
    return hit, json.loads(hit.body)


def test_kill_9_of_the_agent_is_reported_by_the_supervisor(provider: LocalProvider, control: RecordingServer) -> None:
    run_id, token, agent = hanging_agent(provider, control)
    os.kill(agent, signal.SIGKILL)
    hit, report = exit_report(control, run_id, "supervisor")
    assert hit.headers["Authorization"] == f"Bearer {token}"
    assert report["signal"] == signal.SIGKILL and report["exit_code"] is None
    # the whole sandbox then ends with the supervisor, and the watcher says so too (ignored upstream)
    _, outer = exit_report(control, run_id, "provider")
    assert outer["signal"] == signal.SIGKILL and outer["timed_out"] is False
    assert provider.list_running() == []


@pytest.mark.parametrize("victim", ["bridge", "sandbox init"])
def test_a_dead_bridge_or_init_is_reported_by_the_provider(
    provider: LocalProvider, control: RecordingServer, victim: str
) -> None:
    run_id, token, agent = hanging_agent(provider, control)
    supervisor = parent_of(agent)
    bridge = parent_of(supervisor)
    os.kill(bridge if victim == "bridge" else parent_of(bridge), signal.SIGKILL)
    hit, report = exit_report(control, run_id, "provider")
    assert hit.headers["Authorization"] == f"Bearer {token}"
    assert report["signal"] == signal.SIGKILL and report["timed_out"] is False
    assert provider.list_running() == []


def test_a_kill_by_the_control_plane_is_not_reported(provider: LocalProvider, control: RecordingServer) -> None:
    run_id, _, _ = hanging_agent(provider, control)
    (info,) = provider.list_running()
    assert provider.kill(info.sandbox_id) is True
    # the supervisor saw its agent end by SIGTERM and reports it (the run is over upstream: ignored),
    # but the provider never reports a sandbox it killed itself
    exit_report(control, run_id, "supervisor")
    for thread in threading.enumerate():
        if thread.name == f"watch-{info.sandbox_id}":
            thread.join(10)
    seen = []
    while not control.hits.empty():
        seen.append(control.hits.get())
    assert not [h for h in seen if h.path.endswith("/exit") and json.loads(h.body)["reporter"] == "provider"]
