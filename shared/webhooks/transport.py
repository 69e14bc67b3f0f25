"""One webhook POST to an address the URL policy checked.

The TCP connection goes to a checked IP, never to whatever the host name resolves to at connect
time; TLS still verifies the certificate against the host name (SNI = host name) and the Host header
is the original host. Redirects are not followed (a 3xx is a failed attempt). Only the first
``EXCERPT_BYTES`` of the response body are read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.webhooks.ssrf import CheckedUrl

EXCERPT_BYTES = 256
# Addresses tried in turn when connecting fails (every one was checked).
MAX_ADDRESSES = 3


@dataclass(frozen=True)
class HttpResult:
    status: int | None
    error: str | None
    duration_ms: int
    excerpt: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


class _ConnectFailed(Exception):
    pass


def _open(address: str, port: int, connect_timeout: float, read_timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(connect_timeout)
    try:
        sock.connect((address, port))
    except TimeoutError as exc:
        sock.close()
        raise _ConnectFailed(f"connect timeout after {connect_timeout:g} s to {address}") from exc
    except OSError as exc:
        sock.close()
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else (exc.strerror or str(exc))
        raise _ConnectFailed(f"connect failed to {address}: {reason}") from exc
    sock.settimeout(read_timeout)
    return sock


def _open_any(addresses: tuple[str, ...], port: int, connect_timeout: float, read_timeout: float) -> socket.socket:
    last: _ConnectFailed | None = None
    for address in addresses[:MAX_ADDRESSES]:
        try:
            return _open(address, port, connect_timeout, read_timeout)
        except _ConnectFailed as exc:
            last = exc
    raise last or _ConnectFailed("no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, checked: CheckedUrl, connect_timeout: float, read_timeout: float) -> None:
        super().__init__(checked.host, checked.port, timeout=read_timeout)
        self._addresses = checked.addresses
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        self.sock = _open_any(self._addresses, self.port, self._connect_timeout, self.timeout)  # type: ignore[arg-type]


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(
        self, checked: CheckedUrl, connect_timeout: float, read_timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(checked.host, checked.port, timeout=read_timeout, context=context)
        self._addresses = checked.addresses
        self._connect_timeout = connect_timeout
        self._tls = context

    def connect(self) -> None:
        sock = _open_any(self._addresses, self.port, self._connect_timeout, self.timeout)  # type: ignore[arg-type]
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


_default_context: ssl.SSLContext | None = None


def default_tls_context() -> ssl.SSLContext:
    """System trust store, certificate and host name verification on."""
    global _default_context
    if _default_context is None:
        _default_context = ssl.create_default_context()
    return _default_context


def post(
    checked: CheckedUrl,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connect_timeout: float,
    read_timeout: float,
    monotonic: Callable[[], float],
    tls_context: ssl.SSLContext | None = None,
) -> HttpResult:
    """POST ``body`` to the checked URL; never raises for network or HTTP failures."""
    if not checked.addresses:
        raise ValueError("the URL was checked without resolving; resolve it before sending")
    conn: http.client.HTTPConnection
    if checked.scheme == "https":
        conn = _PinnedHTTPS(checked, connect_timeout, read_timeout, tls_context or default_tls_context())
    else:
        conn = _PinnedHTTP(checked, connect_timeout, read_timeout)
    started = monotonic()

    def done(status: int | None, error: str | None, excerpt: str | None = None) -> HttpResult:
        return HttpResult(status, error, max(0, int((monotonic() - started) * 1000)), excerpt)

    try:
        conn.request("POST", checked.target, body=body, headers=dict(headers))
        resp = conn.getresponse()
        status = resp.status
        try:
            excerpt = resp.read(EXCERPT_BYTES).decode("utf-8", errors="replace") or None
        except (OSError, http.client.HTTPException):
            excerpt = None  # the status is what counts; a body that stalls is not awaited
        if 200 <= status < 300:
            return done(status, None, excerpt)
        if 300 <= status < 400:
            location = (resp.getheader("location") or "")[:200]
            return done(status, f"redirect not followed (HTTP {status}, Location: {location})", excerpt)
        return done(status, f"HTTP {status}", excerpt)
    except _ConnectFailed as exc:
        return done(None, str(exc))
    except ssl.SSLCertVerificationError as exc:
        return done(None, f"TLS certificate verification failed: {exc.verify_message or exc.reason}")
    except ssl.SSLError as exc:
        return done(None, f"TLS error: {exc.reason or exc}")
    except TimeoutError:
        return done(None, f"read timeout after {read_timeout:g} s")
    except http.client.HTTPException as exc:
        return done(None, f"invalid HTTP response: {type(exc).__name__} {exc}".strip())
    except OSError as exc:
        return done(None, f"network error: {exc.strerror or exc}")
    finally:
        conn.close()
