"""The E2B sandbox provider: one E2B cloud sandbox per run, built from ``sandbox_image/``.

``start`` creates the sandbox from the template, writes the run spec to ``/home/user/run_spec.json``
and starts the agent under its supervisor (``python -m openhelm_agent.supervise -- python -m
openhelm_agent``) in the background; the agent's evidence lands in
``/home/user/out``, which ``list_files``/``read_file`` read back through E2B's in-sandbox daemon.

Network policy: ``e2b_network.py`` turns the run's domain patterns into E2B's egress rules.

Secrets. The per-run token is given to the agent process only (``commands.run(envs=...)``), never to
the sandbox-wide environment; AWS, E2B and model-provider credentials are refused outright. A run's
per-domain secrets ride in the run spec file (``files.write`` over envd's TLS), not in any envs: the
sandbox-wide ones are part of the create request E2B keeps; the agent removes the file once read.

Crashes. No Lambda is alive while the agent runs (the handle is disconnected right after start), so
the sandbox's start command is the supervisor: it reports an agent that exits without its result to
the control plane within a second. What it cannot cover is the whole sandbox dying with it (E2B
killed it, the VM failed, its lifetime ran out). E2B's lifecycle webhook covers it where it is
registered (``sandbox.lifecycle.killed`` → ``POST /internal/e2b/events``, checked against
``OPENHELM_E2B_WEBHOOK_SECRET``; our ``run_id``/``org_id`` ride in the sandbox metadata): the run
ends at once, billed up to the kill. Otherwise the reaper (every minute) finds the run without a
live sandbox and bills it up to its last progress report.

Warm template. A template built with the warm start command (``sandbox_image/template.py``)
resumes with the agent already waiting and Chromium up (the ready file exists); ``start`` then
hands the run in (``/home/user/handout``: ``run_spec.json``, then ``handout.json`` with the control
URL, LLM URL and run token, written last: ``openhelm_agent/warm.py``) instead of starting an agent.
Everything per run is set at create as for a cold start (network rules, metadata, lifetime); only a
request with extra ``envs`` cannot reach the running agent: the warm one is stood down and the run
starts cold in the same sandbox. A template without the ready file is started cold, as before.

The e2b SDK is imported lazily: code paths that never touch E2B pay nothing for it.
"""

from __future__ import annotations

import json
import posixpath
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared.clock import Clock
from shared.logging import get_logger
from shared.sandbox import e2b_lifecycle
from shared.sandbox.base import (
    LIVE_PORT,
    LIVE_VIEW_KEY,
    SandboxError,
    SandboxFile,
    SandboxFileNotFound,
    SandboxInfo,
    SandboxNotFound,
    SandboxProvider,
    SandboxRequest,
    SandboxStartError,
    UnsafePath,
    spec_document,
)
from shared.sandbox.e2b_network import network_policy
from shared.sandbox.env_policy import split_envs

if TYPE_CHECKING:
    from e2b import Sandbox, SandboxNetworkOpts

log = get_logger("shared.sandbox.e2b")

HOME_DIR = "/home/user"
RUN_SPEC_PATH = f"{HOME_DIR}/run_spec.json"
FILES_DIR = f"{HOME_DIR}/files"  # a run's attached files (POST /v1/files)
OUT_DIR = f"{HOME_DIR}/out"
# A session's mailbox: send_command writes one file per command here (docs/sessions.md).
MAILBOX_DIR = f"{HOME_DIR}/mailbox"
# The supervisor runs the agent and reports its exit at once if it ends without its completion
# (sandbox_image/agent/openhelm_agent/supervise.py): nothing else is alive to notice.
AGENT_COMMAND = "python -m openhelm_agent.supervise -- python -m openhelm_agent"
# The warm template's hand-out directory and ready file (sandbox_image/template.py).
HANDOUT_DIR = f"{HOME_DIR}/handout"
WARM_READY_FILE = f"{HOME_DIR}/.openhelm-warm-ready"
CHROMIUM_PATH = "/usr/bin/chromium"
# Metadata marking our sandboxes (list_running filters on it).
OPENHELM_METADATA = {"openhelm": "1"}
# How deep list_files walks the out dir (screenshots/ is one level down).
_LIST_DEPTH = 8
# Connecting to a running sandbox may extend its life to at least this many seconds (E2B only ever
# extends, never shortens): enough for the control plane to copy evidence at the deadline's edge.
CONNECT_GRACE_S = 60
_CACHE_SIZE = 32


# Kept under their earlier names for callers of this module.
OutDirPathError = UnsafePath


def _e2b() -> Any:
    """The e2b module, imported on first use."""
    import e2b

    return e2b


def _out_path(path: str) -> str:
    """Absolute sandbox path of ``path`` (relative to the out dir); OutDirPathError if it escapes."""
    rel = posixpath.normpath(path.replace("\\", "/")) if path else "."
    if rel.startswith("/") or rel == ".." or rel.startswith("../"):
        raise OutDirPathError(f"path escapes the out dir: {path!r}")
    return OUT_DIR if rel == "." else f"{OUT_DIR}/{rel}"


class E2BProvider(SandboxProvider):
    """Runs each run's agent in its own E2B sandbox (template built from ``sandbox_image/``)."""

    name = "e2b"
    extendable = True

    def __init__(
        self,
        api_key: str,
        template: str = "openhelm-agent",
        *,
        domain: str | None = None,
        deployment: str | None = None,
        request_timeout_s: float = 30.0,
        max_read_bytes: int = 64 * 1024 * 1024,
        clock: Clock | None = None,
        max_lifetime_s: int = 3600,
    ) -> None:
        """``max_lifetime_s``: the longest sandbox life the E2B plan allows (1 h on Hobby, 24 h on
        Pro); it bounds a session's max_duration_s.

        ``deployment`` (e.g. the stack name) is stored in every sandbox's metadata and scopes
        ``list_running``, so a reaper of one deployment never sees another's sandboxes on a shared
        E2B team."""
        if not api_key:
            raise ValueError("E2B api_key is required")
        self.template = template
        self.deployment = deployment
        self.max_read_bytes = max_read_bytes
        self.max_lifetime_s = max_lifetime_s
        self._opts: dict[str, Any] = {"api_key": api_key, "request_timeout": request_timeout_s}
        if domain:
            self._opts["domain"] = domain
        self._clock = clock or Clock()
        self._connected: OrderedDict[str, Sandbox] = OrderedDict()
        self._lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------------

    def _selector_metadata(self) -> dict[str, str]:
        md = dict(OPENHELM_METADATA)
        if self.deployment:
            md["deployment"] = self.deployment
        return md

    def _map_error(self, exc: BaseException, sandbox_id: str, op: str) -> SandboxError:
        e2b = _e2b()
        if isinstance(exc, e2b.SandboxNotFoundException | e2b.SandboxNotRunningException):
            self._forget(sandbox_id)
            return SandboxNotFound(f"E2B sandbox {sandbox_id} not found ({op}): {exc}")
        return SandboxError(f"E2B {op} failed for sandbox {sandbox_id}: {type(exc).__name__}: {exc}")

    def _forget(self, sandbox_id: str) -> None:
        with self._lock:
            self._connected.pop(sandbox_id, None)

    def _connect(self, sandbox_id: str) -> Sandbox:
        """A connected Sandbox (one control-plane call per sandbox, then cached)."""
        with self._lock:
            sbx = self._connected.get(sandbox_id)
            if sbx is not None:
                self._connected.move_to_end(sandbox_id)
                return sbx
        sbx = _e2b().Sandbox.connect(sandbox_id, timeout=CONNECT_GRACE_S, **self._opts)
        with self._lock:
            self._connected[sandbox_id] = sbx
            while len(self._connected) > _CACHE_SIZE:
                self._connected.popitem(last=False)
        return sbx

    def _envs(self, request: SandboxRequest) -> tuple[dict[str, str], dict[str, str]]:
        """(sandbox-wide envs, agent process envs). The run token goes to the agent process only."""
        envs = split_envs(request.envs)
        if envs.refused:
            raise ValueError(f"refusing to pass credentials into a sandbox: {envs.refused}")
        if envs.reserved:
            log.warning("e2b_env_reserved_dropped", run_id=request.run_id, names=envs.reserved)
        public = {
            **envs.kept,
            "OPENHELM_RUN_SPEC": RUN_SPEC_PATH,
            "OPENHELM_OUT_DIR": OUT_DIR,
            "OPENHELM_CONTROL_URL": request.control_url,
            "OPENHELM_CHROMIUM": CHROMIUM_PATH,
            **({"OPENHELM_LLM_URL": request.llm_url} if request.llm_url else {}),
            **({"OPENHELM_MAILBOX": MAILBOX_DIR} if request.mailbox else {}),
            **({"OPENHELM_LIVE_LISTEN": f"tcp:0.0.0.0:{LIVE_PORT}"} if request.live_secret else {}),
        }
        secret = {"OPENHELM_LIVE_SECRET": request.live_secret} if request.live_secret else {}
        return public, {**public, "OPENHELM_RUN_TOKEN": request.run_token, **secret}

    # -- SandboxProvider -------------------------------------------------------------------------

    def start(self, request: SandboxRequest) -> SandboxInfo:
        started = time.monotonic()
        try:
            if request.timeout_s <= 0:
                raise ValueError(f"timeout_s must be positive, got {request.timeout_s}")
            network, unenforced = network_policy(
                request.allowed_domains, request.blocked_domains, request.control_url, request.llm_url
            )
            if request.live_secret:
                # A viewer's <img> cannot send E2B's traffic token: the one port served (the live
                # view's frame endpoint) checks its own short-lived frame token instead.
                network = {**network, "allow_public_traffic": True}
            sandbox_envs, agent_envs = self._envs(request)
            spec = spec_document(request, FILES_DIR)
            e2b = _e2b()
        except (ValueError, TypeError, ImportError) as exc:
            raise SandboxStartError(f"invalid sandbox request for run {request.run_id}: {exc}") from exc
        if unenforced:
            log.warning(
                "e2b_blocked_domains_browser_only",
                run_id=request.run_id,
                count=len(unenforced),
                reason="E2B deny_out takes IPs/CIDRs only",
            )
        metadata = {
            **{str(k): str(v) for k, v in request.metadata.items()},
            **self._selector_metadata(),
            "run_id": request.run_id,
            "org_id": request.org_id,
        }
        net_opts: SandboxNetworkOpts = network  # type: ignore[assignment]
        try:
            sbx = e2b.Sandbox.create(
                template=self.template,
                timeout=request.timeout_s,
                metadata=metadata,
                envs=sandbox_envs,
                network=net_opts,
                allow_internet_access=True,
                # Fresh per start(): the SDK's own retries (429/502/503/504) then cannot create a
                # second sandbox, while a retried StartSandbox step never reuses a started one.
                idempotency_key=str(uuid.uuid4()),
                **self._opts,
            )
        except Exception as exc:
            log.error("e2b_create_failed", run_id=request.run_id, error=type(exc).__name__, detail=str(exc))
            raise SandboxStartError(f"E2B sandbox create failed for run {request.run_id}: {exc}") from exc
        created = time.monotonic()
        try:
            for f in request.files:
                sbx.files.write(f"{FILES_DIR}/{f.name}", f.data)
            warm = sbx.files.exists(WARM_READY_FILE)
            if warm and not request.envs and not request.mailbox:
                pid = self._hand_in(sbx, spec, agent_envs)
            else:
                if warm:  # the running agent cannot get this run's envs or serve a session: it stands down
                    sbx.files.write(f"{HANDOUT_DIR}/handout.json", json.dumps({"stand_down": True}))
                    warm = False
                sbx.files.write(RUN_SPEC_PATH, spec)
                handle = sbx.commands.run(AGENT_COMMAND, background=True, envs=agent_envs, cwd=HOME_DIR, timeout=0)
                pid = str(handle.pid)
                # Stop streaming the agent's output: envd keeps the process running (timeout=0: no
                # deadline but the sandbox's own).
                handle.disconnect()
        except BaseException as exc:
            self._kill_after_failed_start(sbx.sandbox_id, request.run_id)
            if not isinstance(exc, Exception):
                raise
            log.error(
                "e2b_agent_start_failed",
                run_id=request.run_id,
                sandbox_id=sbx.sandbox_id,
                error=type(exc).__name__,
                detail=str(exc),
            )
            raise SandboxStartError(f"starting the agent failed for run {request.run_id}: {exc}") from exc
        with self._lock:
            self._connected[sbx.sandbox_id] = sbx
            while len(self._connected) > _CACHE_SIZE:
                self._connected.popitem(last=False)
        done = time.monotonic()
        log.info(
            "e2b_sandbox_started",
            run_id=request.run_id,
            sandbox_id=sbx.sandbox_id,
            template=self.template,
            agent_pid=pid,
            warm=warm,
            create_ms=round((created - started) * 1000, 1),
            agent_ms=round((done - created) * 1000, 1),
        )
        metadata = {"template": self.template, "agent_pid": pid}
        if warm:
            metadata["warm"] = "true"
        elif request.live_secret:  # a warm agent got only the hand-out's variables: no live view
            metadata[LIVE_VIEW_KEY] = "1"
        return SandboxInfo(
            sandbox_id=sbx.sandbox_id,
            run_id=request.run_id,
            provider=self.name,
            started_at=self._clock.now(),
            metadata=metadata,
        )

    @staticmethod
    def _hand_in(sbx: Sandbox, spec: bytes, agent_envs: Mapping[str, str]) -> str:
        """Give the waiting agent its run; the agent's pid is the template's start command's ("warm")."""
        keys = ("OPENHELM_CONTROL_URL", "OPENHELM_RUN_TOKEN", "OPENHELM_LLM_URL")
        handout = {"env": {k: agent_envs[k] for k in keys if k in agent_envs}}
        sbx.files.write(f"{HANDOUT_DIR}/run_spec.json", spec)
        # Last: the agent starts when this file parses (it reads a half-written one again).
        sbx.files.write(f"{HANDOUT_DIR}/handout.json", json.dumps(handout))
        return "warm"

    def send_command(self, sandbox_id: str, command: dict[str, Any]) -> None:
        """One envd files.write into the mailbox: no Lambda waits on the sandbox, the agent reads it."""
        name = str(command["id"])
        if not name.replace("_", "").replace("-", "").isalnum() or len(name) > 80:
            raise SandboxError(f"bad command id {name!r}")
        try:
            self._connect(sandbox_id).files.write(f"{MAILBOX_DIR}/{name}.json", json.dumps(command))
        except Exception as exc:
            raise self._map_error(exc, sandbox_id, "send_command") from exc

    def put_files(self, sandbox_id: str, subdir: str, files: Sequence[SandboxFile]) -> str:
        if not subdir.replace("_", "").replace("-", "").isalnum() or len(subdir) > 80:
            raise SandboxError(f"bad files dir {subdir!r}")
        target = f"{FILES_DIR}/{subdir}"
        try:
            sbx = self._connect(sandbox_id)
            for f in files:
                sbx.files.write(f"{target}/{f.name}", f.data)
        except Exception as exc:
            raise self._map_error(exc, sandbox_id, "put_files") from exc
        return target

    def remove_command(self, sandbox_id: str, command_id: str) -> None:
        if not command_id.replace("_", "").replace("-", "").isalnum() or len(command_id) > 80:
            return
        try:
            self._connect(sandbox_id).files.remove(f"{MAILBOX_DIR}/{command_id}.json")
        except Exception as exc:  # gone with the sandbox, at the latest
            log.warning("e2b_remove_command_failed", sandbox_id=sandbox_id, error=type(exc).__name__)

    def live_endpoint(self, sandbox_id: str) -> str | None:
        """E2B's public host of the sandbox's live-view port (``<port>-<sandboxId>.<domain>``, the
        SDK's get_host); the agent's frame endpoint checks the frame token itself."""
        try:
            host = self._connect(sandbox_id).get_host(LIVE_PORT)
        except Exception as exc:
            raise self._map_error(exc, sandbox_id, "get_host") from exc
        return host if host.startswith(("http://", "https://")) else f"https://{host}"

    def extend(self, sandbox_id: str, timeout_s: int) -> None:
        try:
            _e2b().Sandbox.set_timeout(sandbox_id, timeout_s, **self._opts)
        except Exception as exc:
            raise self._map_error(exc, sandbox_id, "set_timeout") from exc

    supports_pause = True

    def pause(self, sandbox_id: str) -> bool:
        try:
            return e2b_lifecycle.pause(_e2b(), sandbox_id, self._opts)
        except Exception as exc:
            raise self._map_error(exc, sandbox_id, "pause") from exc

    def resume(self, sandbox_id: str, timeout_s: int) -> None:
        try:
            sbx = e2b_lifecycle.resume(_e2b(), sandbox_id, timeout_s, self._opts)
        except Exception as exc:
            raise self._map_error(exc, sandbox_id, "resume") from exc
        with self._lock:
            self._connected[sandbox_id] = sbx

    def _kill_after_failed_start(self, sandbox_id: str, run_id: str) -> None:
        try:
            _e2b().Sandbox.kill(sandbox_id, **self._opts)
        except Exception as exc:  # the sandbox's own timeout and the reaper remain as backstops
            log.error("e2b_kill_after_failed_start_failed", run_id=run_id, sandbox_id=sandbox_id, error=str(exc))
        self._forget(sandbox_id)

    def list_files(self, sandbox_id: str, subdir: str = "") -> list[str]:
        base = _out_path(subdir)
        e2b = _e2b()
        try:
            entries = self._connect(sandbox_id).files.list(base, depth=_LIST_DEPTH)
        except e2b.FileNotFoundException:
            return []
        except Exception as exc:
            raise self._map_error(exc, sandbox_id, "list_files") from exc
        prefix = OUT_DIR + "/"
        out = [
            entry.path[len(prefix) :]
            for entry in entries
            if entry.type == e2b.FileType.FILE and entry.path.startswith(prefix)
        ]
        return sorted(out)

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        """Bytes of ``path`` (relative to the out dir), streamed and capped at ``max_read_bytes``.

        SandboxFileNotFound (a SandboxError and a FileNotFoundError) if the file is missing,
        SandboxNotFound if the sandbox is gone, SandboxError if the file is too large."""
        full = _out_path(path)
        e2b = _e2b()
        chunks: list[bytes] = []
        size = 0
        try:
            with self._connect(sandbox_id).files.read(full, format="stream") as stream:
                for chunk in stream:
                    size += len(chunk)
                    if size > self.max_read_bytes:
                        raise SandboxError(f"{path!r} is larger than {self.max_read_bytes} bytes")
                    chunks.append(chunk)
        except SandboxError:
            raise
        except e2b.FileNotFoundException as exc:
            raise SandboxFileNotFound(f"{path} not found in sandbox {sandbox_id}") from exc
        except Exception as exc:
            raise self._map_error(exc, sandbox_id, "read_file") from exc
        return b"".join(chunks)

    def kill(self, sandbox_id: str) -> bool:
        """True if E2B killed a live sandbox, False if it was unknown or already gone.

        Raises SandboxError only when E2B could not be asked (auth, network, 5xx after retries)."""
        self._forget(sandbox_id)
        e2b = _e2b()
        try:
            killed = bool(e2b.Sandbox.kill(sandbox_id, **self._opts))
        except (e2b.SandboxNotFoundException, e2b.NotFoundException):
            killed = False
        except Exception as exc:
            raise SandboxError(f"E2B kill failed for sandbox {sandbox_id}: {type(exc).__name__}: {exc}") from exc
        log.info("e2b_sandbox_killed", sandbox_id=sandbox_id, was_running=killed)
        return killed

    def list_running(self) -> list[SandboxInfo]:
        """Running and paused sandboxes of this deployment (every page)."""
        e2b = _e2b()
        query = e2b.SandboxQuery(
            metadata=self._selector_metadata(), state=[e2b.SandboxState.RUNNING, e2b.SandboxState.PAUSED]
        )
        found: list[SandboxInfo] = []
        try:
            paginator = e2b.Sandbox.list(query=query, limit=100, **self._opts)
            while paginator.has_next:
                for item in paginator.next_items():
                    md: Mapping[str, str] = item.metadata or {}
                    found.append(
                        SandboxInfo(
                            sandbox_id=item.sandbox_id,
                            run_id=md.get("run_id", ""),
                            provider=self.name,
                            started_at=item.started_at,
                            metadata={**md, "state": str(getattr(item.state, "value", item.state))},
                        )
                    )
        except Exception as exc:
            raise SandboxError(f"E2B list failed: {type(exc).__name__}: {exc}") from exc
        return found
