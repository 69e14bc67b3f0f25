"""Pausing and resuming an E2B sandbox at the wire (the real e2b SDK against the fake E2B cloud)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.sandbox.base import SandboxNotFound
from shared.sandbox.e2b_provider import E2BProvider
from tests.e2b.fake_e2b import FakeE2BCloud
from tests.e2b.test_e2b_provider import request, wait_for_result


def _state(pid: int) -> str:
    """The process's state letter (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_paused_sandbox_keeps_its_processes_stopped_until_resumed(
    provider: E2BProvider, e2b_env: FakeE2BCloud
) -> None:
    assert provider.supports_pause is True
    info = provider.start(request(spec={"standin_linger_s": 60}))
    wait_for_result(provider, info.sandbox_id)
    pids = e2b_env.running_pids(info.sandbox_id)
    assert pids

    assert provider.pause(info.sandbox_id) is True

    assert all(_state(pid) == "T" for pid in pids)  # frozen with their memory, not ended
    (listed,) = [s for s in provider.list_running() if s.sandbox_id == info.sandbox_id]
    assert listed.metadata["state"] == "paused"  # the reaper still sees it
    assert provider.pause(info.sandbox_id) is False  # already paused (409): not an error
    pauses = [(m, p) for m, p, _ in e2b_env.requests if p.endswith("/pause")]
    assert pauses == [("POST", f"/sandboxes/{info.sandbox_id}/pause")] * 2

    provider.resume(info.sandbox_id, 900)

    assert e2b_env.resumes == [info.sandbox_id]
    assert all(_state(pid) != "T" for pid in pids)
    connects = [body for _, p, body in e2b_env.requests if p == f"/v2/sandboxes/{info.sandbox_id}/connect"]
    assert connects[-1] == {"timeout": 900}
    (listed,) = [s for s in provider.list_running() if s.sandbox_id == info.sandbox_id]
    assert listed.metadata["state"] == "running"
    # Its files read back as before the pause.
    assert provider.read_file(info.sandbox_id, "result.json")
    provider.kill(info.sandbox_id)


def test_pausing_a_gone_sandbox_says_not_found(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    with pytest.raises(SandboxNotFound):
        provider.pause("inosuchsandbox00")
    with pytest.raises(SandboxNotFound):
        provider.resume("inosuchsandbox00", 60)
