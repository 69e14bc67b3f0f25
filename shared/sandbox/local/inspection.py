"""Looking into a local sandbox without changing it: its out-dir files, exit code, OOM kills,
live processes and log files, for the control plane, the dev stack and tests. A mixin of
LocalProvider."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from shared.sandbox.base import SandboxNotFound
from shared.sandbox.local.host import SANDBOX_ID_PATTERN
from shared.sandbox.local.outdir import list_out_files, read_out_file
from shared.sandbox.local.processes import descendants
from shared.sandbox.local.record import SandboxRecord


class SandboxInspection:
    """Read-only half of :class:`~shared.sandbox.local.provider.LocalProvider` (its state lives there)."""

    # ---------------------------------------------------------------------------------------------
    # Out-dir files (SandboxProvider)

    def list_files(self, sandbox_id: str, subdir: str = "") -> list[str]:
        return list_out_files(self._readable_out_dir(sandbox_id), subdir)

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        return read_out_file(
            self._readable_out_dir(sandbox_id), path, sandbox_id=sandbox_id, max_read_bytes=self.max_read_bytes
        )

    def out_path(self, sandbox_id: str) -> Path:
        """Host path of a sandbox's out dir; with ``retain_files`` it outlives the sandbox (the local
        stack shows evidence from there). Holds files written by the sandbox: read, don't follow links."""
        if not SANDBOX_ID_PATTERN.match(sandbox_id):
            raise SandboxNotFound(f"no sandbox {sandbox_id!r}")
        return self.base_dir / sandbox_id / "out"

    # ---------------------------------------------------------------------------------------------
    # Extras (dev stack and tests)

    def wait(self, sandbox_id: str, timeout: float | None = None) -> int | None:
        """Wait for the sandbox's process to end; its exit code, or None if still running."""
        rec = self._get(sandbox_id)
        rec.exited.wait(timeout)
        return rec.exit_code if rec.exited.is_set() else None

    def oom_kills(self, sandbox_id: str) -> int:
        with self._lock:
            rec = self._sandboxes.get(sandbox_id)
        if rec is None:
            return 0
        if rec.exited.is_set() or rec.cgroup is None:
            return rec.oom_kills
        return rec.cgroup.oom_kills()

    def processes(self, sandbox_id: str) -> dict[int, list[str]]:
        """Host pid → argv of every live process of a sandbox (operators, fault-injection tests)."""
        with self._lock:  # warm sandboxes too (tests end their Chromium)
            warm = {r.info.sandbox_id: r for r in self._warm}
            rec = self._sandboxes.get(sandbox_id) or warm.get(sandbox_id)
        if rec is None:
            raise SandboxNotFound(sandbox_id)
        root = rec.init_pid if rec.isolation == "bwrap" and rec.init_pid else (rec.proc.pid if rec.proc else None)
        found: dict[int, list[str]] = {}
        for pid in descendants(root) if root else []:
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
                found[pid] = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
        return found

    def log_paths(self, sandbox_id: str) -> tuple[Path, Path]:
        """(stdout, stderr) log files of a sandbox; they outlive kill() (the run dir keeps ``logs/``)."""
        with self._lock:
            rec = self._sandboxes.get(sandbox_id)
        if rec is not None:
            log_dir = rec.log_dir
        elif SANDBOX_ID_PATTERN.match(sandbox_id) and (self.base_dir / sandbox_id / "logs").is_dir():
            log_dir = self.base_dir / sandbox_id / "logs"
        else:
            raise SandboxNotFound(sandbox_id)
        return log_dir / "stdout.log", log_dir / "stderr.log"

    # ---------------------------------------------------------------------------------------------
    # Internals

    def _readable_out_dir(self, sandbox_id: str) -> Path:
        """Out dir of a live sandbox, or of a killed one whose files ``retain_files`` kept."""
        with self._lock:
            rec = self._sandboxes.get(sandbox_id)
        if rec is not None:
            return rec.out_dir
        if self.retain_files and SANDBOX_ID_PATTERN.match(sandbox_id):
            out_dir = self.base_dir / sandbox_id / "out"
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(out_dir).st_mode):
                    return out_dir
        raise SandboxNotFound(sandbox_id)

    def _get(self, sandbox_id: str) -> SandboxRecord:
        with self._lock:
            rec = self._sandboxes.get(sandbox_id)
        if rec is None:
            raise SandboxNotFound(sandbox_id)
        return rec
