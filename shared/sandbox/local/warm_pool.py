"""Warm sandboxes: a few started ahead of any run, each handed to one run and never reused. A mixin
of LocalProvider.

A warm sandbox is a bubblewrap sandbox like any other (own cgroup, /tmp, user and network
namespaces), started without a request: its agent imports the runtime, launches Chromium and waits
(openhelm_agent/warm.py). What a run fixes is given at hand-out, so a warm sandbox honours every
request a cold one would:

- the egress policy (allowed/blocked domains, the control URL the proxy lets through) lives in the
  host-side proxy, which is created for the run at hand-out, as are the control and LLM forwarders
  (the bridge inside connects to their sockets per connection, and nothing listens before);
- the run spec, control URL, run token and LLM URL are written into the sandbox's read-only
  ``handout/`` directory (``run_spec.json``, then ``handout.json`` by rename);
- the lifetime timer, ``started_at`` (billing) and the exit report start at hand-out.

What a warm sandbox cannot take is a request with extra ``envs`` (Chromium's environment is set
at its launch): such a run starts cold, as does any run when no warm sandbox is ready, when the
isolation is the subprocess fallback (its proxy address is fixed in the environment) or when the
provider runs a custom command. A warm sandbox whose agent or Chromium died is discarded, never
handed out. The pool refills in the background and is drained by ``close()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from shared.logging import get_logger
from shared.sandbox.base import SandboxInfo, SandboxRequest, spec_document
from shared.sandbox.local.egress_policy import EgressPolicy
from shared.sandbox.local.processes import descendants
from shared.sandbox.local.record import SandboxRecord

log = get_logger("openhelm.sandbox.local")

READY_EVENT = b'"event": "warm sandbox ready"'
# How often the refill thread looks at the pool without being woken (dead sandboxes are replaced).
REFILL_POLL_S = 2.0
RETRY_S = 5.0


class WarmPool:
    """Warm-pool half of :class:`~shared.sandbox.local.provider.LocalProvider` (its state lives there)."""

    def _init_warm(self, size: int, custom_command: bool) -> None:
        self.warm_pool_size = size if self.isolation == "bwrap" and not custom_command else 0
        if size and not self.warm_pool_size:
            log.info("sandbox.warm_pool_off", reason="needs bwrap isolation and the agent's own command")
        self._warm: list[SandboxRecord] = []
        self._warm_stop = threading.Event()
        self._warm_wake = threading.Event()
        self._warm_thread: threading.Thread | None = None
        if self.warm_pool_size:
            self._warm_thread = threading.Thread(target=self._refill_loop, name="sandbox-warm-pool", daemon=True)
            self._warm_thread.start()

    # ---------------------------------------------------------------------------------------------
    # The pool

    def warm_ids(self, *, ready_only: bool = False) -> list[str]:
        """Ids of the warm sandboxes waiting for a run; with ``ready_only`` those that would be handed
        out now (Chromium launched and alive). Operators and tests."""
        with self._lock:
            pool = list(self._warm)
        return [rec.info.sandbox_id for rec in pool if not ready_only or self._warm_state(rec) == "ready"]

    def _refill_loop(self) -> None:
        while not self._warm_stop.is_set():
            if self._drop_dead():  # a warm sandbox that dies unused is no reason to spin
                self._warm_stop.wait(RETRY_S)
            with self._lock:
                missing = self.warm_pool_size - len(self._warm)
            if missing > 0:
                try:
                    rec = self._start_warm()
                except Exception as exc:  # never take the thread down; try again later
                    log.warning("sandbox.warm_start_failed", error=str(exc))
                    self._warm_stop.wait(RETRY_S)
                    continue
                with self._lock:
                    stopping = self._warm_stop.is_set()
                    if not stopping:
                        self._warm.append(rec)
                if stopping:
                    self._discard(rec, "pool stopped")
                continue
            self._warm_wake.wait(REFILL_POLL_S)
            self._warm_wake.clear()

    def _start_warm(self) -> SandboxRecord:
        sandbox_id = f"lsb_{secrets.token_hex(12)}"
        run_dir = self.base_dir / sandbox_id
        info = SandboxInfo(
            sandbox_id=sandbox_id, run_id="", provider=self.name, started_at=datetime.now(UTC), metadata={}
        )
        rec = SandboxRecord(
            info=info,
            run_dir=run_dir,
            out_dir=run_dir / "out",
            log_dir=run_dir / "logs",
            isolation=self.isolation,
        )
        try:
            with self._lock:
                self._made.add(sandbox_id)
            self._make_dirs(rec)
            # The run token is written here at hand-out: readable by the sandbox's group only.
            handout = run_dir / "handout"
            handout.mkdir(mode=0o750 if self.is_root else 0o700)
            if self.sandbox_gid != os.getegid():
                os.chown(handout, -1, self.sandbox_gid)
            if self._cgroups.available:
                rec.cgroup = self._cgroups.create(sandbox_id, self.memory_limit_mb, self.pids_limit)
            self._start_bwrap(rec, None, None)
        except Exception:
            self._teardown_failed(rec)
            self._remove_run_dir(sandbox_id)
            raise
        threading.Thread(target=self._watch, args=(rec,), name=f"watch-{sandbox_id}", daemon=True).start()
        log.info("sandbox.warm_started", sandbox_id=sandbox_id)
        return rec

    def _warm_state(self, rec: SandboxRecord) -> str:
        """``ready``, ``booting`` (Chromium still launching) or why it is ``dead``."""
        if rec.exited.is_set():
            return "dead: the agent exited"
        try:
            with open(rec.log_dir / "stderr.log", "rb") as fh:  # the agent's own log: a hint, not trusted
                said_ready = READY_EVENT in fh.read(256 * 1024)
        except OSError:
            said_ready = False
        if not said_ready:
            return "booting"
        if not self._chromium_alive(rec):
            return "dead: Chromium is gone"
        return "ready"

    def _chromium_alive(self, rec: SandboxRecord) -> bool:
        """Chromium's browser process is running (its helpers, ``--type=...``, outlive it briefly)."""
        root = rec.init_pid
        for pid in descendants(root) if root else []:
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
                if b"chrom" in os.path.basename(argv[0]).lower() and not any(a.startswith(b"--type=") for a in argv):
                    return True
        return False

    def _drop_dead(self) -> int:
        with self._lock:
            pool = list(self._warm)
        dropped = 0
        for rec in pool:
            state = self._warm_state(rec)
            if state.startswith("dead") and self._unpool(rec):
                self._discard(rec, state)
                dropped += 1
        return dropped

    def _unpool(self, rec: SandboxRecord) -> bool:
        with self._lock:
            if rec not in self._warm:
                return False
            self._warm.remove(rec)
            return True

    def _discard(self, rec: SandboxRecord, reason: str) -> None:
        log.info("sandbox.warm_discarded", sandbox_id=rec.info.sandbox_id, reason=reason)
        with rec.lock:
            rec.killed = True
        self._terminate(rec)
        if rec.cgroup is not None:
            rec.cgroup.remove()
        self._cleanup(rec)
        self._remove_run_dir(rec.info.sandbox_id)

    def _drain_warm(self) -> None:
        """Stop refilling and end every warm sandbox (``close()``)."""
        self._warm_stop.set()
        self._warm_wake.set()
        if self._warm_thread is not None:
            self._warm_thread.join(timeout=60)
        with self._lock:
            pool, self._warm = self._warm, []
        for rec in pool:
            self._discard(rec, "pool drained")

    # ---------------------------------------------------------------------------------------------
    # Hand-out

    def _take_warm(self, request: SandboxRequest) -> SandboxRecord | None:
        """A ready warm sandbox, out of the pool for good; None when the run must start cold."""
        # A run with files starts cold: they are bound into a new sandbox (launch.py), not handed in;
        # so does a session (its agent serves a mailbox from the start: docs/sessions.md).
        if not self.warm_pool_size or request.envs or request.files or request.mailbox:
            return None
        with self._lock:
            pool = list(self._warm)
        taken = None
        for rec in pool:
            state = self._warm_state(rec)
            if state == "booting":
                continue
            if not self._unpool(rec):
                continue  # another start took it
            if state != "ready":
                self._discard(rec, state)
                continue
            taken = rec
            break
        self._warm_wake.set()
        return taken

    def _hand_out(self, rec: SandboxRecord, request: SandboxRequest, policy: EgressPolicy) -> SandboxInfo:
        """Give the run its servers and its variables; the sandbox is the run's from now on."""
        env = {"OPENHELM_RUN_TOKEN": request.run_token, **self._listen(rec, request, policy)}
        handout = rec.run_dir / "handout"
        gid = self.sandbox_gid if self.sandbox_gid != os.getegid() else None
        _write_new(handout / "run_spec.json", spec_document(request), gid)
        if rec.exited.is_set():
            raise RuntimeError("the warm sandbox ended before its hand-out")
        rec.info = SandboxInfo(
            sandbox_id=rec.info.sandbox_id,
            run_id=request.run_id,
            provider=self.name,
            started_at=datetime.now(UTC),
            metadata={**request.metadata, "isolation": self.isolation, "org_id": request.org_id, "warm": "true"},
        )
        rec.control_url = request.control_url.rstrip("/")
        rec.run_token = request.run_token
        rec.started_mono = time.monotonic()
        _write_new(handout / "handout.json", json.dumps({"env": env}).encode(), gid)
        return rec.info


def _write_new(path: Path, data: bytes, gid: int | None) -> None:
    """Write a file the sandbox reads (its directory is read-only inside), appearing whole by rename;
    readable by its owner and, given ``gid`` (the sandbox's, when it is not ours), that group."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o440 if gid else 0o400)
    try:
        if gid is not None:
            os.fchown(fd, -1, gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.rename(tmp, path)
