"""Domain policy: which hosts a run's browser may reach. Pure, stdlib only.

The control plane reuses this module (the local filtering proxy, spec validation), so it must stay
dependency-free and side-effect free.

The rule, exactly:

* A pattern is a host name, optionally prefixed with ``*.``: ``example.com`` or ``*.example.com``.
  Patterns are normalised before use: lower-cased, surrounding whitespace and one trailing dot
  removed, and a scheme, port, path or ``user@`` given by mistake are stripped
  (``https://Example.com:443/x`` → ``example.com``). International names are IDNA-encoded.
* ``example.com`` matches the host ``example.com`` and nothing else (not ``www.example.com``).
* ``*.example.com`` matches ``example.com`` itself and every host that ends in ``.example.com``
  (``a.example.com``, ``a.b.example.com``), but not ``badexample.com``.
* ``*`` alone matches every host.
* IP addresses (``127.0.0.1``, ``[::1]``) and ``localhost`` are hosts like any other: they match
  an identical pattern only; a wildcard never matches an IP address (except ``*``).
* Ports never matter: ``127.0.0.1`` matches ``http://127.0.0.1:8000/``.
* Decision: a host matching any blocked pattern is denied; otherwise, an empty allowed list
  allows everything, and a non-empty one allows only hosts that match one of its patterns.
* URLs: ``http``, ``https``, ``ws`` and ``wss`` URLs are decided by their host; ``about:``,
  ``data:`` and ``blob:`` URLs carry no network request and are allowed; every other scheme
  (``file:``, ``chrome:``, ``ftp:`` ...) is denied.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})
LOCAL_SCHEMES = frozenset({"about", "data", "blob"})


def _normalise_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.endswith("."):
        host = host[:-1]
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"invalid host name: {host!r}") from exc
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def normalize_pattern(pattern: str) -> str:
    """Return the canonical form of a domain pattern; ValueError if it is not a valid pattern."""
    raw = pattern.strip()
    if not raw:
        raise ValueError("empty domain pattern")
    if raw == "*":
        return "*"
    if "://" in raw:
        raw = raw.split("://", 1)[1]
    raw = raw.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in raw:
        raw = raw.rsplit("@", 1)[1]
    if raw.startswith("["):  # [ipv6]:port
        raw = raw.split("]", 1)[0] + "]"
    elif raw.count(":") == 1:
        raw = raw.split(":", 1)[0]
    wildcard = raw.startswith("*.")
    host = _normalise_host(raw[2:] if wildcard else raw)
    if not host or "*" in host or any(c.isspace() for c in host) or ".." in host:
        raise ValueError(f"invalid domain pattern: {pattern!r} (use 'example.com' or '*.example.com')")
    if wildcard and _is_ip(host):
        raise ValueError(f"invalid domain pattern: {pattern!r} (wildcards do not apply to IP addresses)")
    return f"*.{host}" if wildcard else host


def host_matches(host: str, pattern: str) -> bool:
    """True if ``host`` matches the (normalised or raw) ``pattern`` under the rule above."""
    pattern = normalize_pattern(pattern)
    try:
        host = _normalise_host(host)
    except ValueError:
        return False
    if not host:
        return False
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        apex = pattern[2:]
        return host == apex or (host.endswith("." + apex) and not _is_ip(host))
    return host == pattern


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class DomainPolicy:
    """Allowed/blocked host patterns of one run (normalised at construction)."""

    allowed: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()

    @classmethod
    def from_lists(cls, allowed: Iterable[str] = (), blocked: Iterable[str] = ()) -> DomainPolicy:
        """Build a policy; raises ValueError on an invalid pattern."""
        return cls(
            allowed=tuple(dict.fromkeys(normalize_pattern(p) for p in allowed)),
            blocked=tuple(dict.fromkeys(normalize_pattern(p) for p in blocked)),
        )

    def check_host(self, host: str) -> Decision:
        for pattern in self.blocked:
            if host_matches(host, pattern):
                return Decision(False, f"host {host!r} matches blocked pattern {pattern!r}")
        if not self.allowed:
            return Decision(True, "no allowed list: every host not blocked is allowed")
        for pattern in self.allowed:
            if host_matches(host, pattern):
                return Decision(True, f"host {host!r} matches allowed pattern {pattern!r}")
        return Decision(False, f"host {host!r} is not in the allowed domains {list(self.allowed)}")

    def check_url(self, url: str) -> Decision:
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            host = parts.hostname or ""
        except ValueError:
            return Decision(False, f"unparsable URL {url!r}")
        if scheme in LOCAL_SCHEMES:
            return Decision(True, f"{scheme}: URLs make no network request")
        if scheme not in NETWORK_SCHEMES:
            return Decision(False, f"scheme {scheme + ':' if scheme else '(none)'} is not allowed")
        if not host:
            return Decision(False, f"URL {url!r} has no host")
        return self.check_host(host)

    def allows_host(self, host: str) -> bool:
        return self.check_host(host).allowed

    def allows_url(self, url: str) -> bool:
        return self.check_url(url).allowed
