"""The bubblewrap sandbox, end to end with a stand-in agent (traffic to 127.0.0.1 only)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.sandbox.base import SandboxNotFound, SandboxStartError, UnsafePath
from shared.sandbox.local.processes import wait_pidfds as _wait_pidfds
from shared.sandbox.local.provider import LocalProvider
from tests.sandbox_local.conftest import (
    PAGE_MARKER,
    RecordingServer,
    make_provider,
    make_request,
    processes_with,
    requires_bwrap,
)

pytestmark = requires_bwrap

WRITE_PATHS = [
    "/out/w.txt",
    "/tmp/w.txt",
    "/dev/shm/w.txt",
    "/w.txt",
    "/usr/w.txt",
    "/etc/w.txt",
    "/root/w.txt",
    "/run/openhelm/w.txt",
    "/proc/w.txt",
]
WRITABLE = {"/out/w.txt", "/tmp/w.txt", "/dev/shm/w.txt"}


def probe_standin(control: RecordingServer, page: RecordingServer) -> dict:
    hidden = [p for p in ("/root/.bashrc", "/root/.ssh", "/etc/shadow", "/home") if os.path.lexists(p)]
    # The repository itself is not bound: only the venv/interpreter and the agent path are.
    hidden += [os.path.abspath("shared"), os.path.abspath(".git")]
    return {
        "mode": "probe",
        "direct_port": page.port,
        "write_paths": WRITE_PATHS,
        "must_not_exist": hidden,
        "proxy_urls": {
            "allowed": f"{page.url}/allowed",
            "blocked": "http://blocked.example/",
            "not_allowed": "http://elsewhere.example/",
            "metadata": "http://169.254.169.254/latest/meta-data/",
        },
        "connect_targets": ["blocked.example:443", "10.0.0.1:443"],
    }


def test_stand_in_run_end_to_end(provider: LocalProvider, control: RecordingServer, page: RecordingServer) -> None:
    request = make_request(
        control.url,
        probe_standin(control, page),
        allowed_domains=("127.0.0.1", "169.254.169.254", "10.0.0.1"),
        blocked_domains=("blocked.example",),
        envs={"EXTRA_FLAG": "1", "AWS_SECRET_ACCESS_KEY": "nope", "OPENHELM_RUN_TOKEN": "forged"},
    )
    info = provider.start(request)
    assert re.fullmatch(r"lsb_[0-9a-f]{24}", info.sandbox_id)
    assert info.run_id == request.run_id and info.provider == "local"
    assert info.metadata["isolation"] == "bwrap"

    complete = control.wait_for(lambda h: h.path.endswith("/complete"))
    assert complete.path == f"/internal/runs/{request.run_id}/complete"
    assert complete.headers["Authorization"] == f"Bearer {request.run_token}"
    assert json.loads(complete.body)["status"] == "succeeded"
    assert provider.wait(info.sandbox_id, timeout=20) == 0
    assert info.sandbox_id not in {i.sandbox_id for i in provider.list_running()}

    # Evidence, read from the host out dir.
    result = json.loads(provider.read_file(info.sandbox_id, "result.json"))
    assert result["status"] == "succeeded" and result["result"] == {"mode": "probe"}
    assert provider.read_file(info.sandbox_id, "screenshots/step-0001.png").startswith(b"\x89PNG\r\n\x1a\n")
    files = provider.list_files(info.sandbox_id)
    assert {"result.json", "probe.json", "screenshots/step-0001.png", "sub/ok.txt"} <= set(files)
    assert provider.list_files(info.sandbox_id, "screenshots") == ["screenshots/step-0001.png"]
    assert provider.list_files(info.sandbox_id, "missing") == []
    probe = json.loads(provider.read_file(info.sandbox_id, "probe.json"))

    # Identity and privileges.
    assert (probe["uid"], probe["gid"], probe["euid"], probe["groups"]) == (65534, 65534, 65534, [])
    assert probe["hostname"] == "openhelm-sandbox"
    assert probe["cap_eff"] == "0000000000000000"
    assert probe["no_new_privs"] == "1"
    assert probe["nested_userns"] != 0  # --disable-userns: no user namespaces inside
    assert len(probe["pids_visible"]) <= 4  # bwrap's init, the bridge, the agent (own pid namespace)
    out_dir = provider.base_dir / info.sandbox_id / "out"
    assert os.stat(out_dir / "result.json").st_uid == 65534  # written by uid 65534 on the host too

    # Environment: contract variables, the extra one, nothing forbidden or forged.
    keys = set(probe["env_keys"])
    assert {"OPENHELM_RUN_SPEC", "OPENHELM_OUT_DIR", "OPENHELM_CONTROL_URL", "OPENHELM_RUN_TOKEN"} <= keys
    assert "EXTRA_FLAG" in keys and "AWS_SECRET_ACCESS_KEY" not in keys
    assert probe["control_url"] == "http://127.0.0.1:8787"
    assert probe["proxy_url"] == "http://127.0.0.1:3128"

    # File system: only /out, /tmp and /dev/shm are writable; host secrets and the repo are invisible.
    assert {p for p, r in probe["writes"].items() if r == "ok"} == WRITABLE
    assert all(r in ("EROFS", "EACCES", "ENOENT") for p, r in probe["writes"].items() if p not in WRITABLE)
    assert not any(probe["exists"].values()), probe["exists"]
    assert set(probe["root_listing"]) <= {".pyenv"}  # only the bound interpreter, if it lives there

    # Network: nothing direct; the proxy enforces the policy.
    assert probe["direct_loopback"] == "ECONNREFUSED"  # the host's 127.0.0.1 is another namespace
    assert probe["direct_remote"] == "ENETUNREACH"
    assert probe["dns"] != "resolved"
    allowed = probe["proxy"]["allowed"]
    assert allowed["status"] == 200 and PAGE_MARKER in allowed["body"]
    assert page.wait_for(lambda h: h.path == "/allowed").method == "GET"
    blocked = probe["proxy"]["blocked"]
    assert blocked["status"] == 403 and "blocked by policy" in blocked["body"]
    assert "blocked pattern" in blocked["body"]
    not_allowed = probe["proxy"]["not_allowed"]
    assert not_allowed["status"] == 403 and "not in the allowed domains" in not_allowed["body"]
    metadata = probe["proxy"]["metadata"]
    assert metadata["status"] == 403 and "metadata" in metadata["body"]
    assert probe["connect"]["blocked.example:443"].startswith("HTTP/1.1 403")
    assert probe["connect"]["10.0.0.1:443"].startswith("HTTP/1.1 403")  # private address

    assert provider.kill(info.sandbox_id) is False  # it had already exited
    with pytest.raises(SandboxNotFound):
        provider.read_file(info.sandbox_id, "result.json")
    assert not out_dir.exists()


def test_read_file_refuses_traversal(provider: LocalProvider, control: RecordingServer, page: RecordingServer) -> None:
    info = provider.start(make_request(control.url, probe_standin(control, page)))
    control.wait_for(lambda h: h.path.endswith("/complete"))
    assert provider.wait(info.sandbox_id, timeout=20) == 0
    sid = info.sandbox_id
    for bad in (
        "../logs/stderr.log",
        "sub/../../logs/stderr.log",
        "/etc/passwd",
        "link-shadow",  # symlink to /etc/shadow planted by the sandbox
        "dirlink/etc/shadow",  # symlink to / in the middle of the path
        "sub/rel-link",  # relative symlink climbing out
        "fifo",  # would block a naive reader
        "",
        "a\0b",
    ):
        with pytest.raises(UnsafePath):
            provider.read_file(sid, bad)
    for bad_dir in ("..", "/", "dirlink", "sub/../.."):
        with pytest.raises(UnsafePath):
            provider.list_files(sid, bad_dir)
    assert provider.read_file(sid, "sub/ok.txt") == b"fine"
    assert provider.read_file(sid, "./sub//ok.txt") == b"fine"
    with pytest.raises(FileNotFoundError):
        provider.read_file(sid, "nope.txt")
    listed = provider.list_files(sid)
    assert not {"link-shadow", "dirlink", "fifo", "sub/rel-link"} & set(listed)
    with pytest.raises(SandboxNotFound):
        provider.read_file("lsb_000000000000000000000000", "result.json")


def test_kill_stops_the_whole_tree_within_a_second(provider: LocalProvider, control: RecordingServer) -> None:
    marker = f"standin-hang-{os.getpid()}-{time.monotonic_ns()}"
    request = make_request(control.url, {"mode": "hang", "marker": marker})
    info = provider.start(request)
    control.wait_for(lambda h: h.path.endswith("/progress") and b"hanging" in h.body)
    assert info.sandbox_id in {i.sandbox_id for i in provider.list_running()}
    assert processes_with(marker), "the grandchild should be running"
    # The run token never appears on a host command line (bwrap gets its arguments over an fd).
    assert processes_with(request.run_token) == []
    assert provider.wait(info.sandbox_id, timeout=0) is None

    started = time.monotonic()
    assert provider.kill(info.sandbox_id) is True
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"kill took {elapsed:.2f}s"
    assert processes_with(marker) == []
    assert info.sandbox_id not in {i.sandbox_id for i in provider.list_running()}
    assert provider.kill(info.sandbox_id) is False  # idempotent
    assert provider.kill("lsb_unknown") is False
    with pytest.raises(SandboxNotFound):
        provider.list_files(info.sandbox_id)
    # its logs stay for the operator (and the benchmarks) after the files are gone
    _, stderr = provider.log_paths(info.sandbox_id)
    assert '"standin started"' in stderr.read_text()
    with pytest.raises(SandboxNotFound):
        provider.log_paths("lsb_000000000000000000000000")


def test_kill_sends_sigterm_to_the_agent_first(control: RecordingServer) -> None:
    with make_provider(isolation="bwrap", retain_files=True, kill_grace_s=5) as prov:
        info = prov.start(make_request(control.url, {"mode": "hang", "record_sigterm": True}))
        control.wait_for(lambda h: h.path.endswith("/progress") and b"hanging" in h.body)
        started = time.monotonic()
        assert prov.kill(info.sandbox_id) is True
        assert time.monotonic() - started < 1.0  # it exited on SIGTERM, well within the grace
        out_dir = prov.base_dir / info.sandbox_id / "out"
        assert (out_dir / "sigterm.txt").read_text() == f"got signal {signal.SIGTERM.value}"
        shutil.rmtree(prov.base_dir / info.sandbox_id)


def test_retained_files_stay_readable_after_kill(control: RecordingServer) -> None:
    with make_provider(isolation="bwrap", retain_files=True) as prov:
        info = prov.start(make_request(control.url, {"mode": "probe"}))
        control.wait_for(lambda h: h.path.endswith("/complete"))
        assert prov.kill(info.sandbox_id) in (True, False)
        assert json.loads(prov.read_file(info.sandbox_id, "result.json"))["status"] == "succeeded"
        assert "result.json" in prov.list_files(info.sandbox_id)
        assert prov.out_path(info.sandbox_id) == prov.base_dir / info.sandbox_id / "out"
        with pytest.raises(UnsafePath):
            prov.read_file(info.sandbox_id, "link-shadow")
        with pytest.raises(SandboxNotFound):
            prov.read_file("lsb_000000000000000000000000", "result.json")
        shutil.rmtree(prov.base_dir / info.sandbox_id)


def test_timeout_kills_the_sandbox_by_itself(provider: LocalProvider, control: RecordingServer) -> None:
    marker = f"standin-timeout-{os.getpid()}-{time.monotonic_ns()}"
    info = provider.start(make_request(control.url, {"mode": "hang", "marker": marker}, timeout_s=1))
    control.wait_for(lambda h: h.path.endswith("/progress") and b"hanging" in h.body)
    code = provider.wait(info.sandbox_id, timeout=10)
    assert code is not None, "the sandbox outlived its timeout"
    assert processes_with(marker) == []
    assert provider.list_running() == []
    # Files stay readable until kill(): the control plane may still collect partial evidence.
    assert provider.read_file(info.sandbox_id, "hang.txt") == b"hanging"
    assert provider.kill(info.sandbox_id) is False


def test_loopback_is_refused_unless_allowed(control: RecordingServer, page: RecordingServer) -> None:
    with make_provider(isolation="bwrap", allow_loopback=False) as prov:
        info = prov.start(make_request(control.url, {"mode": "probe", "proxy_urls": {"page": f"{page.url}/x"}}))
        # The control plane lives on loopback too, and stays reachable.
        control.wait_for(lambda h: h.path.endswith("/complete"))
        assert prov.wait(info.sandbox_id, timeout=20) == 0
        probe = json.loads(prov.read_file(info.sandbox_id, "probe.json"))
    refused = probe["proxy"]["page"]
    assert refused["status"] == 403 and "loopback" in refused["body"]
    assert page.hits.empty()


def test_control_channel_only_reaches_internal_paths(provider: LocalProvider, control: RecordingServer) -> None:
    info = provider.start(
        make_request(
            control.url + "/base",
            {"mode": "probe", "proxy_urls": {"control_via_proxy": control.url + "/base/internal/x"}},
        )
    )
    hit = control.wait_for(lambda h: h.path.endswith("/complete"))
    assert hit.path.startswith("/base/internal/runs/")
    assert hit.headers["Host"] == f"127.0.0.1:{control.port}"  # rewritten to the control plane's
    assert provider.wait(info.sandbox_id, timeout=20) == 0
    probe = json.loads(provider.read_file(info.sandbox_id, "probe.json"))
    assert probe["control_url"] == "http://127.0.0.1:8787/base"
    # Through the browser proxy, the control plane is always reachable (even without allow_loopback).
    assert probe["proxy"]["control_via_proxy"]["status"] == 200


def test_exit_code_is_reported_and_leftovers_die(provider: LocalProvider, control: RecordingServer) -> None:
    marker = f"standin-leftover-{os.getpid()}-{time.monotonic_ns()}"
    info = provider.start(make_request(control.url, {"mode": "exit", "code": 7, "marker": marker}))
    assert provider.wait(info.sandbox_id, timeout=20) == 7
    assert provider.list_running() == []
    assert processes_with(marker) == []  # the pid namespace died with the agent


def test_setup_failure_raises_and_leaves_nothing(control: RecordingServer) -> None:
    with make_provider(isolation="bwrap", tmp_size_mb=0) as prov:
        before = set(os.listdir(prov.base_dir))
        with pytest.raises(SandboxStartError, match="bubblewrap"):
            prov.start(make_request(control.url, {"mode": "probe"}))
        assert prov.list_running() == []
        created = set(os.listdir(prov.base_dir)) - before
        assert all(not (prov.base_dir / c / "out").exists() for c in created)


def test_invalid_request_is_a_start_error(provider: LocalProvider, control: RecordingServer) -> None:
    with pytest.raises(SandboxStartError):
        provider.start(make_request(control.url, {}, allowed_domains=("*.",)))
    with pytest.raises(SandboxStartError):
        provider.start(make_request("ftp://nope", {}))
    with pytest.raises(SandboxStartError):
        provider.start(make_request(control.url, {}, timeout_s=0))


@pytest.mark.skipif(os.geteuid() != 0, reason="staging of unreachable paths is a root-only path")
def test_base_dir_unreachable_by_the_sandbox_user_is_staged(
    tmp_path: os.PathLike[str], control: RecordingServer, page: RecordingServer
) -> None:
    base = os.path.join(tmp_path, "private")  # under pytest's 0700 directory
    with make_provider(isolation="bwrap", base_dir=base, allow_loopback=True) as prov:
        info = prov.start(make_request(control.url, {"mode": "probe", "proxy_urls": {"p": page.url}}))
        control.wait_for(lambda h: h.path.endswith("/complete"))
        assert prov.wait(info.sandbox_id, timeout=20) == 0
        probe = json.loads(prov.read_file(info.sandbox_id, "probe.json"))
        assert probe["proxy"]["p"]["status"] == 200
        assert probe["writes"] == {}
        # The staging mounts lived in a private mount namespace: nothing is left mounted on the host.
        with open("/proc/self/mountinfo") as fh:
            assert info.sandbox_id not in fh.read()


def test_sandboxes_die_with_the_provider_process(control: RecordingServer, sandbox_base_dir: str) -> None:
    """A crashed provider (SIGKILL, no close()) leaves no sandbox behind."""
    marker = f"standin-orphan-{os.getpid()}-{time.monotonic_ns()}"
    script = f"""
import sys, threading
sys.path.insert(0, {str(Path.cwd())!r})
from tests.sandbox_local.conftest import make_provider, make_request
prov = make_provider(isolation="bwrap", base_dir={sandbox_base_dir!r})
# Started from a short-lived thread, as a request handler of the dev stack would.
t = threading.Thread(target=prov.start, args=(make_request({control.url!r}, {{"mode": "hang", "marker": {marker!r}}}),))
t.start(); t.join()
threading.Event().wait()
"""
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL)
    try:
        control.wait_for(lambda h: h.path.endswith("/progress") and b"hanging" in h.body, timeout=30)
        pids = processes_with(marker)
        assert pids
        pidfds = [os.pidfd_open(pid) for pid in pids]
        owner.kill()
        owner.wait(timeout=10)
        assert _wait_pidfds(pidfds, 10.0), "the sandbox outlived its provider"
        for fd in pidfds:
            os.close(fd)
    finally:
        owner.kill()
        owner.wait(timeout=10)


def test_run_directories_are_removed_and_only_this_providers(control: RecordingServer) -> None:
    prov = make_provider(isolation="bwrap", keep_logs=1)
    foreign = prov.base_dir / "lsb_0123456789abcdef01234567"  # another provider's, sharing the base dir
    foreign.mkdir()
    try:
        first = prov.start(make_request(control.url, {"mode": "exit", "code": 0}))
        second = prov.start(make_request(control.url, {"mode": "exit", "code": 0}))
        live = prov.start(make_request(control.url, {"mode": "hang"}))
        prov.wait(first.sandbox_id, timeout=20)
        prov.wait(second.sandbox_id, timeout=20)
        prov.kill(first.sandbox_id)  # evidence stored: only its logs stay ...
        assert sorted(p.name for p in (prov.base_dir / first.sandbox_id).iterdir()) == ["logs"]
        prov.kill(second.sandbox_id)  # ... and only for the newest keep_logs killed sandboxes
        assert not (prov.base_dir / first.sandbox_id).exists()
        assert (prov.base_dir / second.sandbox_id / "logs").is_dir()
    finally:
        prov.close()  # the stack stops: everything this provider made goes, live sandboxes included
    assert not (prov.base_dir / second.sandbox_id).exists() and not (prov.base_dir / live.sandbox_id).exists()
    assert foreign.is_dir()
    foreign.rmdir()
