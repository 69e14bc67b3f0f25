"""One domain rule everywhere: what the API accepts, every enforcer reads and enforces the same way
(the agent's browser routes, the local egress proxy, E2B's network rules); what it rejects, each
of them rejects too."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import ValidationError

from shared import domains
from shared.models.runs import CreateRunRequest
from shared.sandbox.e2b_network import network_policy
from shared.sandbox.local.egress_policy import EgressPolicy

ROOT = Path(__file__).resolve().parents[2]
AGENT_POLICY = ROOT / "sandbox_image" / "agent" / "openhelm_agent" / "policy.py"
CONTROL = "https://api.openhelm.example"


def _agent() -> ModuleType:
    # Loaded from its file: the agent package is not installed into the control plane's venv.
    spec = importlib.util.spec_from_file_location("agent_policy_under_test", AGENT_POLICY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


AGENT = _agent()


def test_the_agent_and_the_control_plane_carry_the_same_file() -> None:
    # The agent ships alone into the sandbox image; shared/ ships alone into the Lambda layer.
    assert Path(domains.__file__).read_bytes() == AGENT_POLICY.read_bytes(), "edit both copies"


# (pattern as sent, canonical form, hosts it matches, hosts it does not)
ACCEPTED = [
    ("example.com", "example.com", ["example.com", "EXAMPLE.com."], ["www.example.com", "badexample.com"]),
    ("*.Example.org.", "*.example.org", ["example.org", "a.b.example.org"], ["badexample.org", "example.org.x"]),
    ("*", "*", ["anything.test", "10.0.0.1"], []),
    ("bücher.example", "xn--bcher-kva.example", ["bücher.example", "xn--bcher-kva.example"], ["buecher.example"]),
    ("*.bücher.example", "*.xn--bcher-kva.example", ["www.bücher.example"], ["bücher.test"]),
    ("198.51.100.7", "198.51.100.7", ["198.51.100.7"], ["198.51.100.8", "x.198.51.100.7"]),
    ("203.0.113.0/24", "203.0.113.0/24", ["203.0.113.9"], ["203.0.114.1", "example.com"]),
    ("[2001:db8::1]", "2001:db8::1", ["2001:db8::1", "[2001:db8:0::1]"], ["2001:db8::2"]),
    ("localhost", "localhost", ["localhost"], ["127.0.0.1"]),
    ("x", "x", ["x"], ["x.y"]),
]
REJECTED = [
    "*.1.2.3.4",  # the API used to accept it; every enforcer refused it: 202, then SANDBOX_START_FAILED
    "*.127.0.0.1",
    "1.2.3.4.5",
    "*.203.0.113.0/24",
    "a..b",
    "-bad.com",
    "ex_ample.com",
    "exa mple.com",
    "exa*mple.com",
    "*.*.example.com",
    "*.",
    "a" * 64 + ".com",
    ".".join(["a" * 63] * 4),
]


@pytest.mark.parametrize(("pattern", "canonical", "hits", "misses"), ACCEPTED)
def test_a_pattern_the_api_accepts_is_enforced_the_same_way_everywhere(
    pattern: str, canonical: str, hits: list[str], misses: list[str]
) -> None:
    stored = CreateRunRequest(prompt="abc", allowed_domains=[pattern]).allowed_domains
    assert stored == [canonical]
    # The enforcers are handed the stored form; each reads it back unchanged.
    assert AGENT.normalize_pattern(canonical) == canonical
    assert EgressPolicy.build([canonical]).allowed == (canonical,)
    network_policy([canonical], [canonical], CONTROL)  # expressible (or knowingly browser-only)
    agent_policy = AGENT.DomainPolicy.from_lists([canonical])
    proxy_policy = EgressPolicy.build([canonical])
    for host in hits + misses:
        expected = host in hits
        assert AGENT.host_matches(host, canonical) is expected, host
        assert agent_policy.allows_host(host) is expected, host
        assert proxy_policy.check_host(host, 443).allowed is expected, host
        blocked = EgressPolicy.build(blocked=[canonical]).check_host(host, 443)
        assert blocked.allowed is not expected, host


@pytest.mark.parametrize("pattern", REJECTED)
def test_a_pattern_the_api_rejects_every_enforcer_rejects(pattern: str) -> None:
    with pytest.raises(ValidationError):
        CreateRunRequest(prompt="abc", allowed_domains=[pattern])
    with pytest.raises(ValueError):
        AGENT.normalize_pattern(pattern)
    with pytest.raises(ValueError):
        EgressPolicy.build([pattern])
    with pytest.raises(ValueError):
        network_policy([pattern], [], CONTROL)
    with pytest.raises(ValueError):
        network_policy([], [pattern], CONTROL)


def test_e2b_rules_express_what_e2b_can_and_leave_the_rest_to_the_browser() -> None:
    opts, unenforced = network_policy(
        ["*.example.org", "198.51.100.0/24"], ["203.0.113.0/24", "ads.example.org"], CONTROL
    )
    assert opts["allow_out"] == ["example.org", "*.example.org", "198.51.100.0/24", "api.openhelm.example"]
    assert opts["deny_out"] == ["0.0.0.0/0", "203.0.113.0/24"]
    assert unenforced == ["ads.example.org"]
