"""Host side of a local sandbox's network: a filtering HTTP/CONNECT proxy and a control forwarder.

A local sandbox has no network of its own. Its only ways out are two unix sockets the provider binds
into it (see ``local/bridge.py``, which re-exposes them as TCP ports inside the sandbox):

* the **control** socket → :class:`ControlForwarder`: every connection goes to the control plane
  (``control_url``: run callback + LLM gateway) and nowhere else. Only paths under
  ``{control path}/internal/`` are forwarded; the ``Host`` header is rewritten to the control plane's
  and ``Connection: close`` is forced, so each TCP connection carries exactly one request.
* the **proxy** socket → :class:`EgressProxy`: a forward proxy (``CONNECT host:port`` for TLS and
  websockets, absolute-form ``GET http://host/...`` for plain HTTP) for the browser. Each
  destination is decided by :class:`EgressPolicy` (``egress_policy.py``: the control plane, then
  the run's domain policy, then every resolved address must be public).

Denied requests get ``403`` with a plain-text explanation and an ``X-OpenHelm-Blocked: policy``
header; every decision is logged (host, port, method, reason; never paths, queries or headers).

The decisions (``egress_policy.py``) and the request-head handling (``http_head.py``) are pure and
unit-tested without sockets; this module is the servers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.logging import get_logger
from shared.sandbox.local.bridge import relay
from shared.sandbox.local.egress_policy import (
    EgressPolicy,
    Resolver,
    control_endpoint,
    resolve_destination,
    split_host_port,
    system_resolver,
)
from shared.sandbox.local.http_head import (
    CONNECT_TIMEOUT_S,
    REASONS,
    BadRequest,
    forwarded_headers,
    open_connection,
    parse_head,
    plain_response,
    read_head,
    render_head,
)

log = get_logger("openhelm.sandbox.egress")

IDLE_TIMEOUT_S = 300.0
MAX_CONNECTIONS = 256


class _Server:
    """Accepts on unix and/or TCP listeners; one thread per connection; stoppable at once."""

    kind = "server"

    def __init__(self, *, run_id: str, max_connections: int = MAX_CONNECTIONS) -> None:
        self.run_id = run_id
        self._listeners: list[socket.socket] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._stopped = False
        self.log = log.bind(run_id=run_id, channel=self.kind)

    def listen_unix(self, path: str | os.PathLike[str], *, owner: int | None = None, mode: int = 0o600) -> None:
        """Listen on a unix socket at ``path`` (replaced if present), chowned/chmodded for the sandbox."""
        path = os.fspath(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if len(os.fsencode(path)) < 100:
            sock.bind(path)
        else:  # sun_path holds 108 bytes; go through a directory fd for long paths
            dir_fd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                sock.bind(f"/proc/self/fd/{dir_fd}/{os.path.basename(path)}")
            finally:
                os.close(dir_fd)
        if owner is not None and owner != os.geteuid():
            os.chown(path, owner, -1)
        os.chmod(path, mode)
        self._start(sock)

    def listen_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self._start(sock)
        bound = sock.getsockname()
        return str(bound[0]), int(bound[1])

    def _start(self, sock: socket.socket) -> None:
        sock.listen(128)
        with self._lock:
            self._listeners.append(sock)
        threading.Thread(target=self._accept_loop, args=(sock,), name=f"{self.kind}-accept", daemon=True).start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                with contextlib.suppress(OSError):
                    conn.sendall(plain_response(503, "Service Unavailable", "openhelm: too many connections"))
                conn.close()
                continue
            with self._lock:
                if self._stopped:
                    conn.close()
                    self._slots.release()
                    return
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name=f"{self.kind}-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except BadRequest as exc:
            self._reply(conn, exc.status, f"openhelm sandbox {self.kind}: {exc.message}")
        except OSError as exc:  # resets, timeouts, or stop() closing the connection under us
            self.log.debug("egress.connection_error", error=str(exc), stopped=self._stopped)
        except Exception:
            self.log.exception("egress.handler_failed")
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()
            self._slots.release()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            if self._stopped:
                raise OSError("server stopped")
            self._conns.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.discard(sock)
        sock.close()

    @staticmethod
    def _reply(conn: socket.socket, status: int, text: str, extra: Sequence[tuple[str, str]] = ()) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(plain_response(status, REASONS.get(status, "Error"), text, extra))

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> None:
        """Close the listeners and every open connection (idempotent)."""
        with self._lock:
            self._stopped = True
            listeners, self._listeners = self._listeners, []
            conns = list(self._conns)
        for sock in listeners + conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class EgressProxy(_Server):
    """The filtering forward proxy of one run (see the module docstring)."""

    kind = "proxy"

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        run_id: str,
        resolver: Resolver = system_resolver,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        idle_timeout: float = IDLE_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        super().__init__(run_id=run_id, max_connections=max_connections)
        self.policy = policy
        self.resolver = resolver
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout

    def handle(self, conn: socket.socket) -> None:
        raw, rest = read_head(conn)
        head = parse_head(raw)
        if head.method == "CONNECT":
            host, port = self._target(head.target, 443)
            path = authority = ""
        else:
            parts = urlsplit(head.target)
            if parts.scheme in ("https", "wss"):
                raise BadRequest(400, f"use CONNECT for {parts.scheme}:// URLs")
            if parts.scheme not in ("http", "ws") or not parts.netloc:
                raise BadRequest(400, "this is a forward proxy: absolute http:// URLs or CONNECT only")
            authority = parts.netloc.rsplit("@", 1)[-1]
            host, port = self._target(authority, 80)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query

        started = time.monotonic()
        decision, addresses = resolve_destination(self.policy, host, port, self.resolver)
        fields: dict[str, Any] = {"method": head.method, "host": host, "port": port}
        if not decision.allowed:
            self.log.info("egress.denied", reason=decision.reason, **fields)
            self._reply(
                conn,
                403,
                f"openhelm sandbox proxy: blocked by policy: {host}:{port}\nreason: {decision.reason}",
                [("X-OpenHelm-Blocked", "policy")],
            )
            return
        try:
            upstream = open_connection(addresses, port, self.connect_timeout)
        except OSError as exc:
            self.log.info("egress.upstream_failed", error=str(exc), **fields)
            status = 504 if isinstance(exc, TimeoutError) else 502
            self._reply(conn, status, f"openhelm sandbox proxy: cannot connect to {host}:{port}: {exc}")
            return
        self.log.info("egress.allowed", reason=decision.reason, address=upstream.getpeername()[0], **fields)
        try:
            self._track(upstream)
            if head.method == "CONNECT":
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                # The absolute URL's authority is the target; a client's Host header is replaced.
                headers = forwarded_headers(head, host_value=authority)
                upstream.sendall(render_head(head.method, path, head.version, headers))
            if rest:
                upstream.sendall(rest)
            sent, received = relay(conn, upstream, self.idle_timeout)
        finally:
            self._untrack(upstream)
        self.log.debug(
            "egress.closed",
            bytes_out=sent + len(rest),
            bytes_in=received,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
            **fields,
        )

    @staticmethod
    def _target(netloc: str, default_port: int) -> tuple[str, int]:
        try:
            return split_host_port(netloc, default_port)
        except ValueError as exc:
            raise BadRequest(400, str(exc)) from exc


class ControlForwarder(_Server):
    """Forwards every connection to the control plane, one request per connection."""

    kind = "control"

    def __init__(
        self,
        control_url: str,
        *,
        run_id: str,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        idle_timeout: float = IDLE_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        prefix: str = "/internal/",
    ) -> None:
        super().__init__(run_id=run_id, max_connections=max_connections)
        parts = urlsplit(control_url)
        self.host, self.port = control_endpoint(control_url)
        self.tls = parts.scheme == "https"
        self.netloc = parts.netloc.rsplit("@", 1)[-1]
        # Only paths under <url path><prefix> pass: /internal/ for the control plane, / for the LLM
        # gateway's function URL (whose path, e.g. /v1, is part of control_url then).
        self.prefix = parts.path.rstrip("/") + prefix
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout

    def handle(self, conn: socket.socket) -> None:
        raw, rest = read_head(conn)
        head = parse_head(raw)
        if not head.target.startswith("/"):
            raise BadRequest(400, "the control channel takes origin-form requests (/path) only")
        path = unquote(head.target.split("?", 1)[0])
        segments = path.split("/")
        if not path.startswith(self.prefix) or ".." in segments or "." in segments or "\\" in path:
            self.log.info("control.denied", method=head.method, reason="path outside the control prefix")
            self._reply(
                conn,
                403,
                f"openhelm sandbox control channel: only {self.prefix}* is reachable",
                [("X-OpenHelm-Blocked", "policy")],
            )
            return
        try:
            addresses = system_resolver(self.host, self.port)
            upstream = open_connection(addresses, self.port, self.connect_timeout)
            if self.tls:
                upstream = ssl.create_default_context().wrap_socket(upstream, server_hostname=self.host)
        except OSError as exc:
            self.log.warning("control.upstream_failed", error=str(exc))
            self._reply(conn, 502, f"openhelm sandbox control channel: control plane unreachable: {exc}")
            return
        # Only the first path segment after the prefix is logged (never the query or the headers).
        self.log.debug("control.forward", method=head.method, route=path[len(self.prefix) :].split("/", 1)[0])
        try:
            self._track(upstream)
            headers = forwarded_headers(head, host_value=self.netloc)
            upstream.sendall(render_head(head.method, head.target, head.version, headers))
            if rest:
                upstream.sendall(rest)
            relay(conn, upstream, self.idle_timeout)
        finally:
            self._untrack(upstream)
