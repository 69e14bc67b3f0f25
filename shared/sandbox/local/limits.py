"""Resource limits and the syscall filter of the local (bubblewrap) sandbox.

* **seccomp** (:func:`seccomp_program`): a deny-list BPF program for ``bwrap --seccomp``, compiled
  with libseccomp (the ``pyseccomp`` ctypes binding, a thin and API-compatible stand-in for
  libseccomp's own Python module, which Debian ships for its system Python only; libseccomp2 itself
  is on every Debian/Ubuntu system, apt depends on it, and ``scripts/system-deps.sh`` checks).
  It refuses what a browser agent never needs and what widens the kernel attack surface most:
  ptrace and cross-process memory access, kernel modules, kexec, mount and namespace calls
  (``unshare``/``setns``, ``clone`` with ``CLONE_NEWUSER``; ``clone3`` answers ENOSYS so libc falls
  back to ``clone``, whose flags the filter can read), keyrings, bpf, userfaultfd,
  perf_event_open, io_uring (ENOSYS: libuv falls back) and a few ancient ones. Chromium runs with
  ``--no-sandbox`` (its own namespace sandbox cannot nest in ours without unprivileged user
  namespaces), so it needs none of these. Other architectures' syscalls (i386 ``int 0x80``, x32)
  kill the process: libseccomp's default for a foreign architecture.
* **cgroup** (:class:`CgroupLimits`): one cgroup per sandbox under this process's own cgroup, with
  a memory limit (swap included) and a pid limit, so a page that allocates without bound or a fork
  bomb meets the kernel's OOM killer or EAGAIN inside its sandbox instead of taking the host down.
  cgroup v1 (separate ``memory`` and ``pids`` hierarchies) and v2 (a writable, delegated cgroup whose
  ``cgroup.subtree_control`` takes ``+memory +pids``) are both handled; where neither is writable
  the provider falls back to ``prlimit --nproc`` (a per-uid process cap; no rlimit bounds a
  browser's memory sanely: RLIMIT_AS breaks V8's reservations) and says so.
The sandbox's processes join the cgroup before bwrap starts (:meth:`SandboxCgroup.join_prefix`, a
shell that writes its own pid and execs), so nothing it forks can escape it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.logging import get_logger

log = get_logger("openhelm.sandbox.limits")
_provider_log = get_logger("openhelm.sandbox.local")  # detect_limits speaks for the provider

CGROUP_ROOT = Path("/sys/fs/cgroup")
CLONE_NEWUSER = 0x10000000
EPERM_SYSCALLS = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "userfaultfd",
    "perf_event_open",
    "open_by_handle_at",
    "name_to_handle_at",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "syslog",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "uselib",
    "vhangup",
)
ENOSYS_SYSCALLS = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")

_seccomp_lock = threading.Lock()
_seccomp_cache: list[bytes | None] = []


def seccomp_program() -> bytes | None:
    """The compiled filter (BPF, native byte order) for ``bwrap --seccomp``; None without libseccomp."""
    with _seccomp_lock:
        if not _seccomp_cache:
            _seccomp_cache.append(_compile())
        return _seccomp_cache[0]


def _compile() -> bytes | None:
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as exc:  # OSError: the binding found no libseccomp.so.2
        log.warning("sandbox.seccomp_unavailable", error=str(exc))
        return None
    try:
        program = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for name in EPERM_SYSCALLS:
            _add(seccomp, program, seccomp.ERRNO(errno.EPERM), name)
        for name in ENOSYS_SYSCALLS:
            _add(seccomp, program, seccomp.ERRNO(errno.ENOSYS), name)
        _add(
            seccomp,
            program,
            seccomp.ERRNO(errno.EPERM),
            "clone",
            seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER),
        )
        with tempfile.TemporaryFile() as fh:
            program.export_bpf(fh)
            fh.seek(0)
            return fh.read()
    except Exception as exc:  # libseccomp's errors are plain RuntimeError/OSError from ctypes
        log.warning("sandbox.seccomp_unavailable", error=f"{type(exc).__name__}: {exc}")
        return None


def _add(seccomp: object, program: object, action: object, name: str, *args: object) -> None:
    try:
        program.add_rule(action, name, *args)  # type: ignore[attr-defined]
    except (RuntimeError, OSError, ValueError) as exc:  # a syscall this kernel/libseccomp does not know
        log.debug("sandbox.seccomp_rule_skipped", syscall=name, error=str(exc))


# --------------------------------------------------------------------------------------------------
# cgroups


@dataclass
class SandboxCgroup:
    """The cgroup directories of one sandbox (one per hierarchy on v1, one on v2)."""

    dirs: list[Path]
    version: int
    memory_dir: Path | None = None

    def join_prefix(self) -> list[str]:
        """argv prefix that moves itself into the cgroup(s), then execs the rest."""
        script = 'for f; do [ "$f" = -- ] && break; echo $$ > "$f"; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "cgroup-join", *[str(d / "cgroup.procs") for d in self.dirs], "--"]

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this sandbox."""
        if self.memory_dir is None:
            return 0
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (self.memory_dir / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def remove(self) -> None:
        """rmdir the cgroup(s); they must be empty (the sandbox has exited)."""
        for directory in self.dirs:
            try:
                directory.rmdir()
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    log.warning("sandbox.cgroup_not_removed", path=str(directory), error=str(exc))


@dataclass
class CgroupLimits:
    """Where per-sandbox cgroups can be made here, probed once by :meth:`detect`."""

    version: int  # 0: none, 1 or 2
    parents: dict[str, Path] = field(default_factory=dict)  # controller ("memory", "pids") -> parent dir
    reason: str = ""

    @classmethod
    def detect(cls, root: Path = CGROUP_ROOT, self_cgroup: str = "/proc/self/cgroup") -> CgroupLimits:
        try:
            lines = Path(self_cgroup).read_text().splitlines()
        except OSError as exc:
            return cls(0, reason=f"cannot read {self_cgroup}: {exc}")
        own: dict[str, str] = {}
        for line in lines:
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                own[name] = path
        if (root / "cgroup.controllers").is_file() and "" in own:
            return cls._detect_v2(root / own[""].lstrip("/"))
        parents = {}
        for controller in ("memory", "pids"):
            if controller in own and _writable_dir(root / controller / own[controller].lstrip("/")):
                parents[controller] = root / controller / own[controller].lstrip("/")
        if "memory" in parents:
            return cls(1, parents)
        return cls(0, reason="no writable memory cgroup (v1) and no cgroup v2 here")

    @classmethod
    def _detect_v2(cls, own: Path) -> CgroupLimits:
        try:
            enabled = (own / "cgroup.subtree_control").read_text().split()
            if not {"memory", "pids"} <= set(enabled):
                (own / "cgroup.subtree_control").write_text("+memory +pids")
        except OSError as exc:
            # The no-internal-processes rule: a cgroup holding processes (ours) cannot hand
            # controllers to children. Run the stack in a delegated scope (systemd-run --scope
            # --property=Delegate=yes) to get per-sandbox limits.
            return cls(0, reason=f"cgroup v2 at {own} cannot delegate memory and pids: {exc.strerror or exc}")
        return cls(2, {"memory": own, "pids": own})

    def sweep(self, older_than_s: float = 60.0, prefix: str = "openhelm-lsb_") -> int:
        """Remove sandbox cgroups a dead provider left (a provider killed with SIGKILL cannot clean
        up): empty, and made more than ``older_than_s`` ago, so never one a live provider has just
        made and is about to join. How many went."""
        removed = 0
        now = time.time()
        for parent in dict.fromkeys(self.parents.values()):
            try:
                candidates = list(parent.glob(f"{prefix}*"))
            except OSError:
                continue
            for directory in candidates:
                try:
                    if now - directory.stat().st_mtime < older_than_s:
                        continue
                    if (directory / "cgroup.procs").read_text().strip():
                        continue
                    directory.rmdir()
                    removed += 1
                except OSError:
                    continue
        return removed

    @property
    def available(self) -> bool:
        return self.version in (1, 2)

    def create(self, sandbox_id: str, memory_mb: int, pids: int) -> SandboxCgroup:
        """A new cgroup for ``sandbox_id`` with its limits set (OSError if that fails)."""
        name = f"openhelm-{sandbox_id}"
        made: list[Path] = []
        try:
            if self.version == 2:
                directory = self.parents["memory"] / name
                directory.mkdir()
                made.append(directory)
                limit = str(memory_mb * 1024 * 1024)
                (directory / "memory.max").write_text(limit)
                _write_if_exists(directory / "memory.swap.max", "0")
                (directory / "pids.max").write_text(str(pids))
                return SandboxCgroup(made, 2, directory)
            memory = self.parents["memory"] / name
            memory.mkdir()
            made.append(memory)
            limit = str(memory_mb * 1024 * 1024)
            (memory / "memory.limit_in_bytes").write_text(limit)
            _write_if_exists(memory / "memory.memsw.limit_in_bytes", limit)  # no swap beyond the limit
            if "pids" in self.parents:
                pid_dir = self.parents["pids"] / name
                pid_dir.mkdir()
                made.append(pid_dir)
                (pid_dir / "pids.max").write_text(str(pids))
            return SandboxCgroup(made, 1, memory)
        except OSError:
            for directory in reversed(made):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise


def _write_if_exists(path: Path, value: str) -> None:
    if path.exists():
        with contextlib.suppress(OSError):
            path.write_text(value)


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def prlimit_prefix(nproc: int) -> list[str]:
    """Fallback without cgroups: a per-uid process cap (and no core dumps) through util-linux prlimit."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        return []
    return [prlimit, f"--nproc={nproc}:{nproc}", "--core=0:0", "--"]


def detect_limits(*, seccomp: bool) -> tuple[CgroupLimits, bytes | None]:
    """The cgroup limits available here (stale cgroups of earlier processes swept) and the syscall
    filter (when ``seccomp``, and libseccomp is present). Warns when there is no memory limit."""
    cgroups = CgroupLimits.detect()
    if cgroups.available:
        cgroups.sweep()
    else:
        _provider_log.warning(
            "sandbox.no_memory_limit",
            message="sandboxes run without a memory limit here (a page can take this machine's memory); "
            "only a per-uid process cap applies",
            reason=cgroups.reason,
        )
    return cgroups, seccomp_program() if seccomp else None
