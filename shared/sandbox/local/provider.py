"""The local sandbox provider (see the package docstring for the design): bubblewrap per run."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.logging import get_logger
from shared.sandbox.base import (
    LIVE_VIEW_KEY,
    SandboxError,
    SandboxFile,
    SandboxInfo,
    SandboxNotFound,
    SandboxProvider,
    SandboxRequest,
    SandboxStartError,
)
from shared.sandbox.local.egress_policy import EgressPolicy, Resolver, system_resolver
from shared.sandbox.local.host import (
    REPO_ROOT,
    SANDBOX_ID_PATTERN,
    SYSTEM_DIRS,
    bwrap_has_option,
    default_base_dir,
    is_under,
    python_layout,
)
from shared.sandbox.local.inspection import SandboxInspection
from shared.sandbox.local.isolation import Isolation, choose_isolation
from shared.sandbox.local.launch import SandboxLauncher
from shared.sandbox.local.limits import detect_limits
from shared.sandbox.local.live_port import LivePort
from shared.sandbox.local.record import SandboxRecord
from shared.sandbox.local.warm_pool import WarmPool
from shared.sandbox.local.watcher import SandboxWatcher

log = get_logger("openhelm.sandbox.local")

SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class LocalProvider(WarmPool, SandboxLauncher, SandboxWatcher, SandboxInspection, SandboxProvider):
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
        warm_pool: how many warm sandboxes (Chromium launched, waiting for a run) to keep ready;
            each serves one run only (``warm_pool.py``). 0, the default, starts every run cold.
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
        warm_pool: int = 0,
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
        self._sandboxes: dict[str, SandboxRecord] = {}
        self._lock = threading.Lock()
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")

        self._setpriv = shutil.which(setpriv)
        if self.is_root and self._setpriv is None:
            raise ValueError("running as root needs setpriv (util-linux) to drop to uid 65534")
        self._unshare = shutil.which("unshare") if self.is_root else None
        self._bwrap = shutil.which(bwrap) or bwrap
        self._disable_userns = not allow_nested_userns and bwrap_has_option(self._bwrap, "--disable-userns")

        # Software the sandbox needs, bound read-only at the same path.
        ro: list[str] = [*python_layout(self.python)]
        if os.path.isdir(self.agent_path):
            ro.append(self.agent_path)
        chromium_real = os.path.realpath(shutil.which(chromium) or chromium)
        if not is_under(chromium_real, SYSTEM_DIRS):
            ro.append(os.path.dirname(chromium_real))
        ro += [os.fspath(p) for p in extra_ro_paths]
        self._ro_binds = self._software_binds(ro)

        choice = choose_isolation(
            isolation,
            bwrap=self._bwrap,
            setpriv=self._setpriv,
            is_root=self.is_root,
            host_ids=(os.getuid(), os.getgid()),
            unshare=self._unshare,
            needs_staging=self._needs_staging,
            ro_binds=self._ro_binds,
        )
        self.isolation = choice.isolation
        self.sandbox_uid, self.sandbox_gid = choice.sandbox_uid, choice.sandbox_gid
        if allow_loopback:
            log.warning(
                "sandbox.allow_loopback",
                message="sandboxed browsers may reach loopback addresses of this machine (local development)",
            )

        self.memory_limit_mb = memory_limit_mb
        self.pids_limit = pids_limit
        self._cgroups, self._seccomp = detect_limits(seccomp=seccomp and self.isolation == "bwrap")

        self.base_dir = Path(base_dir) if base_dir is not None else default_base_dir()
        self._prepare_base_dir()
        # A process that exits without close() (a crash of `openhelm dev`, a test run's end) still
        # ends its sandboxes (pdeathsig), but only close() removes their cgroups and directories.
        atexit.register(self._close_at_exit)
        self._init_warm(max(0, warm_pool), custom_command=command is not None)
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
            warm_pool=self.warm_pool_size,
        )

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
        warm = self._take_warm(request)
        if warm is not None:
            try:
                self._hand_out(warm, request, policy)
            except Exception as exc:  # a warm sandbox is an optimisation: start this run cold instead
                self._discard(warm, f"hand-out failed: {exc}")
            else:
                return self._running(warm, request, "warm")

        sandbox_id = f"lsb_{secrets.token_hex(12)}"
        run_dir = self.base_dir / sandbox_id
        info = SandboxInfo(
            sandbox_id=sandbox_id,
            run_id=request.run_id,
            provider=self.name,
            started_at=datetime.now(UTC),
            metadata={
                **request.metadata,
                "isolation": self.isolation,
                "org_id": request.org_id,
                **({LIVE_VIEW_KEY: "1"} if request.live_secret else {}),
            },
        )
        rec = SandboxRecord(
            info=info,
            run_dir=run_dir,
            out_dir=run_dir / "out",
            log_dir=run_dir / "logs",
            isolation=self.isolation,
            control_url=request.control_url.rstrip("/"),
            run_token=request.run_token,
            mailbox_dir=run_dir / "mailbox" if request.mailbox else None,
            live_socket=run_dir / "live" / "live.sock" if request.live_secret else None,
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

        threading.Thread(target=self._watch, args=(rec,), name=f"watch-{sandbox_id}", daemon=True).start()
        return self._running(rec, request, "cold")

    def _running(self, rec: SandboxRecord, request: SandboxRequest, start: str) -> SandboxInfo:
        """Register a started sandbox as the run's and start its lifetime timer."""
        with self._lock:
            self._sandboxes[rec.info.sandbox_id] = rec
        rec.timer = threading.Timer(request.timeout_s, self._expire, args=(rec,))
        rec.timer.daemon = True
        rec.timer.start()
        log.info(
            "sandbox.started",
            sandbox_id=rec.info.sandbox_id,
            run_id=request.run_id,
            isolation=self.isolation,
            start=start,
            pid=rec.proc.pid if rec.proc else None,
            setup_ms=round((time.monotonic() - rec.started_mono) * 1000, 1),
            timeout_s=request.timeout_s,
        )
        return rec.info

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
        if not SANDBOX_ID_PATTERN.match(sandbox_id):
            return
        shutil.rmtree(self.base_dir / sandbox_id, ignore_errors=True)
        with self._lock:
            self._made.discard(sandbox_id)

    def send_command(self, sandbox_id: str, command: dict[str, Any]) -> None:
        rec = self._get(sandbox_id)
        if rec.mailbox_dir is None or rec.exited.is_set():
            raise SandboxNotFound(f"sandbox {sandbox_id} has no live mailbox")
        name = str(command["id"])
        if not SAFE_NAME.match(name):
            raise SandboxError(f"bad command id {name!r}")
        # Written beside the mailbox, then renamed in: the agent never reads half a command.
        tmp = rec.run_dir / f".{name}.tmp"
        tmp.write_text(json.dumps(command, separators=(",", ":")), encoding="utf-8")
        if self.sandbox_uid != os.geteuid():
            tmp.chmod(0o644)
        os.replace(tmp, rec.mailbox_dir / f"{name}.json")

    def put_files(self, sandbox_id: str, subdir: str, files: Sequence[SandboxFile]) -> str:
        """Into the mailbox's ``subdir`` (bound read-only into the sandbox), each file written
        beside it and renamed in; the directory as the agent sees it."""
        rec = self._get(sandbox_id)
        if rec.mailbox_dir is None or rec.exited.is_set():
            raise SandboxNotFound(f"sandbox {sandbox_id} has no live mailbox")
        if not SAFE_NAME.match(subdir):
            raise SandboxError(f"bad files dir {subdir!r}")
        shared = self.sandbox_uid != os.geteuid()
        target = rec.mailbox_dir / subdir
        target.mkdir(mode=0o755 if shared else 0o700, exist_ok=True)
        for f in files:
            if "/" in f.name or f.name in (".", "..") or f.name.startswith("."):
                raise SandboxError(f"bad file name {f.name!r}")
            tmp = rec.run_dir / f".{subdir}.{f.name}.tmp"
            tmp.write_bytes(f.data)
            if shared:
                tmp.chmod(0o644)
            os.replace(tmp, target / f.name)
        return f"{rec.mailbox_in_sandbox}/{subdir}"

    def remove_command(self, sandbox_id: str, command_id: str) -> None:
        rec = self._sandboxes.get(sandbox_id)
        if rec is None or rec.mailbox_dir is None or not SAFE_NAME.match(command_id):
            return
        with contextlib.suppress(OSError):
            (rec.mailbox_dir / f"{command_id}.json").unlink()

    def live_endpoint(self, sandbox_id: str) -> str | None:
        """The one loopback port relayed to the agent's live-view socket (live_port.py)."""
        rec = self._get(sandbox_id)
        if rec.live_socket is None:
            return None
        if rec.exited.is_set():
            raise SandboxNotFound(f"sandbox {sandbox_id} has ended")
        with rec.lock:
            if rec.live_port is None:
                rec.live_port = LivePort(rec.live_socket)
                rec.servers.append(rec.live_port)
            return rec.live_port.url

    def list_running(self) -> list[SandboxInfo]:
        with self._lock:
            return [rec.info for rec in self._sandboxes.values() if not rec.exited.is_set()]

    def close(self) -> None:
        """Kill every sandbox of this provider and remove the run directories it made (logs too),
        unless ``retain_files``. Only its own: ``base_dir`` may be shared with other providers."""
        self._drain_warm()
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
