"""Egress policy decisions of the local sandbox proxy: pure functions, no sockets."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from shared.sandbox.local.egress_policy import (
    EgressPolicy,
    classify_address,
    control_endpoint,
    host_matches,
    normalize_pattern,
    resolve_destination,
)
from shared.sandbox.local.egress_policy import split_host_port as _split_host_port
from shared.sandbox.local.http_head import BadRequest, parse_head
from shared.sandbox.local.http_head import forwarded_headers as _forwarded_headers

CONTROL = "http://127.0.0.1:8787/base"


def fixed(answers: dict[str, Sequence[str]]):
    def resolver(host: str, port: int) -> Sequence[str]:
        if host not in answers:
            raise OSError(f"unknown host {host}")
        return answers[host]

    return resolver


def never(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"{host} must not be resolved")


# -- patterns ---------------------------------------------------------------------------------------

MATCHES = [
    ("example.com", "example.com", True),
    ("www.example.com", "example.com", False),
    ("example.com", "*.example.com", True),
    ("a.example.com", "*.example.com", True),
    ("a.b.example.com", "*.example.com", True),
    ("badexample.com", "*.example.com", False),
    ("EXAMPLE.com.", "example.com", True),
    ("example.com", "https://Example.com:443/path", True),
    ("anything.at.all", "*", True),
    ("127.0.0.1", "*", True),
    ("127.0.0.1", "127.0.0.1", True),
    ("127.0.0.2", "127.0.0.1", False),
    ("::1", "[::1]", True),
    ("[::1]", "::1", True),
    ("localhost", "localhost", True),
    ("bücher.example", "*.example", True),
    ("xn--bcher-kva.example", "bücher.example", True),
    ("", "example.com", False),
]


@pytest.mark.parametrize(("host", "pattern", "expected"), MATCHES)
def test_host_matches(host: str, pattern: str, expected: bool) -> None:
    assert host_matches(host, pattern) is expected


INVALID_PATTERNS = ["", "   ", "*.", "ex*ample.com", "*.*.example.com", "*.127.0.0.1", "a..b", "exa mple.com"]


@pytest.mark.parametrize("pattern", INVALID_PATTERNS)
def test_invalid_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(ValueError):
        normalize_pattern(pattern)


def test_patterns_are_normalised() -> None:
    assert normalize_pattern(" HTTPS://user@Example.COM:8443/x?y#z ") == "example.com"
    assert normalize_pattern("*.Example.com.") == "*.example.com"
    assert normalize_pattern("[::1]:8080") == "::1"
    with pytest.raises(ValueError):
        EgressPolicy.build(["ok.com", "*."])


# -- host decisions ----------------------------------------------------------------------------------


def test_blocked_wins_over_allowed() -> None:
    policy = EgressPolicy.build(["*.example.com"], ["ads.example.com"])
    assert policy.check_host("www.example.com", 443).allowed
    denied = policy.check_host("ads.example.com", 443)
    assert not denied.allowed and "blocked pattern" in denied.reason


def test_empty_allowed_list_allows_everything_not_blocked() -> None:
    policy = EgressPolicy.build([], ["*.tracker.test"])
    assert policy.check_host("anything.example", 80).allowed
    assert not policy.check_host("x.tracker.test", 80).allowed
    assert not policy.check_host("tracker.test", 80).allowed


def test_non_empty_allowed_list_allows_only_matches() -> None:
    policy = EgressPolicy.build(["example.com"])
    assert policy.check_host("example.com", 443).allowed
    denied = policy.check_host("www.example.com", 443)
    assert not denied.allowed and "not in the allowed domains" in denied.reason


def test_control_plane_is_always_allowed_on_its_port_only() -> None:
    policy = EgressPolicy.build(["example.com"], ["127.0.0.1"], control_url=CONTROL)
    assert control_endpoint(CONTROL) == ("127.0.0.1", 8787)
    assert policy.check_host("127.0.0.1", 8787).reason == "control plane"
    assert not policy.check_host("127.0.0.1", 8788).allowed
    assert EgressPolicy.build(control_url="https://api.example").always_allowed == {("api.example", 443)}
    with pytest.raises(ValueError):
        EgressPolicy.build(control_url="ftp://x")


# -- addresses ---------------------------------------------------------------------------------------

ADDRESSES = [
    ("8.8.8.8", None),
    ("2606:4700:4700::1111", None),
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "private"),
    ("2002:7f00:1::", "6to4 of a non-public address"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"),
    ("::ffff:0:10.0.0.1", "IPv4-translated"),
    ("64:ff9b:1::8.8.8.8", "local-use NAT64"),
]


@pytest.mark.parametrize(("ip", "kind"), ADDRESSES)
def test_classify_address(ip: str, kind: str | None) -> None:
    assert classify_address(ip) == kind


def test_loopback_needs_allow_loopback_and_nothing_else_opens() -> None:
    strict = EgressPolicy.build()
    dev = EgressPolicy.build(allow_loopback=True)
    assert not strict.check_address("127.0.0.1").allowed
    assert dev.check_address("127.0.0.1").allowed and dev.check_address("::1").allowed
    for ip in ("10.0.0.1", "169.254.169.254", "fd00:ec2::254", "0.0.0.0", "192.168.0.10"):
        assert not dev.check_address(ip).allowed, ip
    assert strict.check_address("93.184.215.14").allowed


# -- full decision (name, then resolved addresses) ----------------------------------------------------


def test_denied_names_are_never_resolved() -> None:
    decision, addresses = resolve_destination(EgressPolicy.build([], ["blocked.test"]), "blocked.test", 80, never)
    assert not decision.allowed and addresses == []


def test_public_answer_is_allowed_and_returned() -> None:
    policy = EgressPolicy.build(["*.example.com"])
    decision, addresses = resolve_destination(
        policy, "www.example.com", 443, fixed({"www.example.com": ["93.184.215.14"]})
    )
    assert decision.allowed and addresses == ["93.184.215.14"]


def test_mixed_public_and_private_answer_is_refused() -> None:
    resolver = fixed({"rebind.test": ["93.184.215.14", "10.0.0.5"]})
    decision, addresses = resolve_destination(EgressPolicy.build(), "rebind.test", 80, resolver)
    assert not decision.allowed and "private" in decision.reason and addresses == []


def test_name_resolving_to_metadata_or_loopback_is_refused() -> None:
    resolver = fixed({"meta.test": ["169.254.169.254"], "local.test": ["127.0.0.1"]})
    assert not resolve_destination(EgressPolicy.build(allow_loopback=True), "meta.test", 80, resolver)[0].allowed
    assert not resolve_destination(EgressPolicy.build(), "local.test", 80, resolver)[0].allowed
    assert resolve_destination(EgressPolicy.build(allow_loopback=True), "local.test", 80, resolver)[0].allowed


def test_resolution_failure_is_a_denial() -> None:
    decision, _ = resolve_destination(EgressPolicy.build(), "nxdomain.test", 80, fixed({}))
    assert not decision.allowed and "cannot resolve" in decision.reason
    decision, _ = resolve_destination(EgressPolicy.build(), "empty.test", 80, fixed({"empty.test": []}))
    assert not decision.allowed


def test_control_plane_skips_the_address_check() -> None:
    policy = EgressPolicy.build(["example.com"], control_url=CONTROL)
    decision, addresses = resolve_destination(policy, "127.0.0.1", 8787, fixed({"127.0.0.1": ["127.0.0.1"]}))
    assert decision.allowed and addresses == ["127.0.0.1"]


# -- request heads -----------------------------------------------------------------------------------


def test_split_host_port() -> None:
    assert _split_host_port("example.com", 80) == ("example.com", 80)
    assert _split_host_port("example.com:8443", 80) == ("example.com", 8443)
    assert _split_host_port("[::1]:443", 80) == ("::1", 443)
    assert _split_host_port("[::1]", 80) == ("::1", 80)
    for bad in ("::1", "example.com:0", "example.com:99999", "example.com:x", ":80", "[::1"):
        with pytest.raises(ValueError):
            _split_host_port(bad, 80)


def test_parse_head_and_forwarded_headers() -> None:
    head = parse_head(
        b"GET http://example.com/a?b=1 HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: keep-alive\r\n"
        b"Proxy-Authorization: Basic x\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nAccept: */*"
    )
    assert (head.method, head.target, head.version) == ("GET", "http://example.com/a?b=1", "HTTP/1.1")
    headers = _forwarded_headers(head)
    names = [k.lower() for k, _ in headers]
    assert "proxy-authorization" not in names and "proxy-connection" not in names and "x-drop" not in names
    assert ("Connection", "close") in headers and ("Accept", "*/*") in headers
    rewritten = _forwarded_headers(head, host_value="control:8787")
    assert rewritten[0] == ("Host", "control:8787") and names.count("host") == 1
    assert [k for k, _ in rewritten].count("Host") == 1


def test_websocket_upgrade_keeps_the_upgrade() -> None:
    head = parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket")
    headers = _forwarded_headers(head)
    assert ("Upgrade", "websocket") in headers and ("Connection", "upgrade") in headers


@pytest.mark.parametrize(
    "raw",
    [b"GET /\r\nHost: x", b"GET / HTTP/2\r\nHost: x", b"GET / HTTP/1.1\r\n folded", b"GET / HTTP/1.1\r\nNoColon"],
)
def test_malformed_heads_are_rejected(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_head(raw)


# -- same rule as the agent -----------------------------------------------------------------------


def _agent_policy() -> ModuleType:
    agent_dir = Path(__file__).resolve().parents[2] / "sandbox_image" / "agent"
    sys.path.insert(0, str(agent_dir))
    try:
        return importlib.import_module("openhelm_agent.policy")
    finally:
        sys.path.remove(str(agent_dir))


def test_same_rule_as_the_agent_policy() -> None:
    agent = _agent_policy()
    for host, pattern, _ in MATCHES:
        assert agent.host_matches(host, pattern) == host_matches(host, pattern), (host, pattern)
    for pattern in INVALID_PATTERNS:
        with pytest.raises(ValueError):
            agent.normalize_pattern(pattern)
    for pattern in ("*", "Example.com", "*.example.com", "https://a.b:1/x", "[::1]:80", "bücher.example"):
        assert agent.normalize_pattern(pattern) == normalize_pattern(pattern)
