"""Domain policy: which hosts a run's browser may reach. Pure, stdlib only.

Domain patterns: what a run's allowed/blocked domain entry may be, and which hosts it matches.

The one implementation of the rule. Stdlib only and side-effect free, because it runs in four
places: the API's validation, the agent's browser routes, the local egress proxy and the E2B
network rules. Two byte-identical copies exist, ``sandbox_image/agent/openhelm_agent/policy.py``
(the agent is pip-installed into the sandbox image on its own) and ``shared/domains.py`` (the
control plane's Lambda layer has no agent package); a test fails if they differ: edit both.

A pattern is, exactly (:func:`parse_pattern`):

* ``*``: every host;
* a host name, optionally prefixed with ``*.``: labels of 1..63 letters, digits and inner hyphens
  (international labels are IDNA-encoded first), 253 characters at most, one trailing dot allowed,
  any case; stored lower-cased without the dot. The last label may not be numeric: ``1.2.3.4.5`` or
  ``*.1.2.3.4`` name no host (a resolver reads a numeric name as an address);
* an IPv4 or IPv6 address (``[::1]`` or ``::1``), or a network in CIDR form (``203.0.113.0/24``);
  a wildcard never applies to an address.

:func:`normalize_pattern` is the lenient reading the agent and the enforcers apply to what they are
given: surrounding whitespace, and a scheme, ``user@``, port or path given by mistake, are stripped
first (``https://Example.com:443/x`` → ``example.com``); what remains must be a pattern.

Matching (:func:`host_matches`): ``example.com`` matches that host only (not ``www.example.com``);
``*.example.com`` matches ``example.com`` and every host ending in ``.example.com`` (not
``badexample.com``), never an address; an address matches the identical address; a network matches
every address inside it; ``*`` matches everything. Ports never matter.

A run's policy (:class:`DomainPolicy`):

* Decision: a host matching any blocked pattern is denied; otherwise, an empty allowed list
  allows everything, and a non-empty one allows only hosts that match one of its patterns.
* URLs: ``http``, ``https``, ``ws`` and ``wss`` URLs are decided by their host; ``about:``,
  ``data:`` and ``blob:`` URLs carry no network request and are allowed; every other scheme
  (``file:``, ``chrome:``, ``ftp:`` ...) is denied.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})
LOCAL_SCHEMES = frozenset({"about", "data", "blob"})
MAX_PATTERN_LENGTH = 253
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HINT = "use a host name such as 'example.com' or '*.example.com', an IP address or a CIDR network"


def _invalid(pattern: str, why: str = "") -> ValueError:
    return ValueError(f"{pattern!r} is not a domain pattern{': ' + why if why else ''} ({_HINT})")


def _address(text: str) -> str | None:
    """``text`` as a canonical IP address or CIDR network, or None if it is neither."""
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if "/" in candidate:
        addr, _, bits = candidate.partition("/")
        if not bits.isdigit() or not addr or "/" in bits:
            return None
        try:
            return str(ipaddress.ip_network(candidate, strict=False))
        except ValueError:
            return None
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def normalise_host(host: str) -> str:
    """A host as matched: lower-case, brackets and one trailing dot removed, IDNA-encoded.
    ValueError if it cannot be IDNA-encoded."""
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


def is_address(host: str) -> bool:
    """True if ``host`` (normalised) is an IP address literal."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_pattern(pattern: str) -> str:
    """The canonical form of ``pattern`` under the exact grammar above; ValueError otherwise."""
    if not isinstance(pattern, str) or not pattern:
        raise _invalid(str(pattern), "empty")
    if pattern == "*":
        return "*"
    if len(pattern) > MAX_PATTERN_LENGTH + 2:  # "*." before a full-length name
        raise _invalid(pattern, "too long")
    wildcard = pattern.startswith("*.")
    body = pattern[2:] if wildcard else pattern
    address = _address(body)
    if address is not None:
        if wildcard:
            raise _invalid(pattern, "wildcards do not apply to IP addresses")
        return address
    name = body[:-1] if body.endswith(".") else body
    if not name or any(c.isspace() for c in name):
        raise _invalid(pattern)
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise _invalid(pattern, "not a valid international name") from exc
    name = name.lower()
    labels = name.split(".")
    if len(name) > MAX_PATTERN_LENGTH or not all(_LABEL.match(label) for label in labels):
        raise _invalid(pattern)
    if _NUMERIC_LABEL.match(labels[-1]):
        raise _invalid(pattern, "a numeric name is an IP address, and this one is not valid")
    return f"*.{name}" if wildcard else name


def normalize_pattern(pattern: str) -> str:
    """Lenient :func:`parse_pattern`: whitespace, a scheme, ``user@``, a port and a path are
    stripped first. ValueError if what remains is not a pattern."""
    raw = pattern.strip()
    if not raw:
        raise _invalid(pattern, "empty")
    if raw == "*" or _address(raw) is not None:
        return parse_pattern(raw)
    if "://" in raw:
        raw = raw.split("://", 1)[1]
    # A path is dropped (an address's "/24" was read as a CIDR network above, unless in a URL).
    raw = raw.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in raw:
        raw = raw.rsplit("@", 1)[1]
    if raw.startswith("[") and "]" in raw:  # [ipv6]:port
        raw = raw.split("]", 1)[0] + "]"
    elif raw.count(":") == 1:
        raw = raw.split(":", 1)[0]
    return parse_pattern(raw)


def host_matches(host: str, pattern: str) -> bool:
    """True if ``host`` matches ``pattern`` (raw or canonical; ValueError if it is invalid)."""
    pattern = normalize_pattern(pattern)
    try:
        host = normalise_host(host)
    except ValueError:
        return False
    if not host:
        return False
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        apex = pattern[2:]
        return host == apex or (host.endswith("." + apex) and not is_address(host))
    if "/" in pattern:
        try:
            return ipaddress.ip_address(host) in ipaddress.ip_network(pattern)
        except ValueError:
            return False
    if is_address(pattern) and is_address(host):
        return ipaddress.ip_address(host) == ipaddress.ip_address(pattern)
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
