"""A run's domain patterns as E2B's per-sandbox egress rules (``network.allow_out``/``deny_out``).

E2B filters egress per sandbox:

* ``allow_out`` takes IPs, CIDRs and host names (``example.com``, ``*.example.com``), and allowed
  entries win over denied ones. Host names are matched on HTTP ``Host`` (port 80) and TLS SNI
  (port 443) only; other ports fall back to IP/CIDR matching, UDP (QUIC) cannot be matched by name.
* ``deny_out`` takes IPs and CIDRs only: **host names cannot be denied**.

So a run with allowed domains becomes ``allow_out = allowed + control plane host`` with
``deny_out = [0.0.0.0/0]``; a run without them keeps the internet open but denies private,
link-local (cloud metadata), CGNAT and reserved IPv4 ranges. Blocked *domains* cannot be expressed
at E2B's network layer; they are enforced inside the browser only (the agent's Playwright routes),
and blocked IPs/CIDRs are added to ``deny_out``. Our ``*.example.com`` also matches the apex
(``example.com``), E2B's wildcard does not, so both are sent.

Patterns are read by the one rule (``shared/domains.py``); the refused address ranges come from the
one classifier (``shared/netaddr.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from shared.domains import normalize_pattern
from shared.logging import get_logger
from shared.netaddr import NON_PUBLIC_IPV4_NETWORKS

log = get_logger("shared.sandbox.e2b")

ALL_TRAFFIC = "0.0.0.0/0"
# Denied when a run has no allowed-domain list: everything that is not the public internet.
PRIVATE_IPV4_RANGES: tuple[str, ...] = NON_PUBLIC_IPV4_NETWORKS


def _allow_entries(pattern: str) -> list[str] | None:
    """E2B ``allow_out`` entries for one allowed-domain pattern; None for ``*`` (allow everything).

    The pattern is read by the one rule (``shared/domains.py``, the agent's and the API's too);
    ``*.host`` also matches ``host``, E2B's wildcard does not, so both are sent. Addresses and CIDR
    networks pass through; IPv6 entries are returned too, the caller decides (E2B's egress rules are
    IPv4). Raises ValueError for an invalid pattern.
    """
    canonical = normalize_pattern(pattern)
    if canonical == "*":
        return None
    if canonical.startswith("*."):
        return [canonical[2:], canonical]
    return [canonical]


def _ip_entry(value: str) -> str | None:
    """``value`` as a normalised IP address or CIDR if it is one, else None."""
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        net = ipaddress.ip_network(candidate, strict=False)
    except ValueError:
        return None
    return str(net) if "/" in candidate else str(net.network_address)


def _control_host_entry(control_url: str) -> str:
    parts = urlsplit(control_url)
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"control_url has no host: {control_url!r}")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if parts.port not in (None, 80, 443):
            # E2B matches host names on ports 80/443 only: say so rather than fail mysteriously.
            log.warning("e2b_control_url_port_not_filterable", host=host, port=parts.port)
        return host
    if ip.version != 4:
        raise ValueError(f"IPv6 control_url is not supported by E2B egress rules: {control_url!r}")
    return str(ip)


def network_policy(
    allowed_domains: Iterable[str], blocked_domains: Iterable[str], control_url: str, llm_url: str = ""
) -> tuple[dict[str, Any], list[str]]:
    """The E2B ``network`` option for a run, plus the blocked patterns E2B cannot enforce.

    The control plane (``control_url``) and the LLM gateway (``llm_url``, its own function URL host)
    are always reachable. Raises ValueError on an invalid pattern or URL (before anything is created).
    """
    control = [_control_host_entry(url) for url in (control_url, llm_url) if url]
    patterns = [p for p in allowed_domains if p.strip()]
    # No list, or "*" in it: the open internet (minus private ranges). Otherwise fail closed.
    open_internet = not patterns
    allow: list[str] = []
    for pattern in patterns:
        entries = _allow_entries(pattern)
        if entries is None:
            open_internet = True
        elif all(_is_ipv4_entry(e) or not _ip_entry(e) for e in entries):
            allow.extend(entries)
        else:  # IPv6: E2B's rules are IPv4-only; the browser still enforces the pattern
            log.warning("e2b_ipv6_allow_entry_dropped", pattern=pattern)
    deny: list[str] = list(PRIVATE_IPV4_RANGES) if open_internet else [ALL_TRAFFIC]
    unenforced: list[str] = []
    for pattern in blocked_domains:
        entries = _allow_entries(pattern)
        if entries and all(_is_ipv4_entry(e) for e in entries):
            deny.extend(entries)
        else:  # host names (and IPv6) cannot be denied at E2B's network layer
            unenforced.append(pattern.strip())
    allow = control if open_internet else [*allow, *control]
    opts: dict[str, Any] = {
        "allow_out": list(dict.fromkeys(allow)),
        "deny_out": list(dict.fromkeys(deny)),
        # Nothing is served from the sandbox: its public URLs require the traffic token.
        "allow_public_traffic": False,
    }
    return opts, unenforced


def _is_ipv4_entry(value: str) -> bool:
    try:
        return ipaddress.ip_network(value, strict=False).version == 4
    except ValueError:
        return False
