"""The local sandbox provider: the agent in a bubblewrap sandbox, as an unprivileged user.

What one sandbox is (isolation ``"bwrap"``)::

    host                                               sandbox (bwrap --unshare-all ...)
    ─────────────────────────────────────────────      ──────────────────────────────────────────
    ControlForwarder  ◄── <run>/sock/control.sock ──── bridge.py 127.0.0.1:8787 ◄── agent (callbacks)
      → control_url (progress, completion)
    ControlForwarder  ◄── <run>/sock/llm.sock     ──── bridge.py 127.0.0.1:8788 ◄── agent (OpenAI
      → llm_url (the LLM gateway's function URL)                                    client)
    EgressProxy       ◄── <run>/sock/proxy.sock   ──── bridge.py 127.0.0.1:3128 ◄── Chromium
      → domain policy, public addresses only
    <run>/out  (owned by the sandbox uid)         ──── /out (the only writable host path)

* The process tree runs as uid/gid 65534 on the host (``setpriv`` drops to it when the provider runs
  as root; otherwise the provider's own unprivileged uid is used) inside new user, mount, pid, net,
  ipc, uts and cgroup namespaces, with all capabilities dropped, ``--die-with-parent``,
  ``--new-session`` and a cleared environment.
* File system: a read-only root (bwrap's tmpfs, remounted read-only after setup) holding read-only
  binds of ``/usr`` (+ the ``/bin``, ``/lib*`` links), a short list of ``/etc`` files, the Python
  installation(s) and venv of ``python_executable``, ``agent_path`` and ``extra_ro_paths`` (each at
  its host path, so venv links, RPATHs and shebangs keep working), a private ``/tmp`` (tmpfs),
  fresh ``/proc`` and a minimal ``/dev``. Synthetic ``/etc/passwd``, ``/etc/group``, ``/etc/hosts``.
  Writable: ``/out``, ``/tmp``, ``/dev/shm`` only. The run spec and the bridge script are copied in
  from memory (``--ro-bind-data``); every bwrap argument is passed through a file descriptor
  (``--args``), so the run token never appears in a host command line.
* Host paths the sandbox uid cannot reach (a Python under ``/root`` is the usual case) are bound
  anyway when the provider runs as root: ``unshare --mount`` gives the launch its own private mount
  namespace in which root bind-mounts them into a staging directory bwrap can read. The staging
  mounts die with the sandbox; the host mount table is never touched.
* Network: a new, empty network namespace (loopback only). The only way out is the unix sockets
  above; ``bridge.py`` (started first, inside) exposes them on the sandbox's 127.0.0.1, and the agent
  gets ``OPENHELM_CONTROL_URL=http://127.0.0.1:8787<control path>``,
  ``OPENHELM_LLM_URL=http://127.0.0.1:8788<llm path>`` (when the request has an ``llm_url``) and
  ``OPENHELM_BROWSER_PROXY=http://127.0.0.1:3128``. See ``egress_server.py`` and ``egress_policy.py`` for the policy.

Fallback (isolation ``"subprocess"``): where bubblewrap is missing or cannot create namespaces
(probed once per process), the agent runs as a plain subprocess with the same environment, as uid
65534 when the provider is root and the interpreter is reachable by that uid; Chromium is still
pointed at the filtering proxy (on a host TCP port), but nothing stops the agent from ignoring it.
This is logged loudly at construction.

Limits (``limits.py``): a seccomp filter (``bwrap --seccomp``), and a cgroup per sandbox with memory
and pid limits where one can be made (else a per-uid process cap), joined before bwrap starts.

Inside, bwrap runs ``bridge.py`` → the image's supervisor (``openhelm_agent/supervise.py``, copied in
like the bridge) → the agent. The supervisor reports an agent that exits without its completion
(``/internal/runs/{id}/exit``); the watcher below reports a sandbox that ended on its own (a dead
bridge, supervisor or init ends the whole pid namespace at once), so a crash fails its run within
a second instead of waiting for the reaper.

Lifecycle: :meth:`LocalProvider.start` returns as soon as bwrap has set the sandbox up (a few tens
of milliseconds). A watcher thread reaps the process; a timer kills it after ``request.timeout_s``;
``setpriv --pdeathsig`` kills it if the provider's process dies (no orphans after a crash of
``openhelm dev``). "Exited" means the sandbox's whole pid namespace is gone (waited on through a
pidfd of its init). Files stay readable after the process ends (the control plane reads them after
the completion callback) until :meth:`LocalProvider.kill`, which also removes the run's files unless
``retain_files`` is set (the logs of the newest ``keep_logs`` killed sandboxes are kept);
:meth:`LocalProvider.close` removes every run directory this provider made, and nothing else.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import http.client
import json
import os
import re
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

from shared.logging import get_logger
from shared.sandbox.base import (
    SandboxError,
    SandboxFileNotFound,
    SandboxInfo,
    SandboxNotFound,
    SandboxProvider,
    SandboxRequest,
    SandboxStartError,
    UnsafePath,
)
from shared.sandbox.env_policy import split_envs
from shared.sandbox.local.egress_policy import EgressPolicy, Resolver, system_resolver
from shared.sandbox.local.egress_server import ControlForwarder, EgressProxy
from shared.sandbox.local.limits import CgroupLimits, SandboxCgroup, prlimit_prefix, seccomp_program

log = get_logger("openhelm.sandbox.local")

Isolation = Literal["auto", "bwrap", "subprocess"]

SANDBOX_UID = 65534
SANDBOX_GID = 65534
HOSTNAME = "openhelm-sandbox"
INNER_CONTROL_PORT = 8787
INNER_LLM_PORT = 8788
INNER_PROXY_PORT = 3128
IN_SANDBOX = "/run/openhelm"
OUT_IN_SANDBOX = "/out"
BRIDGE_SOURCE = Path(__file__).with_name("bridge.py")
REPO_ROOT = Path(__file__).resolve().parents[3]
# The sandbox's start command wraps the agent in the image's supervisor (stdlib only, copied in).
SUPERVISOR_SOURCE = REPO_ROOT / "sandbox_image" / "agent" / "openhelm_agent" / "supervise.py"
EXIT_REPORT_TIMEOUT_S = 5.0
# The exit report goes straight to the control plane, whatever proxy the host environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Mounted read-only at the same path (bwrap --ro-bind-try); host symlinks are recreated as links.
SYSTEM_DIRS = ("/usr",)
SYSTEM_LINKS_OR_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_PATHS = (
    "/etc/alternatives",
    "/etc/ca-certificates",
    "/etc/chromium",
    "/etc/chromium.d",
    "/etc/fonts",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/nsswitch.conf",
    "/etc/os-release",
    "/etc/protocols",
    "/etc/services",
    "/etc/ssl",
    "/etc/timezone",
    "/etc/xdg",
    "/var/cache/fontconfig",
)
_SANDBOX_ID = re.compile(r"^lsb_[0-9a-f]{24}$")

_probe_lock = threading.Lock()
_probe_cache: dict[tuple[str, ...], tuple[bool, str]] = {}


# --------------------------------------------------------------------------------------------------
# Host helpers


def _setpriv_prefix(setpriv: str) -> list[str]:
    return [
        setpriv,
        f"--reuid={SANDBOX_UID}",
        f"--regid={SANDBOX_GID}",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ]


def _launch_prefix(setpriv: str | None, drop_to_sandbox_uid: bool) -> list[str]:
    """setpriv: drop to the sandbox uid (as root) and die with the provider (PR_SET_PDEATHSIG)."""
    if setpriv is None:
        return []
    prefix = _setpriv_prefix(setpriv) if drop_to_sandbox_uid else [setpriv]
    return [*prefix, "--pdeathsig", "SIGKILL"]


def _system_args() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_DIRS:
        args += ["--ro-bind", path, path]
    for path in SYSTEM_LINKS_OR_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def probe_bwrap(bwrap: str = "bwrap", setpriv: str | None = None) -> tuple[bool, str]:
    """Can ``bwrap`` create a sandbox here (as the sandbox uid)? Probed once per process and key."""
    key = (bwrap, setpriv or "")
    with _probe_lock:
        if key in _probe_cache:
            return _probe_cache[key]
        resolved = shutil.which(bwrap)
        if resolved is None:
            result = (False, f"{bwrap} not found (install the 'bubblewrap' package)")
        else:
            cmd = [*(_setpriv_prefix(setpriv) if setpriv else []), resolved, "--unshare-all"]
            cmd += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
            cmd += [*_system_args(), "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
            cmd += ["--remount-ro", "/", "--", "/usr/bin/true"]
            try:
                done = subprocess.run(cmd, capture_output=True, timeout=20, env={"PATH": "/usr/bin:/bin"})
                detail = done.stderr.decode(errors="replace").strip()
                result = (done.returncode == 0, detail or f"exit code {done.returncode}")
            except (OSError, subprocess.SubprocessError) as exc:
                result = (False, f"{exc.__class__.__name__}: {exc}")
            if result[0]:
                result = (True, "ok")
        _probe_cache[key] = result
        return result


def _bwrap_has_option(bwrap: str, option: str) -> bool:
    try:
        done = subprocess.run([bwrap, "--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return option.encode() in done.stdout + done.stderr


def reachable_by(path: str | os.PathLike[str], uid: int, gid: int) -> bool:
    """Can ``uid``/``gid`` (no supplementary groups) traverse to and read ``path`` (its real path)?"""
    real = Path(os.path.realpath(path))
    chain = [*reversed(real.parents), real]
    for index, item in enumerate(chain):
        try:
            st = os.stat(item)
        except OSError:
            return False
        last = index == len(chain) - 1
        need = (4 | (1 if stat.S_ISDIR(st.st_mode) else 0)) if last else 1
        if st.st_uid == uid:
            bits = (st.st_mode >> 6) & 7
        elif st.st_gid == gid:
            bits = (st.st_mode >> 3) & 7
        else:
            bits = st.st_mode & 7
        if uid != 0 and bits & need != need:
            return False
    return True


def _python_layout(python: str) -> list[str]:
    """Prefixes (venv and base installation) of ``python``, as that interpreter reports them."""
    code = "import json,sys;print(json.dumps([sys.prefix,sys.base_prefix,sys.exec_prefix,sys.base_exec_prefix]))"
    try:
        done = subprocess.run([python, "-I", "-c", code], capture_output=True, timeout=30, check=True)
        prefixes = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise ValueError(f"cannot run python_executable {python!r}: {exc}") from exc
    return [str(p) for p in dict.fromkeys(prefixes)]


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        ppid = int(data[data.rfind(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _tagged_processes(sandbox_id: str) -> list[int]:
    """Pids whose environment carries ``OPENHELM_SANDBOX_ID=<sandbox_id>`` (readable ones only)."""
    needle = f"OPENHELM_SANDBOX_ID={sandbox_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _pidfds(pids: Sequence[int]) -> list[int]:
    fds = []
    for pid in dict.fromkeys(pids):
        with contextlib.suppress(OSError):
            fds.append(os.pidfd_open(pid))
    return fds


def _signal_pidfds(pidfds: Sequence[int], sig: int) -> None:
    for pidfd in pidfds:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(pidfd, sig)


def _wait_pidfds(pidfds: Sequence[int], timeout: float) -> bool:
    """Wait until every process behind ``pidfds`` has exited; False on timeout."""
    deadline = time.monotonic() + timeout
    pending = list(pidfds)
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select(pending, [], [], remaining)
        pending = [fd for fd in pending if fd not in ready]
    return True


def _data_fd(content: bytes) -> int:
    fd = os.memfd_create("openhelm-sandbox")
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _default_base_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/tmp/openhelm-sandboxes")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "openhelm-sandboxes"
    return Path(f"/tmp/openhelm-sandboxes-{os.geteuid()}")


# --------------------------------------------------------------------------------------------------
# The provider


@dataclass(eq=False)
class _Sandbox:
    info: SandboxInfo
    run_dir: Path
    out_dir: Path
    log_dir: Path
    isolation: str
    proc: subprocess.Popen[bytes] | None = None
    servers: list[ControlForwarder | EgressProxy] = field(default_factory=list)
    status_fd: int | None = None
    # pidfd of the sandbox's init (bwrap's pid 1): readable once every process of the sandbox is gone.
    init_pidfd: int | None = None
    init_pid: int | None = None
    stage_dir: Path | None = None
    timer: threading.Timer | None = None
    exited: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started_mono: float = field(default_factory=time.monotonic)
    exit_code: int | None = None
    killed: bool = False
    timed_out: bool = False
    # Where the watcher reports an exit nobody asked for (the run's callback base URL and token).
    control_url: str = ""
    run_token: str = field(default="", repr=False)
    cgroup: SandboxCgroup | None = None
    oom_kills: int = 0


@dataclass(frozen=True)
class _Bind:
    source: str  # real host path
    dest: str  # path inside the sandbox
    writable: bool = False


class LocalProvider(SandboxProvider):
    """Runs the agent in a bubblewrap sandbox on this machine (see the module docstring).

    Args:
        base_dir: where per-run directories live (default ``/tmp/openhelm-sandboxes`` as root,
            ``$XDG_RUNTIME_DIR/openhelm-sandboxes`` otherwise).
        python_executable: interpreter that runs the bridge and, by default, the agent (default: this
            process's). Its venv and base installation are bound read-only at their host paths.
        agent_path: directory put on ``PYTHONPATH`` inside (default ``sandbox_image/agent``).
        chromium: Chromium executable handed to the agent as ``OPENHELM_CHROMIUM``.
        allow_loopback: let the browser reach loopback addresses through the proxy (``openhelm dev``,
            to test pages served on the developer's machine). Private, link-local and metadata
            addresses stay refused. Logged as a warning.
        command: argv run inside instead of ``[python_executable, "-m", "openhelm_agent"]``.
        extra_ro_paths: more host paths bound read-only at the same path.
        isolation: ``"auto"`` (bwrap if it works, else the subprocess fallback with a loud warning),
            ``"bwrap"`` (refuse to run without it) or ``"subprocess"``.
        kill_grace_s: SIGTERM → SIGKILL delay of :meth:`kill`.
        tmp_size_mb: size limit of the sandbox's ``/tmp``.
        retain_files: keep the run directory after :meth:`kill` and :meth:`close` (debugging).
        keep_logs: how many killed sandboxes keep their ``logs/`` (the newest); older run
            directories are removed whole. :meth:`close` removes every run directory this provider
            made (never anything else in ``base_dir``: other providers may share it).
        max_read_bytes: largest file :meth:`read_file` returns.
        resolver: host name → addresses for the proxy (tests); default the system resolver.
        allow_nested_userns: let processes inside create user namespaces (needed only if Chromium
            runs with its own namespace sandbox; the agent runs it with ``--no-sandbox``). Off by
            default: unprivileged user namespaces are a large kernel attack surface.
        memory_limit_mb, pids_limit: per-sandbox cgroup limits (memory with swap; processes and
            threads) where a cgroup can be made here (``limits.py``); else a per-uid process cap.
        seccomp: apply the syscall filter of ``limits.py`` (bwrap isolation, libseccomp present).
    """

    name = "local"

    def __init__(
        self,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        python_executable: str | None = None,
        agent_path: str | os.PathLike[str] | None = None,
        chromium: str = "/usr/bin/chromium",
        allow_loopback: bool = False,
        command: Sequence[str] | None = None,
        extra_ro_paths: Sequence[str | os.PathLike[str]] = (),
        isolation: Isolation = "auto",
        bwrap: str = "bwrap",
        setpriv: str = "setpriv",
        kill_grace_s: float = 0.5,
        tmp_size_mb: int = 1024,
        retain_files: bool = False,
        keep_logs: int = 20,
        max_read_bytes: int = 64 * 1024 * 1024,
        resolver: Resolver = system_resolver,
        allow_nested_userns: bool = False,
        memory_limit_mb: int = 2048,
        pids_limit: int = 1024,
        seccomp: bool = True,
    ) -> None:
        self.python = python_executable or sys.executable
        default_agent = REPO_ROOT / "sandbox_image" / "agent"
        self.agent_path = os.path.abspath(agent_path) if agent_path is not None else str(default_agent)
        self.chromium = chromium
        self.allow_loopback = allow_loopback
        self.command = list(command) if command else [self.python, "-m", "openhelm_agent"]
        self.kill_grace_s = kill_grace_s
        self.tmp_size_mb = tmp_size_mb
        self.retain_files = retain_files
        self.keep_logs = keep_logs
        # Run directories this instance made: those with logs kept (oldest first), and all of them.
        self._logs_kept: list[str] = []
        self._made: set[str] = set()
        self.max_read_bytes = max_read_bytes
        self.resolver = resolver
        self.is_root = os.geteuid() == 0
        self._sandboxes: dict[str, _Sandbox] = {}
        self._lock = threading.Lock()
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")

        self._setpriv = shutil.which(setpriv)
        if self.is_root and self._setpriv is None:
            raise ValueError("running as root needs setpriv (util-linux) to drop to uid 65534")
        self._unshare = shutil.which("unshare") if self.is_root else None
        self._bwrap = shutil.which(bwrap) or bwrap
        self._disable_userns = not allow_nested_userns and _bwrap_has_option(self._bwrap, "--disable-userns")

        # Software the sandbox needs, bound read-only at the same path.
        ro: list[str] = [*_python_layout(self.python)]
        if os.path.isdir(self.agent_path):
            ro.append(self.agent_path)
        chromium_real = os.path.realpath(shutil.which(chromium) or chromium)
        if not _under(chromium_real, SYSTEM_DIRS):
            ro.append(os.path.dirname(chromium_real))
        ro += [os.fspath(p) for p in extra_ro_paths]
        self._ro_binds = self._software_binds(ro)

        if isolation == "subprocess":
            self.isolation = "subprocess"
            reason = "isolation='subprocess' was requested"
        else:
            ok, reason = probe_bwrap(self._bwrap, self._setpriv if self.is_root else None)
            if ok and self.is_root and self._unshare is None and self._needs_staging():
                ok, reason = False, "some bind sources are unreachable by uid 65534 and 'unshare' is missing"
            if not ok and isolation == "bwrap":
                raise SandboxError(f"bubblewrap sandbox unavailable: {reason}")
            self.isolation = "bwrap" if ok else "subprocess"

        self.sandbox_uid, self.sandbox_gid = (SANDBOX_UID, SANDBOX_GID) if self.is_root else (os.getuid(), os.getgid())
        if self.isolation == "subprocess":
            if self.is_root and not all(reachable_by(b.source, SANDBOX_UID, SANDBOX_GID) for b in self._ro_binds):
                self.sandbox_uid, self.sandbox_gid = 0, 0
            log.warning(
                "sandbox.isolation_degraded",
                message=(
                    "!!! LOCAL SANDBOX WITHOUT ISOLATION: the agent runs as a plain subprocess with full "
                    "access to this machine's network and to every file its user can read. Only the "
                    "browser is pointed at the filtering proxy. Install bubblewrap and enable "
                    "unprivileged user namespaces to isolate runs. !!!"
                ),
                reason=reason,
                runs_as_uid=self.sandbox_uid,
            )
        if allow_loopback:
            log.warning(
                "sandbox.allow_loopback",
                message="sandboxed browsers may reach loopback addresses of this machine (local development)",
            )

        self.memory_limit_mb = memory_limit_mb
        self.pids_limit = pids_limit
        self._cgroups = CgroupLimits.detect()
        if self._cgroups.available:
            self._cgroups.sweep()
        self._seccomp = seccomp_program() if seccomp and self.isolation == "bwrap" else None
        if not self._cgroups.available:
            log.warning(
                "sandbox.no_memory_limit",
                message="sandboxes run without a memory limit here (a page can take this machine's memory); "
                "only a per-uid process cap applies",
                reason=self._cgroups.reason,
            )

        self.base_dir = Path(base_dir) if base_dir is not None else _default_base_dir()
        self._prepare_base_dir()
        # A process that exits without close() (a crash of `openhelm dev`, a test run's end) still
        # ends its sandboxes (pdeathsig), but only close() removes their cgroups and directories.
        atexit.register(self._close_at_exit)
        log.info(
            "sandbox.provider_ready",
            isolation=self.isolation,
            base_dir=str(self.base_dir),
            python=self.python,
            sandbox_uid=self.sandbox_uid,
            ro_binds=[b.dest for b in self._ro_binds],
            cgroup=self._cgroups.version or None,
            memory_limit_mb=memory_limit_mb if self._cgroups.available else None,
            seccomp=self._seccomp is not None,
        )

    # ---------------------------------------------------------------------------------------------
    # Setup helpers

    @staticmethod
    def _software_binds(paths: Sequence[str]) -> list[_Bind]:
        binds: dict[str, _Bind] = {}
        for path in paths:
            absolute = os.path.abspath(path)
            real = os.path.realpath(absolute)
            if not os.path.exists(real):
                continue
            for dest in dict.fromkeys((real, absolute)):
                if not _under(dest, SYSTEM_DIRS):
                    binds[dest] = _Bind(real, dest)
        # Drop binds nested in another bind of the same tree; mount parents first.
        kept = [
            b for b in binds.values() if not any(o.dest != b.dest and _under(b.dest, [o.dest]) for o in binds.values())
        ]
        return sorted(kept, key=lambda b: (b.dest.count("/"), b.dest))

    def _stage_root(self) -> Path:
        """Where staging mount points go: somewhere uid 65534 can traverse and nobody else can plant."""
        if reachable_by(self.base_dir, SANDBOX_UID, SANDBOX_GID):
            root = self.base_dir / ".stage"
        else:
            root = Path("/run/openhelm-stage")
        root.mkdir(mode=0o711, exist_ok=True)
        st = os.lstat(root)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
            raise SandboxStartError(f"{root} must be a root-owned directory, not writable by others")
        return root

    def _needs_staging(self) -> bool:
        return self.is_root and not all(reachable_by(b.source, SANDBOX_UID, SANDBOX_GID) for b in self._ro_binds)

    def _prepare_base_dir(self) -> None:
        base = self.base_dir
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o711 if self.is_root else 0o700)
        except OSError as exc:
            raise ValueError(f"cannot create base_dir {base}: {exc}") from exc
        st = os.lstat(base)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise ValueError(f"base_dir {base} must be a directory owned by uid {os.geteuid()} (not a symlink)")
        if st.st_mode & 0o022:
            raise ValueError(f"base_dir {base} must not be group/world writable")

    # ---------------------------------------------------------------------------------------------
    # SandboxProvider

    def start(self, request: SandboxRequest) -> SandboxInfo:
        try:
            policy = EgressPolicy.build(
                request.allowed_domains,
                request.blocked_domains,
                allow_loopback=self.allow_loopback,
                control_url=request.control_url,
            )
        except ValueError as exc:
            raise SandboxStartError(f"invalid sandbox request: {exc}") from exc
        if request.timeout_s < 1:
            raise SandboxStartError("timeout_s must be at least 1")

        sandbox_id = f"lsb_{secrets.token_hex(12)}"
        run_dir = self.base_dir / sandbox_id
        info = SandboxInfo(
            sandbox_id=sandbox_id,
            run_id=request.run_id,
            provider=self.name,
            started_at=datetime.now(UTC),
            metadata={**request.metadata, "isolation": self.isolation, "org_id": request.org_id},
        )
        rec = _Sandbox(
            info=info,
            run_dir=run_dir,
            out_dir=run_dir / "out",
            log_dir=run_dir / "logs",
            isolation=self.isolation,
            control_url=request.control_url.rstrip("/"),
            run_token=request.run_token,
        )
        bound = log.bind(sandbox_id=sandbox_id, run_id=request.run_id)
        try:
            with self._lock:
                self._made.add(sandbox_id)
            self._make_dirs(rec)
            if self._cgroups.available:
                rec.cgroup = self._cgroups.create(sandbox_id, self.memory_limit_mb, self.pids_limit)
            if self.isolation == "bwrap":
                self._start_bwrap(rec, request, policy)
            else:
                self._start_subprocess(rec, request, policy)
        except Exception as exc:
            self._teardown_failed(rec)
            bound.error("sandbox.start_failed", error=str(exc), isolation=self.isolation)
            if isinstance(exc, SandboxStartError):
                raise
            raise SandboxStartError(f"local sandbox failed to start: {exc}") from exc

        with self._lock:
            self._sandboxes[sandbox_id] = rec
        rec.timer = threading.Timer(request.timeout_s, self._expire, args=(rec,))
        rec.timer.daemon = True
        rec.timer.start()
        threading.Thread(target=self._watch, args=(rec,), name=f"watch-{sandbox_id}", daemon=True).start()
        bound.info(
            "sandbox.started",
            isolation=self.isolation,
            pid=rec.proc.pid if rec.proc else None,
            setup_ms=round((time.monotonic() - rec.started_mono) * 1000, 1),
            timeout_s=request.timeout_s,
        )
        return info

    def list_files(self, sandbox_id: str, subdir: str = "") -> list[str]:
        out_dir = self._readable_out_dir(sandbox_id)
        parts = _safe_parts(subdir, allow_empty=True)
        try:
            top = _open_dir_chain(out_dir, parts)
        except FileNotFoundError:
            return []
        prefix = "/".join(parts)
        found: list[str] = []
        try:
            for dirpath, _dirs, files, dirfd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
                rel = os.path.normpath(dirpath)
                for name in files:
                    try:
                        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode):
                        path = name if rel == "." else f"{rel}/{name}"
                        found.append(f"{prefix}/{path}" if prefix else path)
                if len(found) > 100_000:
                    raise SandboxError("too many files in the sandbox out dir")
        finally:
            os.close(top)
        return sorted(found)

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        out_dir = self._readable_out_dir(sandbox_id)
        parts = _safe_parts(path, allow_empty=False)
        try:
            parent = _open_dir_chain(out_dir, parts[:-1])
        except FileNotFoundError as exc:
            raise SandboxFileNotFound(f"{path!r} not in the out dir of {sandbox_id}") from exc
        try:
            try:
                fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise UnsafePath(f"{path!r} is a symlink; refused") from exc
                if exc.errno == errno.ENOENT:
                    raise SandboxFileNotFound(f"{path!r} not in the out dir of {sandbox_id}") from exc
                raise
        finally:
            os.close(parent)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UnsafePath(f"{path!r} is not a regular file")
            if st.st_size > self.max_read_bytes:
                raise SandboxError(f"{path!r} is larger than {self.max_read_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            while chunk := os.read(fd, 1024 * 1024):
                size += len(chunk)
                if size > self.max_read_bytes:
                    raise SandboxError(f"{path!r} is larger than {self.max_read_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def out_path(self, sandbox_id: str) -> Path:
        """Host path of a sandbox's out dir; with ``retain_files`` it outlives the sandbox (the local
        stack shows evidence from there). Holds files written by the sandbox: read, don't follow links."""
        if not _SANDBOX_ID.match(sandbox_id):
            raise SandboxNotFound(f"no sandbox {sandbox_id!r}")
        return self.base_dir / sandbox_id / "out"

    def kill(self, sandbox_id: str) -> bool:
        with self._lock:
            rec = self._sandboxes.pop(sandbox_id, None)
        if rec is None:
            return False
        with rec.lock:
            if rec.killed:
                return False
            rec.killed = True
        was_running = not rec.exited.is_set()
        self._terminate(rec)
        if rec.cgroup is not None:  # the watcher removed it on exit; again in case a straggler held it
            rec.cgroup.remove()
        self._cleanup(rec)
        self._prune_logs(sandbox_id)
        log.info("sandbox.killed", sandbox_id=sandbox_id, run_id=rec.info.run_id, was_running=was_running)
        return was_running

    def _prune_logs(self, sandbox_id: str) -> None:
        """Keep the logs of the newest ``keep_logs`` killed sandboxes; remove older run dirs whole."""
        if self.retain_files:
            return
        with self._lock:
            self._logs_kept.append(sandbox_id)
            expired = self._logs_kept[: max(0, len(self._logs_kept) - self.keep_logs)]
            del self._logs_kept[: len(expired)]
        for old in expired:
            self._remove_run_dir(old)

    def _remove_run_dir(self, sandbox_id: str) -> None:
        if not _SANDBOX_ID.match(sandbox_id):
            return
        shutil.rmtree(self.base_dir / sandbox_id, ignore_errors=True)
        with self._lock:
            self._made.discard(sandbox_id)

    def list_running(self) -> list[SandboxInfo]:
        with self._lock:
            return [rec.info for rec in self._sandboxes.values() if not rec.exited.is_set()]

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
        rec = self._get(sandbox_id)
        root = rec.init_pid if rec.isolation == "bwrap" and rec.init_pid else (rec.proc.pid if rec.proc else None)
        found: dict[int, list[str]] = {}
        for pid in _descendants(root) if root else []:
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
                found[pid] = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
        return found

    def log_paths(self, sandbox_id: str) -> tuple[Path, Path]:
        """(stdout, stderr) log files of a sandbox; they outlive kill() (the run dir keeps ``logs/``)."""
        with self._lock:
            rec = self._sandboxes.get(sandbox_id)
        if rec is not None:
            log_dir = rec.log_dir
        elif _SANDBOX_ID.match(sandbox_id) and (self.base_dir / sandbox_id / "logs").is_dir():
            log_dir = self.base_dir / sandbox_id / "logs"
        else:
            raise SandboxNotFound(sandbox_id)
        return log_dir / "stdout.log", log_dir / "stderr.log"

    def close(self) -> None:
        """Kill every sandbox of this provider and remove the run directories it made (logs too),
        unless ``retain_files``. Only its own: ``base_dir`` may be shared with other providers."""
        with self._lock:
            ids = list(self._sandboxes)
        for sandbox_id in ids:
            self.kill(sandbox_id)
        if self.retain_files:
            return
        with self._lock:
            made = list(self._made)
            self._logs_kept.clear()
        for sandbox_id in made:
            self._remove_run_dir(sandbox_id)

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except Exception as exc:  # at exit: say it, never raise
            log.warning("sandbox.close_at_exit_failed", error=str(exc))

    def __enter__(self) -> LocalProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------------
    # Internals

    def _readable_out_dir(self, sandbox_id: str) -> Path:
        """Out dir of a live sandbox, or of a killed one whose files ``retain_files`` kept."""
        with self._lock:
            rec = self._sandboxes.get(sandbox_id)
        if rec is not None:
            return rec.out_dir
        if self.retain_files and _SANDBOX_ID.match(sandbox_id):
            out_dir = self.base_dir / sandbox_id / "out"
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(out_dir).st_mode):
                    return out_dir
        raise SandboxNotFound(sandbox_id)

    def _get(self, sandbox_id: str) -> _Sandbox:
        with self._lock:
            rec = self._sandboxes.get(sandbox_id)
        if rec is None:
            raise SandboxNotFound(sandbox_id)
        return rec

    def _make_dirs(self, rec: _Sandbox) -> None:
        rec.run_dir.mkdir(mode=0o711 if self.is_root else 0o700)
        rec.log_dir.mkdir(mode=0o700)
        (rec.run_dir / "sock").mkdir(mode=0o755 if self.is_root else 0o700)
        rec.out_dir.mkdir(mode=0o700)
        if self.sandbox_uid != os.geteuid():
            os.chown(rec.out_dir, self.sandbox_uid, self.sandbox_gid)

    def _env(
        self,
        request: SandboxRequest,
        sandbox_id: str,
        *,
        control_url: str,
        proxy_url: str,
        out_dir: str,
        spec: str,
        home: str,
        llm_url: str = "",
    ) -> dict[str, str]:
        split = split_envs(request.envs)
        env = dict(split.kept)
        for key in split.refused + split.reserved:
            log.warning("sandbox.env_dropped", run_id=request.run_id, name=key)
        env.update(
            PATH="/usr/local/bin:/usr/bin:/bin",
            HOME=home,
            TMPDIR=home,
            LANG="C.UTF-8",
            USER="nobody",
            LOGNAME="nobody",
            PYTHONPATH=self.agent_path,
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
            OPENHELM_RUN_SPEC=spec,
            OPENHELM_OUT_DIR=out_dir,
            OPENHELM_CONTROL_URL=control_url,
            OPENHELM_RUN_TOKEN=request.run_token,
            OPENHELM_CHROMIUM=self.chromium,
            OPENHELM_BROWSER_PROXY=proxy_url,
            OPENHELM_SANDBOX=self.isolation,
            # Inherited by every process of the run (Chromium included): how the subprocess
            # fallback finds stragglers that left its process tree.
            OPENHELM_SANDBOX_ID=sandbox_id,
        )
        if llm_url:
            env["OPENHELM_LLM_URL"] = llm_url
        if self._cgroups.available:  # the agent names it when a page dies of it
            env["OPENHELM_MEMORY_LIMIT_MB"] = str(self.memory_limit_mb)
        return env

    def _servers(
        self, rec: _Sandbox, request: SandboxRequest, policy: EgressPolicy
    ) -> tuple[ControlForwarder, EgressProxy, ControlForwarder | None]:
        control = ControlForwarder(request.control_url, run_id=request.run_id)
        proxy = EgressProxy(policy, run_id=request.run_id, resolver=self.resolver)
        # The LLM gateway is its own endpoint (a function URL in AWS): a second forwarder, limited
        # to the gateway URL's path.
        llm = ControlForwarder(request.llm_url, run_id=request.run_id, prefix="/") if request.llm_url else None
        rec.servers += [control, proxy, *([llm] if llm else [])]
        return control, proxy, llm

    def _start_bwrap(self, rec: _Sandbox, request: SandboxRequest, policy: EgressPolicy) -> None:
        sock_dir = rec.run_dir / "sock"
        control, proxy, llm = self._servers(rec, request, policy)
        owner = self.sandbox_uid if self.is_root else None
        control.listen_unix(sock_dir / "control.sock", owner=owner)
        proxy.listen_unix(sock_dir / "proxy.sock", owner=owner)
        if llm is not None:
            llm.listen_unix(sock_dir / "llm.sock", owner=owner)

        control_path = urlsplit(request.control_url).path.rstrip("/")
        llm_path = urlsplit(request.llm_url).path.rstrip("/")
        env = self._env(
            request,
            rec.info.sandbox_id,
            control_url=f"http://127.0.0.1:{INNER_CONTROL_PORT}{control_path}",
            proxy_url=f"http://127.0.0.1:{INNER_PROXY_PORT}",
            out_dir=OUT_IN_SANDBOX,
            spec=f"{IN_SANDBOX}/run_spec.json",
            home="/tmp",
            llm_url=f"http://127.0.0.1:{INNER_LLM_PORT}{llm_path}" if llm is not None else "",
        )
        binds = [
            *self._ro_binds,
            _Bind(str(rec.out_dir), OUT_IN_SANDBOX, True),
            _Bind(str(sock_dir), f"{IN_SANDBOX}/sock"),
        ]
        staged: list[tuple[_Bind, str]] = []
        if self.is_root:
            unreachable = [b for b in binds if not reachable_by(b.source, SANDBOX_UID, SANDBOX_GID)]
            if unreachable:
                rec.stage_dir = self._stage_root() / rec.info.sandbox_id
                staged = [(bind, str(rec.stage_dir / str(i))) for i, bind in enumerate(unreachable)]
        stage_of = {id(b): path for b, path in staged}

        passwd = f"nobody:x:{self.sandbox_uid}:{self.sandbox_gid}:nobody:/tmp:/usr/sbin/nologin\n"
        data = {
            "/etc/passwd": passwd.encode(),
            "/etc/group": f"nogroup:x:{self.sandbox_gid}:\n".encode(),
            "/etc/hosts": f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost\n".encode(),
            "/etc/hostname": f"{HOSTNAME}\n".encode(),
            f"{IN_SANDBOX}/run_spec.json": json.dumps(request.run_spec).encode(),
            f"{IN_SANDBOX}/bridge.py": BRIDGE_SOURCE.read_bytes(),
            f"{IN_SANDBOX}/supervise.py": SUPERVISOR_SOURCE.read_bytes(),
        }
        fds: list[int] = []
        try:
            args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
            if self._disable_userns:
                args += ["--unshare-user", "--disable-userns"]
            args += ["--uid", str(self.sandbox_uid), "--gid", str(self.sandbox_gid), "--hostname", HOSTNAME]
            args += _system_args()
            for path in ETC_PATHS:
                args += ["--ro-bind-try", path, path]
            args += [
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--size",
                str(self.tmp_size_mb * 1024 * 1024),
                "--tmpfs",
                "/tmp",
            ]
            for bind in binds:
                source = stage_of.get(id(bind), bind.source)
                args += ["--bind" if bind.writable else "--ro-bind", source, bind.dest]
            for dest, content in data.items():
                fd = _data_fd(content)
                fds.append(fd)
                args += ["--perms", "0444", "--ro-bind-data", str(fd), dest]
            if self._seccomp is not None:
                seccomp_fd = _data_fd(self._seccomp)
                fds.append(seccomp_fd)
                args += ["--seccomp", str(seccomp_fd)]
            args += ["--remount-ro", "/", "--chdir", "/tmp"]
            for key, value in env.items():
                args += ["--setenv", key, value]
            args_fd = _data_fd(b"".join(a.encode() + b"\0" for a in args))
            fds.append(args_fd)
            status_read, status_write = os.pipe()
            fds.append(status_write)
            rec.status_fd = status_read

            bridge = [self.python, "-I", "-S", f"{IN_SANDBOX}/bridge.py"]
            bridge += ["--listen", f"127.0.0.1:{INNER_CONTROL_PORT}={IN_SANDBOX}/sock/control.sock"]
            if llm is not None:
                bridge += ["--listen", f"127.0.0.1:{INNER_LLM_PORT}={IN_SANDBOX}/sock/llm.sock"]
            bridge += ["--listen", f"127.0.0.1:{INNER_PROXY_PORT}={IN_SANDBOX}/sock/proxy.sock", "--"]
            supervisor = [self.python, "-I", "-S", f"{IN_SANDBOX}/supervise.py", "--"]
            cmd = [self._bwrap, "--args", str(args_fd), "--json-status-fd", str(status_write), *bridge, *supervisor]
            cmd += self.command
            cmd = _launch_prefix(self._setpriv, self.is_root) + cmd
            if staged:
                stage_args = [str(rec.stage_dir)]
                for bind, path in staged:
                    stage_args += ["rw" if bind.writable else "ro", bind.source, path]
                cmd = [
                    self._unshare or "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "/bin/sh",
                    "-c",
                    _STAGE_SCRIPT,
                    "stage",
                    *stage_args,
                    "--",
                    *cmd,
                ]
            cmd = self._limit_prefix(rec) + cmd
            secret_free = [a if a != request.run_token else "[REDACTED]" for a in args]
            (rec.log_dir / "bwrap-args.txt").write_text("\n".join([*secret_free, "--", *cmd]) + "\n")
            self._spawn(
                rec, cmd, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}, cwd="/", pass_fds=fds
            )
        finally:
            for fd in fds:
                os.close(fd)
        self._await_bwrap(rec)

    def _start_subprocess(self, rec: _Sandbox, request: SandboxRequest, policy: EgressPolicy) -> None:
        # The agent reaches the control plane directly in this mode; only the browser is proxied.
        proxy = EgressProxy(policy, run_id=request.run_id, resolver=self.resolver)
        rec.servers.append(proxy)
        host, port = proxy.listen_tcp("127.0.0.1", 0)
        home = rec.run_dir / "home"
        home.mkdir(mode=0o700)
        spec = rec.run_dir / "run_spec.json"
        spec.write_text(json.dumps(request.run_spec))
        if self.sandbox_uid != os.geteuid():
            os.chown(home, self.sandbox_uid, self.sandbox_gid)
            os.chown(spec, self.sandbox_uid, self.sandbox_gid)
        spec.chmod(0o400)
        supervisor = rec.run_dir / "supervise.py"
        supervisor.write_bytes(SUPERVISOR_SOURCE.read_bytes())
        supervisor.chmod(0o444)
        env = self._env(
            request,
            rec.info.sandbox_id,
            control_url=request.control_url.rstrip("/"),
            proxy_url=f"http://{host}:{port}",
            out_dir=str(rec.out_dir),
            spec=str(spec),
            home=str(home),
            llm_url=request.llm_url.rstrip("/"),
        )
        cmd = self._limit_prefix(rec) + _launch_prefix(self._setpriv, self.sandbox_uid != os.geteuid())
        cmd += [self.python, "-I", "-S", str(supervisor), "--", *self.command]
        self._spawn(rec, cmd, env=env, cwd=str(home), pass_fds=[])

    def _limit_prefix(self, rec: _Sandbox) -> list[str]:
        """Join the sandbox's cgroup before anything of it starts; without one, a process cap."""
        if rec.cgroup is not None:
            return rec.cgroup.join_prefix()
        return prlimit_prefix(self.pids_limit * 4)

    def _spawn(self, rec: _Sandbox, cmd: list[str], *, env: dict[str, str], cwd: str, pass_fds: list[int]) -> None:
        def popen() -> subprocess.Popen[bytes]:
            with open(rec.log_dir / "stdout.log", "wb") as out, open(rec.log_dir / "stderr.log", "wb") as err:
                return subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                    pass_fds=pass_fds,
                )

        # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so every sandbox is
        # forked by one long-lived thread: callers' short-lived request threads may come and go.
        rec.proc = self._spawner.submit(popen).result()

    def _await_bwrap(self, rec: _Sandbox, timeout: float = 15.0) -> None:
        """Wait for bwrap's first status line (the sandbox is set up and the bridge started)."""
        assert rec.status_fd is not None and rec.proc is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxStartError("bubblewrap did not report the sandbox ready in time")
            ready, _, _ = select.select([rec.status_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(rec.status_fd, 4096)
            if not chunk:
                break
            buf += chunk
        try:
            status = json.loads(buf.split(b"\n", 1)[0]) if b"\n" in buf else {}
        except ValueError:
            status = {}
        if "child-pid" in status:
            rec.init_pid = int(status["child-pid"])
            with contextlib.suppress(OSError):
                rec.init_pidfd = os.pidfd_open(rec.init_pid)
        else:
            with contextlib.suppress(subprocess.TimeoutExpired):
                rec.proc.wait(timeout=5)
            stderr = (rec.log_dir / "stderr.log").read_text(errors="replace")[-2000:].strip()
            raise SandboxStartError(f"bubblewrap could not set up the sandbox: {stderr or 'no output'}")

    def _watch(self, rec: _Sandbox) -> None:
        assert rec.proc is not None
        code = rec.proc.wait()
        if rec.isolation == "subprocess":
            self._end_stragglers(rec)
        if rec.init_pidfd is not None:
            # The outer bwrap is gone; its pid 1 dies with it (--die-with-parent) and takes the
            # whole pid namespace along. Wait for that, so "exited" means no process is left.
            _wait_pidfds([rec.init_pidfd], 10.0)
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

    def _report_exit(self, rec: _Sandbox, code: int, ran_s: float) -> None:
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
            with _DIRECT.open(request, timeout=EXIT_REPORT_TIMEOUT_S) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = int(exc.code)
        except (OSError, ValueError, http.client.HTTPException) as exc:  # the reaper remains the backstop
            log.warning("sandbox.exit_report_failed", sandbox_id=rec.info.sandbox_id, error=str(exc))
            return
        log.info("sandbox.exit_reported", sandbox_id=rec.info.sandbox_id, run_id=rec.info.run_id, status=status)

    def _expire(self, rec: _Sandbox) -> None:
        if rec.exited.is_set():
            return
        rec.timed_out = True
        log.warning("sandbox.timeout", sandbox_id=rec.info.sandbox_id, run_id=rec.info.run_id)
        self._terminate(rec)

    def _terminate(self, rec: _Sandbox) -> None:
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
        pids = _descendants(root_pid) if root_pid else []
        if rec.isolation == "subprocess":
            pids += _tagged_processes(rec.info.sandbox_id)
        members = _pidfds(pids)

        def signal_all(sig: int, *, group: bool) -> None:
            _signal_pidfds(members, sig)
            if group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)

        try:
            deadline = time.monotonic() + self.kill_grace_s
            signal_all(signal.SIGTERM, group=init_fd is None)
            if rec.exited.wait(self.kill_grace_s) and _wait_pidfds(members, deadline - time.monotonic()):
                return
            if init_fd is not None:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(init_fd, signal.SIGKILL)
                signal_all(signal.SIGKILL, group=False)
                if rec.exited.wait(5.0):
                    return
            signal_all(signal.SIGKILL, group=True)
            if not (rec.exited.wait(10.0) and _wait_pidfds(members, 10.0)):
                log.error("sandbox.unkillable", sandbox_id=rec.info.sandbox_id, pid=proc.pid)
        finally:
            for pidfd in [*members, *([init_fd] if init_fd is not None else [])]:
                os.close(pidfd)

    def _end_stragglers(self, rec: _Sandbox) -> None:
        """Subprocess mode, after the agent's exit: end what it left running (SIGTERM, then SIGKILL)."""
        stragglers = _pidfds([p for p in _tagged_processes(rec.info.sandbox_id) if p != os.getpid()])
        if not stragglers:
            return
        try:
            log.info("sandbox.stragglers", sandbox_id=rec.info.sandbox_id, count=len(stragglers))
            _signal_pidfds(stragglers, signal.SIGTERM)
            if not _wait_pidfds(stragglers, self.kill_grace_s):
                _signal_pidfds(stragglers, signal.SIGKILL)
                _wait_pidfds(stragglers, 10.0)
        finally:
            for pidfd in stragglers:
                os.close(pidfd)

    def _cleanup(self, rec: _Sandbox) -> None:
        if rec.timer is not None:
            rec.timer.cancel()
        for server in rec.servers:
            server.stop()
        if self.retain_files:
            return
        if rec.stage_dir is not None:
            shutil.rmtree(rec.stage_dir, ignore_errors=True)
        for name in ("out", "sock", "home", "run_spec.json"):
            path = rec.run_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _teardown_failed(self, rec: _Sandbox) -> None:
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


# Run as root inside `unshare --mount --propagation private`: bind each unreachable source onto a
# staging path the sandbox uid can reach (read-only where asked), then exec the rest of argv.
_STAGE_SCRIPT = r"""
set -eu
stage=$1; shift
mkdir -p "$stage"; chmod 0711 "$stage"
while [ "$1" != "--" ]; do
  mode=$1; src=$2; dst=$3; shift 3
  if [ -d "$src" ]; then mkdir -p "$dst"; else : > "$dst"; fi
  mount --bind "$src" "$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done
shift
exec "$@"
"""


def _safe_parts(path: str, *, allow_empty: bool) -> list[str]:
    """Components of a relative out-dir path; UnsafePath for absolute paths, '..', NULs."""
    if not isinstance(path, str) or "\0" in path or "\\" in path:
        raise UnsafePath(f"unsafe path {path!r}")
    if path.startswith("/"):
        raise UnsafePath(f"absolute path {path!r} refused (paths are relative to the out dir)")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"path {path!r} refused: '..' is not allowed")
    if not parts and not allow_empty:
        raise UnsafePath("empty path")
    return parts


def _open_dir_chain(root: Path, parts: Sequence[str]) -> int:
    """Open ``root/parts...`` as a directory, refusing symlinks at every step. Caller closes."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, flags)
    try:
        for part in parts:
            try:
                nxt = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    with contextlib.suppress(OSError):
                        if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                            raise UnsafePath(f"symlink {part!r} in the path refused") from exc
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd
