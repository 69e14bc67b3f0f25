"""Where a local sandbox's browser may connect: the egress proxy's decisions, pure and socket-free
(DNS aside: :func:`system_resolver` is the one lookup, injected everywhere else).

Each destination is decided in order:

1. the control plane's own ``host:port`` is always allowed;
2. the run's domain policy (the rule of ``shared/domains.py``, the agent's too): a host matching a
   blocked pattern is denied; otherwise an empty allowed list allows everything, a non-empty one
   only the hosts matching one of its patterns;
3. the host is resolved **on the host** and every address must be public (``shared/netaddr.py``):
   loopback is refused unless ``allow_loopback`` (local development); private, link-local (cloud
   metadata), shared, multicast, reserved and unspecified addresses always are. The proxy then
   connects to the address it checked (no second lookup, so DNS rebinding cannot swap it).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shared.domains import Decision, DomainPolicy, host_matches, normalise_host, normalize_pattern
from shared.netaddr import METADATA_ADDRESSES, classify_address

__all__ = [
    "METADATA_ADDRESSES",
    "Decision",
    "EgressPolicy",
    "Resolver",
    "classify_address",
    "control_endpoint",
    "host_matches",
    "normalize_pattern",
    "resolve_destination",
    "system_resolver",
]

Resolver = Callable[[str, int], Sequence[str]]


def split_host_port(netloc: str, default_port: int) -> tuple[str, int]:
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
        domains = DomainPolicy.from_lists(allowed, blocked)
        return cls(
            allowed=domains.allowed,
            blocked=domains.blocked,
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
        return DomainPolicy(self.allowed, self.blocked).check_host(host)

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
