"""A fake E2B cloud for wire tests: the control-plane REST API and the in-sandbox daemon (envd).

Both speak the protocols the real e2b SDK (2.63) speaks, so ``E2BProvider`` runs its real SDK code
path against them over real HTTP:

* REST API (``E2B_API_URL``): ``POST /v2/sandboxes`` (201 + Sandbox), ``POST /v2/sandboxes/{id}/connect``,
  ``DELETE /sandboxes/{id}`` (204 / 404), ``GET /v2/sandboxes`` (metadata + state filters, ``limit``,
  ``x-next-token`` pagination). ``X-API-KEY`` is checked (401 otherwise).
* envd (``E2B_SANDBOX_URL``): the Connect-RPC ``process.Process`` (Start, List, SendSignal) and
  ``filesystem.Filesystem`` (ListDir, Stat) services, served by the SDK's own generated ASGI stubs
  with the JSON codec, plus the plain HTTP ``GET/POST /files`` and ``GET /health``. Requests are
  routed by the ``E2b-Sandbox-Id`` header (as E2B's edge does on ``sandbox.<domain>``) and must
  carry the ``X-Access-Token`` that create/connect returned; a killed sandbox answers 502
  "... was not found" like the edge.

A sandbox is a directory: sandbox path ``/x`` is ``<root>/<sandbox id>/x`` on the host. Processes
really run on the host (``/bin/bash -l -c <cmd>``, like envd) with a clean environment; values of
``cwd`` and of environment variables under ``/home/user`` are translated to the sandbox directory
(the process is not chrooted). As in envd, a process outlives the stream that started it and is
only killed by its own ``Connect-Timeout-Ms`` deadline, a signal, or the sandbox's death.

Faults can be injected per operation (``inject_fault``) to exercise error paths at the wire.

Templates with a start command (``start_cmds``: template → (command, ready file)) behave as E2B's
snapshots: :meth:`FakeE2BCloud.snapshot` starts sandboxes ahead of time, runs the start command and
waits for its ready file, and a create of that template hands out one of them with its processes
already running, as a sandbox resumed from the template's snapshot is (one per create, never
again). Without a prepared one, a create prepares one first (slower, as a cold template build).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote

import uvicorn
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from e2b.envd.filesystem import filesystem_connect, filesystem_pb
from e2b.envd.process import process_connect, process_pb
from protobuf import Oneof
from protobuf.wkt.google.protobuf.timestamp_pb import Timestamp

ENVD_VERSION = "0.6.4"
SUPERVISOR = Path(__file__).resolve().parents[2] / "sandbox_image" / "agent" / "openhelm_agent" / "supervise.py"
AGENT_OUTPUTS = Path(__file__).resolve().parents[2] / "devstack" / "testing" / "agent_outputs.py"
HOME = "/home/user"
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class FakeProcess:
    pid: int
    proc: asyncio.subprocess.Process
    config: process_pb.ProcessConfig
    deadline_ms: int | None = None
    subscribers: list[asyncio.Queue[process_pb.ProcessEvent | None]] = field(default_factory=list)
    exit_code: int | None = None


@dataclass
class FakeSandbox:
    sandbox_id: str
    template_id: str
    root: Path
    envd_token: str
    metadata: dict[str, str]
    envs: dict[str, str]
    create_body: dict[str, Any]
    started_at: datetime
    end_at: datetime
    alive: bool = True
    paused: bool = False  # paused with its memory: its processes are stopped (SIGSTOP), not ended
    processes: dict[int, FakeProcess] = field(default_factory=dict)
    # The template's start command (a process the snapshot holds running, not started over envd).
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def host_path(self, path: str) -> Path:
        """Host path of a sandbox path (relative paths are relative to the home dir)."""
        absolute = path if path.startswith("/") else f"{HOME}/{path}"
        resolved = os.path.normpath(absolute)
        return self.root / resolved.lstrip("/")

    def sandbox_path(self, host: Path) -> str:
        return "/" + str(host.relative_to(self.root)).replace(os.sep, "/")

    def translate(self, value: str) -> str:
        if value == HOME or value.startswith(HOME + "/"):
            return str(self.host_path(value))
        return value


class FakeE2BCloud:
    """State shared by the fake REST API and the fake envd, plus their uvicorn servers."""

    def __init__(
        self,
        root: Path,
        *,
        api_key: str,
        templates: set[str],
        image_dir: Path,
        start_cmds: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.root = root
        self.api_key = api_key
        self.templates = templates | set(start_cmds or {})
        self.image_dir = image_dir
        self.start_cmds = dict(start_cmds or {})
        self._snapshots: dict[str, list[FakeSandbox]] = {}
        self.sandboxes: dict[str, FakeSandbox] = {}
        self.resumes: list[str] = []  # sandbox ids a connect resumed from paused
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self._faults: dict[str, tuple[int, str, int, str | None]] = {}
        self._idempotency: dict[str, str] = {}
        self.create_keys: list[str | None] = []  # Idempotency-Key of every create attempt
        self.max_page = 100  # the API caps page sizes; tests lower it to exercise pagination
        self._lock = threading.Lock()
        self._process_app = process_connect.ProcessASGIApplication(_ProcessService(self))
        self._filesystem_app = filesystem_connect.FilesystemASGIApplication(_FilesystemService(self))
        self._servers: list[tuple[uvicorn.Server, threading.Thread]] = []
        self.api_url = ""
        self.envd_url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self.api_url = self._serve(self.rest_app)
        self.envd_url = self._serve(self.envd_app)

    def _serve(self, app: Callable[..., Awaitable[None]]) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted sockets on Linux: without it, Nagle's algorithm and the client's
        # delayed ACK add ~40 ms to every response written as headers + body.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            interface="asgi3",
            log_level="warning",
            lifespan="off",
            http="h11",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake E2B server did not start")
            time.sleep(0.01)
        self._servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for sbx in [*self.sandboxes.values(), *(s for pool in self._snapshots.values() for s in pool)]:
            self._kill_processes(sbx)
        for server, _ in self._servers:
            server.should_exit = True
        for _, thread in self._servers:
            thread.join(timeout=5)

    # -- test helpers ----------------------------------------------------------------------------

    def inject_fault(
        self, op: str, status: int, message: str, *, times: int = 1, retry_after: str | None = None
    ) -> None:
        """Make the next ``times`` ``op`` calls fail with ``status``: ``create`` (rejected),
        ``create_committed`` (the sandbox is created but the answer is lost), ``files_write``,
        ``files_read``, ``process_start``. ``retry_after`` is sent as ``Retry-After``."""
        self._faults[op] = (status, message, times, retry_after)

    def _take_fault(self, op: str) -> tuple[int, str, str | None] | None:
        fault = self._faults.get(op)
        if fault is None:
            return None
        status, message, times, retry_after = fault
        if times <= 1:
            del self._faults[op]
        else:
            self._faults[op] = (status, message, times - 1, retry_after)
        return status, message, retry_after

    def alive(self) -> list[FakeSandbox]:
        return [s for s in self.sandboxes.values() if s.alive]

    def running_pids(self, sandbox_id: str) -> list[int]:
        sbx = self.sandboxes[sandbox_id]
        started = [p.pid for p in sbx.started if p.poll() is None]
        return started + [p.pid for p in sbx.processes.values() if p.exit_code is None]

    def _signal_processes(self, sbx: FakeSandbox, sig: signal.Signals) -> None:
        for pid in self.running_pids(sbx.sandbox_id):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)

    def _kill_processes(self, sbx: FakeSandbox) -> None:
        for p in sbx.processes.values():
            if p.exit_code is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
        for proc in sbx.started:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def snapshot(self, template: str, count: int = 1, timeout: float = 120.0) -> None:
        """Prepare ``count`` sandboxes of a start-command template (its start command running and
        ready), for the next creates to resume."""
        for _ in range(count):
            self._snapshots.setdefault(template, []).append(self._prepare(template, timeout))

    def _new_sandbox(self, template: str) -> FakeSandbox:
        sandbox_id = "i" + secrets.token_hex(10)
        root = self.root / sandbox_id
        home = root / HOME.lstrip("/")
        home.mkdir(parents=True)
        # The fake "template": `python` on PATH after /etc/profile resets it (bash -l), and the
        # stand-in agent package importable.
        (home / ".bash_profile").write_text(
            f'export PATH="{self.image_dir / "bin"}:$PATH"\nexport PYTHONPATH="{self.image_dir / "site"}"\n'
        )
        now = datetime.now(UTC)
        return FakeSandbox(
            sandbox_id=sandbox_id,
            template_id=template,
            root=root,
            envd_token=secrets.token_urlsafe(16),
            metadata={},
            envs={},
            create_body={},
            started_at=now,
            end_at=now,
        )

    def _prepare(self, template: str, timeout: float) -> FakeSandbox:
        command, ready = self.start_cmds[template]
        sbx = self._new_sandbox(template)
        home = str(sbx.host_path(HOME))
        env = {"HOME": home, "USER": "user", "PATH": "/usr/local/bin:/usr/bin:/bin"}
        with open(sbx.root / "start.log", "wb") as log:
            sbx.started.append(
                subprocess.Popen(
                    ["/bin/bash", "-l", "-c", command.replace(HOME, home)],
                    cwd=home,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + timeout
        while not sbx.host_path(ready).exists():
            if time.monotonic() > deadline or sbx.started[0].poll() is not None:
                self._kill_processes(sbx)
                raise RuntimeError(f"start command of {template} not ready: {(sbx.root / 'start.log').read_text()}")
            time.sleep(0.02)
        return sbx

    def kill_sandbox(self, sandbox_id: str) -> bool:
        with self._lock:
            sbx = self.sandboxes.get(sandbox_id)
            if sbx is None or not sbx.alive:
                return False
            sbx.alive = False
        self._kill_processes(sbx)
        return True

    # -- REST API --------------------------------------------------------------------------------

    async def rest_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        raw = await _read_body(receive)
        body = json.loads(raw) if raw else None
        query = scope.get("query_string", b"").decode()
        self.requests.append((method, path + (f"?{query}" if query else ""), body))
        if headers.get("x-api-key") != self.api_key:
            await _json(send, 401, {"code": 401, "message": "Invalid API key"})
            return
        parts = [p for p in path.split("/") if p]
        if method == "POST" and parts == ["v2", "sandboxes"]:
            await self._create(send, body or {}, headers)
        elif method == "POST" and len(parts) == 4 and parts[:2] == ["v2", "sandboxes"] and parts[3] == "connect":
            sbx = self.sandboxes.get(unquote(parts[2]))
            if sbx is None or not sbx.alive:
                await _json(send, 404, {"code": 404, "message": f"sandbox '{parts[2]}' not found"})
                return
            if sbx.paused:  # connect resumes a paused sandbox where it stopped (memory kept)
                self._signal_processes(sbx, signal.SIGCONT)
                sbx.paused = False
                self.resumes.append(sbx.sandbox_id)
            grace = (body or {}).get("timeout")
            if grace:  # connect only ever extends the sandbox's life
                sbx.end_at = max(sbx.end_at, datetime.now(UTC) + timedelta(seconds=grace))
            await _json(send, 200, self._sandbox_json(sbx))
        elif method == "POST" and len(parts) == 3 and parts[0] == "sandboxes" and parts[2] == "pause":
            sbx = self.sandboxes.get(unquote(parts[1]))
            if sbx is None or not sbx.alive:
                await _json(send, 404, {"code": 404, "message": f"sandbox '{parts[1]}' not found"})
            elif sbx.paused:
                await _json(send, 409, {"code": 409, "message": f"sandbox '{parts[1]}' is already paused"})
            else:
                self._signal_processes(sbx, signal.SIGSTOP)
                sbx.paused = True
                await _respond(send, 204, b"", "application/json")
        elif method == "POST" and len(parts) == 3 and parts[0] == "sandboxes" and parts[2] == "timeout":
            sbx = self.sandboxes.get(unquote(parts[1]))
            if sbx is None or not sbx.alive:
                await _json(send, 404, {"code": 404, "message": f"sandbox '{parts[1]}' not found"})
                return
            # set_timeout: the sandbox now ends this many seconds from now (it may also shorten it).
            sbx.end_at = datetime.now(UTC) + timedelta(seconds=int((body or {}).get("timeout", 0)))
            await _respond(send, 204, b"", "application/json")
        elif method == "DELETE" and len(parts) == 2 and parts[0] == "sandboxes":
            if self.kill_sandbox(unquote(parts[1])):
                await _respond(send, 204, b"", "application/json")
            else:
                await _json(send, 404, {"code": 404, "message": f"sandbox '{parts[1]}' not found"})
        elif method == "GET" and parts == ["v2", "sandboxes"]:
            await self._list(send, query)
        else:
            await _json(send, 404, {"code": 404, "message": f"no route {method} {path}"})

    async def _create(self, send: Send, body: dict[str, Any], headers: dict[str, str]) -> None:
        key = headers.get("idempotency-key")
        self.create_keys.append(key)
        fault = self._take_fault("create")
        if fault:
            await _error(send, *fault)
            return
        if key and key in self._idempotency:  # a retry of a create that already happened
            await _json(send, 201, self._sandbox_json(self.sandboxes[self._idempotency[key]]))
            return
        template = body.get("templateID", "")
        if template not in self.templates:
            await _json(send, 404, {"code": 404, "message": f"template '{template}' not found"})
            return
        if template in self.start_cmds:  # resume a prepared snapshot: its start command is running
            pool = self._snapshots.get(template) or []
            sbx = pool.pop(0) if pool else await asyncio.to_thread(self._prepare, template, 120.0)
        else:
            sbx = self._new_sandbox(template)
        now = datetime.now(UTC)
        sbx.metadata = dict(body.get("metadata") or {})
        sbx.envs = dict(body.get("envVars") or {})
        sbx.create_body = body
        sbx.started_at = now
        sbx.end_at = now + timedelta(seconds=int(body.get("timeout", 300)))
        sandbox_id = sbx.sandbox_id
        self.sandboxes[sandbox_id] = sbx
        if key:
            self._idempotency[key] = sandbox_id
        fault = self._take_fault("create_committed")
        if fault:
            await _error(send, *fault)
            return
        await _json(send, 201, self._sandbox_json(sbx))

    def _sandbox_json(self, sbx: FakeSandbox) -> dict[str, Any]:
        return {
            "templateID": sbx.template_id,
            "sandboxID": sbx.sandbox_id,
            "clientID": "fake-client",
            "envdVersion": ENVD_VERSION,
            "envdAccessToken": sbx.envd_token,
            "trafficAccessToken": None,
            "domain": None,
        }

    async def _list(self, send: Send, query: str) -> None:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        # The SDK percent-encodes keys and values, then url-encodes the pairs into one parameter.
        wanted = dict(parse_qsl(params.get("metadata", "")))
        states = set(params.get("state", "running,paused").split(","))
        matching = [
            s
            for s in self.sandboxes.values()
            if s.alive
            and ("paused" if s.paused else "running") in states
            and all(s.metadata.get(k) == v for k, v in wanted.items())
        ]
        matching.sort(key=lambda s: s.sandbox_id)
        start = int(params.get("nextToken", "0") or 0)
        limit = min(int(params.get("limit", "100")), self.max_page)
        page = matching[start : start + limit]
        next_token = str(start + limit) if start + limit < len(matching) else None
        items = [
            {
                "templateID": s.template_id,
                "alias": s.template_id,
                "sandboxID": s.sandbox_id,
                "clientID": "fake-client",
                "startedAt": s.started_at.isoformat(),
                "endAt": s.end_at.isoformat(),
                "cpuCount": 2,
                "memoryMB": 2048,
                "diskSizeMB": 10240,
                "state": "paused" if s.paused else "running",
                "envdVersion": ENVD_VERSION,
                "metadata": s.metadata,
            }
            for s in page
        ]
        extra = [(b"x-next-token", next_token.encode())] if next_token else []
        await _respond(send, 200, json.dumps(items).encode(), "application/json", extra)

    # -- envd ------------------------------------------------------------------------------------

    async def envd_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        sbx = self.sandboxes.get(headers.get("e2b-sandbox-id", ""))
        if sbx is None or not sbx.alive:
            sid = headers.get("e2b-sandbox-id", "")
            await _json(send, 502, {"code": 502, "message": f"The sandbox {sid} was not found", "sandboxId": sid})
            return
        if headers.get("x-access-token") != sbx.envd_token:
            await _json(send, 401, {"code": 401, "message": "unauthorized access, invalid access token"})
            return
        path = scope["path"]
        if path.startswith("/process.Process/"):
            await self._process_app(scope, receive, send)
        elif path.startswith("/filesystem.Filesystem/"):
            await self._filesystem_app(scope, receive, send)
        elif path == "/files":
            await self._files(sbx, scope, receive, send)
        elif path == "/health":
            await _respond(send, 204, b"", "text/plain")
        else:
            await _json(send, 404, {"code": 404, "message": f"no route {path}"})

    def sandbox_for(self, ctx: Any) -> FakeSandbox:
        return self.sandboxes[ctx.request_headers["e2b-sandbox-id"]]

    async def _files(self, sbx: FakeSandbox, scope: Scope, receive: Receive, send: Send) -> None:
        params = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if scope["method"] == "GET":
            fault = self._take_fault("files_read")
            if fault:
                await _error(send, *fault)
                return
            target = sbx.host_path(params.get("path", ""))
            if not target.is_file():
                msg = f"path '{params.get('path')}' does not exist" if not target.exists() else "path is a directory"
                await _json(send, 404 if not target.exists() else 400, {"code": 404, "message": msg})
                return
            await _respond(send, 200, target.read_bytes(), "application/octet-stream")
            return
        body = await _read_body(receive)
        fault = self._take_fault("files_write")
        if fault:
            await _error(send, *fault)
            return
        written: list[tuple[str, bytes]] = []
        ctype = headers.get("content-type", "")
        if ctype.startswith("application/octet-stream"):
            written.append((params["path"], body))
        elif ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + body
            )
            for part in msg.iter_parts():
                name = params.get("path") or part.get_filename() or ""
                written.append((name, part.get_payload(decode=True) or b""))
        else:
            await _json(send, 400, {"code": 400, "message": f"unsupported content type {ctype!r}"})
            return
        infos = []
        for sandbox_path, data in written:
            target = sbx.host_path(sandbox_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            infos.append({"name": target.name, "type": "file", "path": sbx.sandbox_path(target)})
        await _json(send, 200, infos)


class _ProcessService(process_connect.Process):
    def __init__(self, cloud: FakeE2BCloud) -> None:
        self.cloud = cloud

    async def start(self, request: process_pb.StartRequest, ctx: Any) -> AsyncIterator[process_pb.StartResponse]:
        sbx = self.cloud.sandbox_for(ctx)
        fault = self.cloud._take_fault("process_start")
        if fault:
            raise ConnectError(Code.INVALID_ARGUMENT, fault[1])
        config = request.process or process_pb.ProcessConfig()
        env = {"HOME": str(sbx.host_path(HOME)), "USER": "user", "PATH": "/usr/local/bin:/usr/bin:/bin"}
        env.update({k: sbx.translate(v) for k, v in sbx.envs.items()})
        env.update({k: sbx.translate(v) for k, v in (config.envs or {}).items()})
        cwd = sbx.host_path(config.cwd) if config.has_field("cwd") and config.cwd else sbx.host_path(HOME)
        try:
            proc = await asyncio.create_subprocess_exec(
                config.cmd,
                *config.args,
                cwd=str(cwd),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:  # envd answers a failed start with INVALID_ARGUMENT
            raise ConnectError(Code.INVALID_ARGUMENT, f"error starting process: {exc}") from exc
        deadline_ms = int(ctx.request_headers.get("connect-timeout-ms") or 0) or None
        fp = FakeProcess(pid=proc.pid, proc=proc, config=config, deadline_ms=deadline_ms)
        queue: asyncio.Queue[process_pb.ProcessEvent | None] = asyncio.Queue()
        fp.subscribers.append(queue)
        sbx.processes[proc.pid] = fp
        # Drain and publish output independently of this stream: the process outlives it.
        asyncio.get_running_loop().create_task(_pump(fp))
        if deadline_ms:  # like envd: the process dies with its start request's deadline, not its stream
            asyncio.get_running_loop().call_later(deadline_ms / 1000, _kill_group, proc.pid)
        try:
            yield _start_response(
                process_pb.ProcessEvent(event=Oneof("start", process_pb.ProcessEvent.StartEvent(pid=proc.pid)))
            )
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield _start_response(event)
        finally:
            with contextlib.suppress(ValueError):
                fp.subscribers.remove(queue)

    async def list(self, request: process_pb.ListRequest, ctx: Any) -> process_pb.ListResponse:
        sbx = self.cloud.sandbox_for(ctx)
        return process_pb.ListResponse(
            processes=[
                process_pb.ProcessInfo(config=p.config, pid=p.pid)
                for p in sbx.processes.values()
                if p.exit_code is None
            ]
        )

    async def send_signal(self, request: process_pb.SendSignalRequest, ctx: Any) -> process_pb.SendSignalResponse:
        sbx = self.cloud.sandbox_for(ctx)
        selector = request.process.selector if request.process else None
        pid = selector.value if isinstance(selector, Oneof) and selector.field == "pid" else None
        fp = sbx.processes.get(pid) if isinstance(pid, int) else None
        if fp is None or fp.exit_code is not None:
            raise ConnectError(Code.NOT_FOUND, f"process with pid {pid} not found")
        sig = signal.SIGKILL if request.signal == process_pb.Signal.SIGKILL else signal.SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.killpg(fp.pid, sig)
        return process_pb.SendSignalResponse()


def _start_response(event: process_pb.ProcessEvent) -> process_pb.StartResponse:
    return process_pb.StartResponse(event=event)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _pump(fp: FakeProcess) -> None:
    async def read(stream: asyncio.StreamReader | None, name: str) -> None:
        if stream is None:
            return
        while chunk := await stream.read(32768):
            event = process_pb.ProcessEvent(
                event=Oneof("data", process_pb.ProcessEvent.DataEvent(output=Oneof(name, chunk)))
            )
            for q in list(fp.subscribers):
                q.put_nowait(event)

    await asyncio.gather(read(fp.proc.stdout, "stdout"), read(fp.proc.stderr, "stderr"))
    code = await fp.proc.wait()
    fp.exit_code = code
    status = f"exit status {code}" if code >= 0 else f"signal: {signal.Signals(-code).name.lower()[3:]}"
    end = process_pb.ProcessEvent(
        event=Oneof("end", process_pb.ProcessEvent.EndEvent(exit_code=code, exited=code >= 0, status=status))
    )
    for q in list(fp.subscribers):
        q.put_nowait(end)
        q.put_nowait(None)


class _FilesystemService(filesystem_connect.Filesystem):
    def __init__(self, cloud: FakeE2BCloud) -> None:
        self.cloud = cloud

    async def list_dir(self, request: filesystem_pb.ListDirRequest, ctx: Any) -> filesystem_pb.ListDirResponse:
        sbx = self.cloud.sandbox_for(ctx)
        base = sbx.host_path(request.path)
        if not base.exists():
            raise ConnectError(Code.NOT_FOUND, f"directory '{request.path}' does not exist")
        if not base.is_dir():
            raise ConnectError(Code.INVALID_ARGUMENT, f"path '{request.path}' is not a directory")
        depth = request.depth or 1
        entries: list[filesystem_pb.EntryInfo] = []

        def walk(directory: Path, level: int) -> None:
            for child in sorted(directory.iterdir()):
                entries.append(_entry(sbx, child))
                if child.is_dir() and not child.is_symlink() and level < depth:
                    walk(child, level + 1)

        walk(base, 1)
        return filesystem_pb.ListDirResponse(entries=entries)

    async def stat(self, request: filesystem_pb.StatRequest, ctx: Any) -> filesystem_pb.StatResponse:
        sbx = self.cloud.sandbox_for(ctx)
        target = sbx.host_path(request.path)
        if not target.exists():
            raise ConnectError(Code.NOT_FOUND, f"file '{request.path}' does not exist")
        return filesystem_pb.StatResponse(entry=_entry(sbx, target))

    async def remove(self, request: filesystem_pb.RemoveRequest, ctx: Any) -> filesystem_pb.RemoveResponse:
        sbx = self.cloud.sandbox_for(ctx)
        target = sbx.host_path(request.path)
        if not target.exists():
            raise ConnectError(Code.NOT_FOUND, f"file '{request.path}' does not exist")
        target.unlink()
        return filesystem_pb.RemoveResponse()


def _entry(sbx: FakeSandbox, path: Path) -> filesystem_pb.EntryInfo:
    st = path.lstat()
    kind = filesystem_pb.FileType.DIRECTORY if path.is_dir() else filesystem_pb.FileType.FILE
    return filesystem_pb.EntryInfo(
        name=path.name,
        type=kind,
        path=sbx.sandbox_path(path),
        size=st.st_size,
        mode=st.st_mode & 0o777,
        permissions=oct(st.st_mode & 0o777),
        owner="user",
        group="user",
        modified_time=Timestamp.from_datetime(datetime.fromtimestamp(st.st_mtime, UTC)),
    )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _respond(
    send: Send, status: int, body: bytes, ctype: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, payload: Any) -> None:
    await _respond(send, status, json.dumps(payload).encode(), "application/json")


async def _error(send: Send, status: int, message: str, retry_after: str | None = None) -> None:
    extra = [(b"retry-after", retry_after.encode())] if retry_after is not None else []
    await _respond(send, status, json.dumps({"code": status, "message": message}).encode(), "application/json", extra)


def make_image(directory: Path, standin_site: Path) -> Path:
    """The fake template's files: a ``python`` on PATH and the stand-in agent on PYTHONPATH."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    site = directory / "site"
    if site.exists():
        shutil.rmtree(site)
    shutil.copytree(standin_site, site)
    # The image's real supervisor (stdlib only) around the stand-in agent, as in the template.
    shutil.copy(SUPERVISOR, site / "openhelm_agent" / "supervise.py")
    # The contract's out-dir writer the stand-in shares with the other stand-ins (stdlib only).
    shutil.copy(AGENT_OUTPUTS, site / "agent_outputs.py")
    return directory
