"""Limits of the bubblewrap sandbox: a seccomp filter, a memory limit and a pid limit per sandbox."""

from __future__ import annotations

import json
import platform

import pytest

from shared.sandbox.local.limits import CgroupLimits, seccomp_program
from tests.sandbox_local.conftest import RecordingServer, make_provider, make_request, requires_bwrap

pytestmark = requires_bwrap
needs_cgroup = pytest.mark.skipif(not CgroupLimits.detect().available, reason="no writable cgroup here")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the stand-in uses x86_64 syscall numbers")
@pytest.mark.skipif(seccomp_program() is None, reason="libseccomp (pyseccomp) is not available")
def test_the_seccomp_filter_refuses_what_a_browser_agent_never_needs(control: RecordingServer) -> None:
    with make_provider(isolation="bwrap") as prov:
        info = prov.start(make_request(control.url, {"mode": "syscalls"}))
        assert prov.wait(info.sandbox_id, timeout=30) == 0
        seen = json.loads(prov.read_file(info.sandbox_id, "probe.json"))
    assert seen["seccomp"] == "2"  # filter mode
    assert seen["getpid"] == "ok"
    for name in ("ptrace", "unshare_user", "keyctl", "bpf", "userfaultfd", "perf_event_open"):
        assert seen[name] == "EPERM", (name, seen)
    assert seen["io_uring_setup"] == "ENOSYS" and seen["clone3"] == "ENOSYS"


@needs_cgroup
def test_a_sandbox_cannot_start_more_than_its_pid_limit(control: RecordingServer) -> None:
    with make_provider(isolation="bwrap", pids_limit=64) as prov:
        info = prov.start(make_request(control.url, {"mode": "threads", "max": 2000}))
        assert prov.wait(info.sandbox_id, timeout=60) == 0
        seen = json.loads(prov.read_file(info.sandbox_id, "probe.json"))
    assert seen["error"] and seen["threads"] < 64


@needs_cgroup
def test_unbounded_allocation_meets_the_memory_limit_not_the_host(control: RecordingServer) -> None:
    with make_provider(isolation="bwrap", memory_limit_mb=128) as prov:
        info = prov.start(make_request(control.url, {"mode": "hog"}))
        code = prov.wait(info.sandbox_id, timeout=60)
        assert code is not None and code != 0
        report = control.wait_for(lambda h: h.path.endswith("/exit") and b'"provider"' in h.body)
        assert prov.oom_kills(info.sandbox_id) >= 1  # what Finalize asks to name the cause
    assert json.loads(report.body)["oom_kills"] >= 1


@needs_cgroup
def test_cgroups_a_killed_provider_left_are_swept_and_live_ones_kept(control: RecordingServer) -> None:
    import secrets

    limits = CgroupLimits.detect()
    tag = secrets.token_hex(6)
    dead = limits.create(f"lsb_{tag}dead", memory_mb=64, pids=16)  # its provider died: empty
    with make_provider(isolation="bwrap") as prov:
        info = prov.start(make_request(control.url, {"mode": "hang"}))
        control.wait_for(lambda h: h.path.endswith("/progress") and b"hanging" in h.body)
        live_prefix = f"openhelm-{info.sandbox_id}"
        assert limits.sweep(older_than_s=3600, prefix=f"openhelm-lsb_{tag}") == 0  # too young to judge
        assert limits.sweep(older_than_s=0, prefix=f"openhelm-lsb_{tag}") == len(dead.dirs)
        assert limits.sweep(older_than_s=0, prefix=live_prefix) == 0  # it has processes
        assert prov.list_running()
    assert not any(d.exists() for d in dead.dirs)
