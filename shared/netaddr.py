"""Which IP addresses are public: one classifier for every place that must refuse internal
destinations (the sandbox egress proxy, webhook delivery)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata and platform endpoints (AWS, ECS, Alibaba, GCP/Azure, Oracle); most sit in refused
# ranges anyway, named so the refusal says why. 168.63.129.16 (Azure) is a public address.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "192.0.0.192",
        "168.63.129.16",
    )
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
# The reachable non-public IPv4 space as CIDR networks, for filters that take ranges rather than a
# classifier (E2B's ``deny_out``): private, CGNAT, link-local (metadata), benchmark, multicast,
# reserved. Loopback is the sandbox's own and the documentation ranges route nowhere, so they are
# left out; a test checks that ``classify_address`` refuses each network's addresses.
NON_PUBLIC_IPV4_NETWORKS: tuple[str, ...] = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv6 ranges this Python's ``ipaddress`` (3.11) calls global but that are not: IPv4-compatible
# (deprecated by RFC 4291; ``[::127.0.0.1]``), IPv4-translated (RFC 2765) and local-use NAT64 (RFC 8215).
NOT_GLOBAL_V6 = {
    ipaddress.ip_network("::/96"): "IPv4-compatible",
    ipaddress.ip_network("::ffff:0:0:0/96"): "IPv4-translated",
    ipaddress.ip_network("64:ff9b:1::/48"): "local-use NAT64",
}


def embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, 6to4, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify_address(ip: str | IPAddress) -> str | None:
    """The kind of non-public address ``ip`` is (``"loopback"``, ``"metadata"``, ``"private"`` ...),
    or None for a public (globally routable) address."""
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return classify_address(addr.ipv4_mapped)
        embedded = embedded_v4(addr)
        if embedded is not None and classify_address(embedded) is not None:
            return "6to4 of a non-public address" if addr.sixtofour is not None else "NAT64 of a non-public address"
    if addr in METADATA_ADDRESSES:
        return "metadata"
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if isinstance(addr, ipaddress.IPv6Address):
        for net, kind in NOT_GLOBAL_V6.items():
            if addr in net:
                return kind
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_private:
        return "private"
    if not addr.is_global:
        return "reserved"
    return None


# A host whose last label is a number is an IPv4 address to inet_aton, getaddrinfo and the WHATWG
# URL parser alike (decimal ``2130706433``, hex ``0x7f.1``, octal ``0177.0.0.1``, short ``127.1``).
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
# Label separators that IDNA maps to "." (ideographic and half-width full stops; NFKC covers U+FF0E).
_DOTS = str.maketrans({"\u3002": ".", "\uff61": "."})


def _ipv4_number(label: str) -> int:
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)  # ValueError for 8 or 9, as inet_aton refuses them
    return int(label)


def literal_address(host: str) -> IPAddress | None:
    """The IP address ``host`` denotes if it is an address literal in any form a resolver accepts,
    or None if it is a name. Raises ValueError for a host that is numeric but no valid address
    (``1.2.3.4.5``, ``08.0.0.1``), which no resolver would look up as a name either.

    Full-width digits and IDNA dots are folded first (NFKC), as IDNA encoding would fold them."""
    h = unicodedata.normalize("NFKC", host).translate(_DOTS).strip().lower()
    h = h[1:-1] if h.startswith("[") and h.endswith("]") else h
    h = h[:-1] if h.endswith(".") else h  # one trailing dot: the DNS root
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if ":" in h:
        raise ValueError(f"{host!r} is not a valid IPv6 address")
    labels = h.split(".")
    if not _NUMERIC_LABEL.match(labels[-1]):
        return None
    invalid = ValueError(f"{host!r} is not a valid IPv4 address")
    if len(labels) > 4 or not all(_NUMERIC_LABEL.match(label) for label in labels):
        raise invalid
    try:
        parts = [_ipv4_number(label) for label in labels]
    except ValueError:
        raise invalid from None
    *head, last = parts
    if any(p > 255 for p in head) or last >= 256 ** (5 - len(parts)):
        raise invalid
    value = last
    for i, p in enumerate(head):
        value += p << (8 * (3 - i))
    return ipaddress.IPv4Address(value)
