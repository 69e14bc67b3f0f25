"""HTTP/1.1 request heads as the egress proxy and the control forwarder read and rewrite them:
bounded reads, strict parsing, hop-by-hop headers dropped, one request per upstream connection."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te"}
)


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


REASONS = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large", 502: "Bad Gateway"}
REASONS |= {503: "Service Unavailable", 504: "Gateway Timeout"}


def forwarded_headers(head: RequestHead, host_value: str | None = None) -> list[tuple[str, str]]:
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
