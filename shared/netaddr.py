"""Which IP addresses are public: one classifier for every place that must refuse internal
destinations (the sandbox egress proxy, webhook delivery)."""

from __future__ import annotations

import ipaddress

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
NAT64 = ipaddress.ip_network("64:ff9b::/96")


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
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_private:
        return "private"
    if not addr.is_global:
        return "reserved"
    return None
