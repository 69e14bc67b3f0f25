"""Domain patterns at the API: what it answers 202 for, a sandbox can enforce (see
tests/unit/test_domain_rule.py for the enforcers); the rest is refused before a run exists."""

from __future__ import annotations

from shared.services import Services
from tests.support.apigw import call, http_event


def _create(key: str, **fields: object) -> object:
    return call(http_event("POST", "/v1/runs", body={"prompt": "Count the links", **fields}, key=key))


def _count(key: str) -> int:
    return len(call(http_event("GET", "/v1/runs", key=key)).json["data"])


def test_a_wildcard_over_an_address_is_refused_up_front(svc: Services, org_key: tuple[str, str]) -> None:
    # It used to be answered 202, and the run then failed SANDBOX_START_FAILED: no enforcer takes it.
    _, key = org_key
    for field in ("allowed_domains", "blocked_domains"):
        r = _create(key, **{field: ["*.1.2.3.4"]})
        assert r.status == 422, r.text
        assert "wildcards do not apply to IP addresses" in r.text
    assert _count(key) == 0


def test_patterns_the_enforcers_take_are_accepted_in_canonical_form(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = _create(key, allowed_domains=["*", "Bücher.Example", "[2001:db8::1]"], blocked_domains=["203.0.113.0/24"])
    assert r.status == 202, r.text
    run = call(http_event("GET", f"/v1/runs/{r.json['task_id']}", key=key)).json
    assert run["allowed_domains"] == ["*", "xn--bcher-kva.example", "2001:db8::1"]
    assert run["blocked_domains"] == ["203.0.113.0/24"]
