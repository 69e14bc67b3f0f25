"""Host side of a local sandbox's network: a filtering HTTP/CONNECT proxy and a control forwarder.

A local sandbox has no network of its own. Its only ways out are two unix sockets the provider binds
into it (see ``bridge.py``, which re-exposes them as TCP ports inside the sandbox):

* the **control** socket → :class:`ControlForwarder`: every connection goes to the control plane
  (``control_url``: run callback + LLM gateway) and nowhere else. Only paths under
  ``{control path}/internal/`` are forwarded; the ``Host`` header is rewritten to the control plane's
  and ``Connection: close`` is forced, so each TCP connection carries exactly one request.
* the **proxy** socket → :class:`EgressProxy`: a forward proxy (``CONNECT host:port`` for TLS and
  websockets, absolute-form ``GET http://host/...`` for plain HTTP) for the browser. Each
  destination is decided by :class:`EgressPolicy`:

  1. the control plane's own ``host:port`` is always allowed;
  2. the run's domain policy (the rule of ``shared/domains.py``, the agent's too): a host matching a
     blocked pattern is denied; otherwise an empty allowed list allows everything, a non-empty one
     only the hosts matching one of its patterns;
  3. the host is resolved **on the host** and every address must be public: loopback is refused
     unless ``allow_loopback`` (local development), private, link-local (cloud metadata),
     shared, multicast, reserved and unspecified addresses always are. The proxy then connects to
     the address it checked (no second lookup, so DNS rebinding cannot swap it).

Denied requests get ``403`` with a plain-text explanation and an ``X-OpenHelm-Blocked: policy``
header; every decision is logged (host, port, method, reason; never paths, queries or headers).

The policy part (:func:`normalize_pattern`, :func:`host_matches`, :class:`EgressPolicy`,
:func:`classify_address`, :func:`resolve_destination`) is pure and unit-tested without sockets.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.domains import host_matches, normalise_host, normalize_pattern
from shared.logging import get_logger
from shared.netaddr import METADATA_ADDRESSES, classify_address  # noqa: F401  (re-exported)
from shared.sandbox.bridge import relay

log = get_logger("openhelm.sandbox.egress")

MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 300.0
MAX_CONNECTIONS = 256

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te"}
)

Resolver = Callable[[str, int], Sequence[str]]


# --------------------------------------------------------------------------------------------------
# Policy


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def _split_host_port(netloc: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` → (host without brackets, port). ValueError if bad."""
    netloc = netloc.strip()
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise ValueError(f"bad host {netloc!r}")
        host, rest = netloc[1:end], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad host {netloc!r}")
        port_text = rest[1:] if rest else ""
    elif netloc.count(":") == 1:
        host, port_text = netloc.split(":", 1)
    elif ":" in netloc:
        raise ValueError(f"bad host {netloc!r} (IPv6 addresses need brackets)")
    else:
        host, port_text = netloc, ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad port in {netloc!r}")
        port = int(port_text)
    else:
        port = default_port
    if not host:
        raise ValueError(f"empty host in {netloc!r}")
    return host, port


def control_endpoint(control_url: str) -> tuple[str, int]:
    """(normalised host, port) of the control plane URL."""
    parts = urlsplit(control_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"control URL must be http(s)://host[:port][/path], got {control_url!r}")
    return normalise_host(parts.hostname), parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class EgressPolicy:
    """Where one run's browser may connect (normalised at construction by :meth:`build`)."""

    allowed: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    allow_loopback: bool = False
    # (host, port) pairs always reachable: the control plane.
    always_allowed: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls,
        allowed: Iterable[str] = (),
        blocked: Iterable[str] = (),
        *,
        allow_loopback: bool = False,
        control_url: str | None = None,
    ) -> EgressPolicy:
        """Normalise the patterns; ValueError on an invalid pattern or control URL."""
        return cls(
            allowed=tuple(dict.fromkeys(normalize_pattern(p) for p in allowed)),
            blocked=tuple(dict.fromkeys(normalize_pattern(p) for p in blocked)),
            allow_loopback=allow_loopback,
            always_allowed=frozenset({control_endpoint(control_url)} if control_url else ()),
        )

    def is_control(self, host: str, port: int) -> bool:
        try:
            return (normalise_host(host), port) in self.always_allowed
        except ValueError:
            return False

    def check_host(self, host: str, port: int) -> Decision:
        """Decide on the name alone (before any DNS lookup)."""
        if self.is_control(host, port):
            return Decision(True, "control plane")
        for pattern in self.blocked:
            if host_matches(host, pattern):
                return Decision(False, f"host {host!r} matches blocked pattern {pattern!r}")
        if not self.allowed:
            return Decision(True, "no allowed list: every host not blocked is allowed")
        for pattern in self.allowed:
            if host_matches(host, pattern):
                return Decision(True, f"host {host!r} matches allowed pattern {pattern!r}")
        return Decision(False, f"host {host!r} is not in the allowed domains {list(self.allowed)}")

    def check_address(self, ip: str) -> Decision:
        """Decide on one resolved address."""
        kind = classify_address(ip)
        if kind is None:
            return Decision(True, "public address")
        if kind == "loopback" and self.allow_loopback:
            return Decision(True, "loopback address allowed (allow_loopback is on)")
        return Decision(False, f"address {ip} is {kind}; the sandbox may not reach it")


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to on the host (IP literals resolve to themselves)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_destination(
    policy: EgressPolicy, host: str, port: int, resolver: Resolver = system_resolver
) -> tuple[Decision, list[str]]:
    """Full decision for ``host:port``: name policy, then every resolved address must pass.

    Returns (decision, addresses to connect to). A name that resolves to any refused address is
    refused as a whole, so a mixed public/private answer cannot be used to reach the private one.
    The control plane is exempt from the address check.
    """
    decision = policy.check_host(host, port)
    if not decision.allowed:
        return decision, []
    try:
        addresses = list(resolver(normalise_host(host), port))
    except (OSError, UnicodeError, ValueError) as exc:
        return Decision(False, f"cannot resolve {host!r}: {exc}"), []
    if not addresses:
        return Decision(False, f"{host!r} resolves to no address"), []
    if policy.is_control(host, port):
        return decision, addresses
    for ip in addresses:
        verdict = policy.check_address(ip)
        if not verdict.allowed:
            return verdict, []
    return Decision(True, decision.reason), addresses


# --------------------------------------------------------------------------------------------------
# HTTP head parsing


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class RequestHead:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def connection_tokens(self) -> set[str]:
        tokens: set[str] = set()
        for key, value in self.headers:
            if key.lower() in ("connection", "proxy-connection"):
                tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
        return tokens


def read_head(conn: socket.socket, timeout: float = HEAD_TIMEOUT_S) -> tuple[bytes, bytes]:
    """Read up to the end of the request head. Returns (head without the blank line, extra bytes)."""
    conn.settimeout(timeout)
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            return buf[:end], buf[end + 4 :]
        if len(buf) > MAX_HEAD_BYTES:
            raise BadRequest(431, "request head too large")
        chunk = conn.recv(16384)
        if not chunk:
            raise BadRequest(400, "connection closed before the end of the request head")
        buf += chunk


def parse_head(head: bytes) -> RequestHead:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes everything
        raise BadRequest(400, "undecodable request head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line or line[0] in " \t" or ":" not in line:
            raise BadRequest(400, "malformed header line")
        name, value = line.split(":", 1)
        if not name or name != name.strip():
            raise BadRequest(400, "malformed header name")
        headers.append((name, value.strip()))
    return RequestHead(parts[0].upper(), parts[1], parts[2], headers)


def render_head(method: str, target: str, version: str, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} {version}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def plain_response(status: int, reason: str, text: str, extra: Sequence[tuple[str, str]] = ()) -> bytes:
    body = (text.rstrip("\n") + "\n").encode("utf-8")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *extra,
    ]
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + body


_REASONS = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large", 502: "Bad Gateway"}
_REASONS |= {503: "Service Unavailable", 504: "Gateway Timeout"}


def _forwarded_headers(head: RequestHead, host_value: str | None = None) -> list[tuple[str, str]]:
    """Headers to send upstream: hop-by-hop and proxy headers dropped, one-request connection."""
    upgrade = "upgrade" in head.connection_tokens() and head.header("upgrade") is not None
    dropped = _HOP_BY_HOP | {t for t in head.connection_tokens() if t != "upgrade"}
    out = []
    for key, value in head.headers:
        lower = key.lower()
        if lower in dropped or (lower == "upgrade" and not upgrade):
            continue
        if lower == "host" and host_value is not None:
            continue
        out.append((key, value))
    if host_value is not None:
        out.insert(0, ("Host", host_value))
    out.append(("Connection", "upgrade" if upgrade else "close"))
    return out


def open_connection(addresses: Sequence[str], port: int, timeout: float = CONNECT_TIMEOUT_S) -> socket.socket:
    """Connect to the first reachable of ``addresses`` (already checked). OSError if none."""
    last: OSError | None = None
    for ip in addresses:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((ip, port))
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last or OSError(f"no address to connect to on port {port}")


# --------------------------------------------------------------------------------------------------
# Servers


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
            conn.sendall(plain_response(status, _REASONS.get(status, "Error"), text, extra))

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
                headers = _forwarded_headers(head, host_value=authority)
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
            return _split_host_port(netloc, default_port)
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
            headers = _forwarded_headers(head, host_value=self.netloc)
            upstream.sendall(render_head(head.method, head.target, head.version, headers))
            if rest:
                upstream.sendall(rest)
            relay(conn, upstream, self.idle_timeout)
        finally:
            self._untrack(upstream)
