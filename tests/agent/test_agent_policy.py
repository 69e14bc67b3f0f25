"""The domain policy rule (openhelm_agent.policy), which the control plane reuses."""

from __future__ import annotations

import pytest
from openhelm_agent.policy import DomainPolicy, host_matches, normalize_pattern


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("example.com", "example.com", True),
        ("EXAMPLE.com.", "example.com", True),
        ("www.example.com", "example.com", False),
        ("example.com", "*.example.com", True),
        ("a.example.com", "*.example.com", True),
        ("a.b.example.com", "*.example.com", True),
        ("badexample.com", "*.example.com", False),
        ("example.com.evil.test", "*.example.com", False),
        ("anything.test", "*", True),
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.2", "127.0.0.1", False),
        ("localhost", "localhost", True),
        ("::1", "[::1]", True),
        ("bücher.example", "*.example", True),
        ("xn--bcher-kva.example", "bücher.example", True),
        ("", "example.com", False),
    ],
)
def test_host_matches(host: str, pattern: str, expected: bool) -> None:
    assert host_matches(host, pattern) is expected


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Example.COM", "example.com"),
        ("https://example.com:8443/path?q=1", "example.com"),
        ("*.Example.com.", "*.example.com"),
        ("user@example.com", "example.com"),
        ("[::1]:8080", "::1"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("*", "*"),
    ],
)
def test_normalize_pattern(raw: str, normalised: str) -> None:
    assert normalize_pattern(raw) == normalised


@pytest.mark.parametrize("bad", ["", "  ", "exa*mple.com", "*example.com", "a..b", "*.127.0.0.1", "a b.com"])
def test_invalid_patterns(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_pattern(bad)


def test_blocked_wins_and_empty_allowed_allows_all() -> None:
    policy = DomainPolicy.from_lists([], ["*.evil.test"])
    assert policy.allows_url("https://example.com/")
    assert policy.allows_url("http://127.0.0.1:8000/x")
    assert not policy.allows_url("http://evil.test/")
    assert not policy.allows_url("https://a.evil.test/x")
    both = DomainPolicy.from_lists(["*.evil.test"], ["ads.evil.test"])
    assert both.allows_url("https://www.evil.test/")
    assert not both.allows_url("https://ads.evil.test/")


def test_allowed_list_restricts() -> None:
    policy = DomainPolicy.from_lists(["example.com", "*.docs.example.org"], [])
    assert policy.allows_url("https://example.com:443/pricing")
    assert not policy.allows_url("https://www.example.com/")
    assert policy.allows_url("wss://api.docs.example.org/socket")
    assert not policy.allows_url("http://127.0.0.1/")
    decision = policy.check_url("https://other.test/")
    assert not decision.allowed and "not in the allowed domains" in decision.reason


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("about:blank", True),
        ("data:text/html,hi", True),
        ("blob:https://example.com/uuid", True),
        ("file:///etc/passwd", False),
        ("chrome://settings", False),
        ("ftp://example.com/", False),
        ("http:///nohost", False),
    ],
)
def test_schemes(url: str, allowed: bool) -> None:
    assert DomainPolicy.from_lists(["example.com"]).allows_url(url) is allowed


def test_policy_module_is_stdlib_only() -> None:
    import ast
    import sys
    from pathlib import Path

    import openhelm_agent.policy as policy

    tree = ast.parse(Path(policy.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
