"""A local sandbox's end: the watcher that reaps it and reports an exit nobody asked for, the
lifetime timer, and teardown (process tree, stragglers, cgroup, servers, files). A mixin of LocalProvider."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import quote

from shared.logging import get_logger
from shared.sandbox.local.host import DIRECT_OPENER, EXIT_REPORT_TIMEOUT_S
from shared.sandbox.local.processes import descendants, open_pidfds, signal_pidfds, tagged_processes, wait_pidfds
from shared.sandbox.local.record import SandboxRecord

log = get_logger("openhelm.sandbox.local")


class SandboxWatcher:
    """Watch-and-teardown half of :class:`~shared.sandbox.local.provider.LocalProvider`."""

    def _watch(self, rec: SandboxRecord) -> None:
        assert rec.proc is not None
        code = rec.proc.wait()
        if rec.isolation == "subprocess":
            self._end_stragglers(rec)
        if rec.init_pidfd is not None:
            # The outer bwrap is gone; its pid 1 dies with it (--die-with-parent) and takes the
            # whole pid namespace along. Wait for that, so "exited" means no process is left.
            wait_pidfds([rec.init_pidfd], 10.0)
            with rec.lock:
                os.close(rec.init_pidfd)
                rec.init_pidfd = None
        if rec.status_fd is not None:
            with contextlib.suppress(OSError):
                os.close(rec.status_fd)
            rec.status_fd = None
        rec.exit_code = code
        if rec.cgroup is not None:
            rec.oom_kills = rec.cgroup.oom_kills()
            rec.cgroup.remove()
        if rec.timer is not None:
            rec.timer.cancel()
        for server in rec.servers:
            server.stop()
        ran_s = round(time.monotonic() - rec.started_mono, 3)
        log.info(
            "sandbox.exited",
            sandbox_id=rec.info.sandbox_id,
            run_id=rec.info.run_id,
            exit_code=code,
            timed_out=rec.timed_out,
            oom_kills=rec.oom_kills,
            duration_s=ran_s,
        )
        rec.exited.set()
        with rec.lock:
            unexpected = not rec.killed
        if unexpected:
            try:
                self._report_exit(rec, code, ran_s)
            except Exception as exc:  # never let a report take the watcher down; the reaper remains
                log.warning("sandbox.exit_report_failed", sandbox_id=rec.info.sandbox_id, error=repr(exc))

    def _report_exit(self, rec: SandboxRecord, code: int, ran_s: float) -> None:
        """Tell the control plane the sandbox ended on its own (the supervisor inside normally did
        already; this covers a dead supervisor, bridge or sandbox init, and the lifetime timer). The
        control plane ignores it when the run already had its completion or another report."""
        if not (rec.control_url and rec.run_token):
            return
        report: dict[str, object] = {"reporter": "provider", "timed_out": rec.timed_out, "ran_s": ran_s}
        if rec.oom_kills:
            report["oom_kills"] = rec.oom_kills
        if code < 0:
            report["signal"] = -code
        elif code > 128 and code - 128 < 65:  # bwrap passes a killed child on as 128 + signal
            report["signal"] = code - 128
        else:
            report["exit_code"] = code
        url = f"{rec.control_url}/internal/runs/{quote(rec.info.run_id, safe='')}/exit"
        request = urllib.request.Request(
            url,
            data=json.dumps(report).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {rec.run_token}"},
        )
        try:
            with DIRECT_OPENER.open(request, timeout=EXIT_REPORT_TIMEOUT_S) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = int(exc.code)
        except (OSError, ValueError, http.client.HTTPException) as exc:  # the reaper remains the backstop
            log.warning("sandbox.exit_report_failed", sandbox_id=rec.info.sandbox_id, error=str(exc))
            return
        log.info("sandbox.exit_reported", sandbox_id=rec.info.sandbox_id, run_id=rec.info.run_id, status=status)

    def _expire(self, rec: SandboxRecord) -> None:
        if rec.exited.is_set():
            return
        rec.timed_out = True
        log.warning("sandbox.timeout", sandbox_id=rec.info.sandbox_id, run_id=rec.info.run_id)
        self._terminate(rec)

    def _terminate(self, rec: SandboxRecord) -> None:
        """SIGTERM every process of the sandbox, SIGKILL after the grace period; returns once the
        whole tree is gone. Processes are signalled through pidfds (no pid-reuse races).

        bwrap mode: the processes inside are the descendants of bwrap's init. After the grace period
        the init gets SIGKILL, which makes the kernel kill the rest of its pid namespace; the outer
        bwrap then reaps it and exits by itself (killing the outer bwrap first would also work,
        through --die-with-parent, but would orphan the init). Subprocess mode: the process group
        plus every descendant, since Playwright starts Chromium in a session of its own.
        """
        proc = rec.proc
        if proc is None or rec.exited.is_set():
            return
        init_fd: int | None = None
        if rec.isolation == "bwrap":
            with rec.lock:
                if rec.init_pidfd is not None:
                    init_fd = os.dup(rec.init_pidfd)
        root_pid = rec.init_pid if init_fd is not None else proc.pid
        pids = descendants(root_pid) if root_pid else []
        if rec.isolation == "subprocess":
            pids += tagged_processes(rec.info.sandbox_id)
        members = open_pidfds(pids)

        def signal_all(sig: int, *, group: bool) -> None:
            signal_pidfds(members, sig)
            if group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)

        try:
            deadline = time.monotonic() + self.kill_grace_s
            signal_all(signal.SIGTERM, group=init_fd is None)
            if rec.exited.wait(self.kill_grace_s) and wait_pidfds(members, deadline - time.monotonic()):
                return
            if init_fd is not None:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(init_fd, signal.SIGKILL)
                signal_all(signal.SIGKILL, group=False)
                if rec.exited.wait(5.0):
                    return
            signal_all(signal.SIGKILL, group=True)
            if not (rec.exited.wait(10.0) and wait_pidfds(members, 10.0)):
                log.error("sandbox.unkillable", sandbox_id=rec.info.sandbox_id, pid=proc.pid)
        finally:
            for pidfd in [*members, *([init_fd] if init_fd is not None else [])]:
                os.close(pidfd)

    def _end_stragglers(self, rec: SandboxRecord) -> None:
        """Subprocess mode, after the agent's exit: end what it left running (SIGTERM, then SIGKILL)."""
        stragglers = open_pidfds([p for p in tagged_processes(rec.info.sandbox_id) if p != os.getpid()])
        if not stragglers:
            return
        try:
            log.info("sandbox.stragglers", sandbox_id=rec.info.sandbox_id, count=len(stragglers))
            signal_pidfds(stragglers, signal.SIGTERM)
            if not wait_pidfds(stragglers, self.kill_grace_s):
                signal_pidfds(stragglers, signal.SIGKILL)
                wait_pidfds(stragglers, 10.0)
        finally:
            for pidfd in stragglers:
                os.close(pidfd)

    def _cleanup(self, rec: SandboxRecord) -> None:
        if rec.timer is not None:
            rec.timer.cancel()
        for server in rec.servers:
            server.stop()
        if self.retain_files:
            return
        if rec.stage_dir is not None:
            shutil.rmtree(rec.stage_dir, ignore_errors=True)
        for name in ("out", "sock", "live", "home", "handout", "mailbox", "run_spec.json"):
            path = rec.run_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _teardown_failed(self, rec: SandboxRecord) -> None:
        if rec.proc is not None and rec.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(rec.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                rec.proc.wait(timeout=10)
        for attr in ("status_fd", "init_pidfd"):
            fd = getattr(rec, attr)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(rec, attr, None)
        rec.exited.set()
        if rec.cgroup is not None:
            rec.cgroup.remove()
        self._cleanup(rec)
