"""Which URLs webhooks may be sent to (SSRF protection).

A URL is checked when an endpoint is created and again at every delivery: scheme (https only in
production), no credentials, an allowed port, and every address the host resolves to must be a
public one: loopback, private, link-local, multicast, reserved, unspecified, CGNAT (100.64/10),
cloud metadata addresses and IPv6 forms embedding such an IPv4 address (mapped, 6to4, NAT64) are
refused. The transport then connects to an address that was checked, so a DNS answer that changes
between check and connect (rebinding) cannot redirect the request.

``webhook_allow_loopback`` (local development) also allows http and loopback addresses, never the
other ranges.

Literal hosts are read the way a resolver would read them before any check: decimal, hex, octal
and shortened IPv4 (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``, ``0``), full-width
digits and IDNA dots, so every spelling of an internal address is refused at creation (422), with
or without DNS resolution, and a numeric host that is no valid address is refused too.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.config import Settings
from shared.errors import Unprocessable
from shared.netaddr import CGNAT, classify_address, embedded_v4, literal_address

# host, port -> the addresses it resolves to (empty if it does not resolve).
Resolver = Callable[[str, int], list[str]]

MAX_URL_LENGTH = 2048


class UrlNotAllowed(Unprocessable):
    code = "webhook_url_not_allowed"


@dataclass(frozen=True)
class UrlPolicy:
    require_https: bool
    allow_loopback: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        return cls(
            require_https=settings.is_production and not settings.webhook_allow_loopback,
            allow_loopback=settings.webhook_allow_loopback,
        )


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed the policy, with the addresses that may be connected to."""

    url: str
    scheme: str
    host: str  # ASCII (IDNA) host name or IP literal, no brackets
    port: int
    target: str  # path and query for the request line
    addresses: tuple[str, ...]  # empty when a host name was checked without resolving


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in out:
            out.append(addr)
    return out


_PROBLEMS = {
    "metadata": "a cloud metadata address",
    "unspecified": "an unspecified address",
    "loopback": "a loopback address",
    "link-local": "a link-local address",
    "multicast": "a multicast address",
    "private": "a private address",
    "reserved": "not a public address",
    "IPv4-compatible": "an IPv4-compatible IPv6 address (deprecated, never public)",
    "IPv4-translated": "an IPv4-translated IPv6 address (never public)",
    "local-use NAT64": "a local-use NAT64 address",
}
# C0 controls, DEL and C1 controls: never meaningful in a URL, and a NUL truncates it for C code.
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def address_problem(address: str, allow_loopback: bool = False) -> str | None:
    """Why this address may not receive webhooks, or None if it may (shared.netaddr decides)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    embedded = embedded_v4(ip)
    if embedded is not None:
        problem = address_problem(str(embedded), allow_loopback)
        return f"{problem} (embedded IPv4)" if problem else None
    kind = classify_address(ip)
    if kind is None or (kind == "loopback" and allow_loopback):
        return None
    if kind == "reserved" and ip in CGNAT:
        return "a shared (CGNAT) address"
    return _PROBLEMS.get(kind, f"a {kind} address")


def _literal(host: str, refuse: Callable[[str], UrlNotAllowed]) -> str | None:
    try:
        address = literal_address(host)
    except ValueError as exc:
        raise refuse(f"the host {host!r} is numeric but no valid IP address") from exc
    return str(address) if address is not None else None


def _port_allowed(port: int, policy: UrlPolicy) -> bool:
    if not 1 <= port <= 65535:
        return False
    return policy.allow_loopback or port in (80, 443) or port >= 1024


def check_url(
    url: str,
    policy: UrlPolicy,
    *,
    resolve: bool = True,
    resolver: Resolver | None = None,
    field: str = "url",
) -> CheckedUrl:
    """Check ``url`` against the policy; raise UrlNotAllowed (422 ``webhook_url_not_allowed``).

    With ``resolve=False`` only what the URL itself says is checked (scheme, credentials, port and
    an IP-literal host); delivery always resolves and checks every address."""

    def refuse(why: str) -> UrlNotAllowed:
        return UrlNotAllowed(f"webhook URL not allowed: {why}", details=[{"loc": [field], "msg": why}])

    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"longer than {MAX_URL_LENGTH} characters")
    url = url.strip()
    if control := _CONTROL.search(url):
        raise refuse(f"it contains the control or space character U+{ord(control.group()):04X}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refuse(f"malformed URL ({exc})") from exc
    scheme = parts.scheme.lower()
    schemes = ("https",) if policy.require_https else ("http", "https")
    if scheme not in schemes:
        raise refuse("it must use https" if policy.require_https else "the scheme must be http or https")
    if parts.username is not None or parts.password is not None:
        raise refuse("credentials in the URL are not allowed; use a secret path or verify the signature")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise refuse("no host")
    port = port if port is not None else (443 if scheme == "https" else 80)
    if not _port_allowed(port, policy):
        raise refuse(f"port {port} is not allowed (80, 443 or 1024..65535)")
    literal = _literal(host, refuse)
    if literal is None:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise refuse("the host name is not valid") from exc
        # IDNA folds some characters into digits and dots: read the encoded name once more.
        literal = _literal(host, refuse)
    if literal is None and not policy.allow_loopback and (host == "localhost" or host.endswith(".localhost")):
        raise refuse("localhost is not allowed")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    if literal is not None:
        addresses = [literal]
    elif resolve:
        addresses = (resolver or system_resolver)(host, port)
        if not addresses:
            raise refuse(f"{host} does not resolve")
    else:
        addresses = []
    for address in addresses:
        problem = address_problem(address, policy.allow_loopback)
        if problem:
            raise refuse(f"{address} is {problem}" if literal else f"{host} resolves to {address}, which is {problem}")
    host = literal or host
    return CheckedUrl(url=url, scheme=scheme, host=host, port=port, target=target, addresses=tuple(addresses))


def check_webhook_url(url: str, settings: Settings, *, resolve: bool = False, field: str = "webhook_url") -> None:
    """The check for a run's or a job's ``webhook_url`` at creation (no DNS by default: it is on the
    hot path; every delivery resolves and checks again)."""
    check_url(url, UrlPolicy.from_settings(settings), resolve=resolve, field=field)
