"""Webhook endpoints and the signing secret through the API handler, against moto."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.api import deps
from shared.clock import FakeClock
from shared.db.dynamo import ConditionalCheckFailed
from shared.orgs import bootstrap_org
from shared.services import Services
from shared.webhooks import secrets, ssrf
from shared.webhooks.endpoints import MAX_ENDPOINTS
from tests.support.apigw import call, http_event
from tests.support.aws import make_services

PUBLIC = {"hooks.example.com": ["93.184.215.14"], "intranet.example.com": ["10.1.2.3"]}


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssrf, "system_resolver", lambda host, port: PUBLIC.get(host, []))


def create(key: str, body: dict[str, Any]) -> Any:
    return call(http_event("POST", "/v1/webhooks", body=body, key=key))


def test_secret_is_created_once_and_rotation_keeps_the_previous_for_a_day(
    svc: Services, org_key: tuple[str, str], clock: FakeClock
) -> None:
    _, key = org_key
    first = call(http_event("GET", "/v1/webhooks/secret", key=key))
    assert first.status == 200 and first.json["secret"].startswith("whsec_")
    assert first.json["previous_expires_at"] is None
    assert call(http_event("GET", "/v1/webhooks/secret", key=key)).json["secret"] == first.json["secret"]

    rotated = call(http_event("POST", "/v1/webhooks/secret/rotate", key=key))
    assert rotated.status == 200, rotated.text
    assert rotated.json["secret"] != first.json["secret"]
    expected = (clock.now() + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert rotated.json["previous_expires_at"] == expected
    assert call(http_event("GET", "/v1/webhooks/secret", key=key)).json == rotated.json

    _, other_key = bootstrap_org("globex", svc)
    assert call(http_event("GET", "/v1/webhooks/secret", key=other_key)).json["secret"] not in (
        first.json["secret"],
        rotated.json["secret"],
    )


def test_concurrent_first_readers_agree_on_one_secret(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, _ = org_key
    svc.webhooks.create_secret(org_id, "whsec_" + "A" * 44, "2026-01-01T00:00:00+00:00")  # the other reader won
    real_get = svc.webhooks.get_secret
    reads = iter([None])  # this reader looked before the other one wrote
    svc.webhooks.get_secret = lambda o: next(reads, None) or real_get(o)  # type: ignore[method-assign]
    assert secrets.get_secret(svc, org_id).secret == "whsec_" + "A" * 44


def test_a_rotation_racing_another_is_not_lost(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, _ = org_key
    original = secrets.get_secret(svc, org_id).secret
    stale = svc.webhooks.get_secret(org_id)
    theirs = secrets.rotate_secret(svc, org_id).secret  # another request rotated in between
    with pytest.raises(ConditionalCheckFailed):
        svc.webhooks.rotate_secret(
            org_id, expected_version=stale["version"], new="whsec_x", previous=original,  # type: ignore[index]
            previous_expires_at="2026-01-02T00:00:00+00:00", now="2026-01-01T00:00:00+00:00",
        )  # fmt: skip
    real_get = svc.webhooks.get_secret
    reads = iter([stale])
    svc.webhooks.get_secret = lambda o: next(reads, None) or real_get(o)  # type: ignore[method-assign]
    ours = secrets.rotate_secret(svc, org_id).secret  # read the stale version first, then retried
    record = real_get(org_id)
    assert record["current"] == ours and record["previous"] == theirs  # type: ignore[index]
    assert record["version"] == 3  # type: ignore[index]


def test_endpoint_lifecycle(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = create(key, {"url": "https://hooks.example.com/in", "description": "ops"})
    assert r.status == 201, r.text
    endpoint = r.json
    assert endpoint["id"].startswith("whk_") and r.headers["location"] == f"/v1/webhooks/{endpoint['id']}"
    assert endpoint["event_types"] == ["run.succeeded", "run.failed", "run.cancelled"]
    assert endpoint["object"] == "webhook_endpoint" and endpoint["description"] == "ops"

    only = create(key, {"url": "https://hooks.example.com/b", "event_types": ["run.cancelled", "run.failed"]})
    assert only.json["event_types"] == ["run.failed", "run.cancelled"]

    got = call(http_event("GET", f"/v1/webhooks/{endpoint['id']}", key=key))
    assert got.status == 200 and got.json == endpoint

    page = call(http_event("GET", "/v1/webhooks", key=key, query={"limit": "1"})).json
    assert len(page["data"]) == 1 and page["next_cursor"]
    rest = call(http_event("GET", "/v1/webhooks", key=key, query={"limit": "1", "cursor": page["next_cursor"]}))
    ids = {page["data"][0]["id"], rest.json["data"][0]["id"]}
    assert ids == {endpoint["id"], only.json["id"]}

    _, other_key = bootstrap_org("globex", svc)
    assert call(http_event("GET", f"/v1/webhooks/{endpoint['id']}", key=other_key)).status == 404
    assert call(http_event("DELETE", f"/v1/webhooks/{endpoint['id']}", key=other_key)).status == 404
    bad_cursor = call(http_event("GET", "/v1/webhooks", key=other_key, query={"cursor": page["next_cursor"]}))
    assert bad_cursor.status == 400

    assert call(http_event("DELETE", f"/v1/webhooks/{endpoint['id']}", key=key)).status == 204
    gone = call(http_event("GET", f"/v1/webhooks/{endpoint['id']}", key=key))
    assert gone.status == 404 and gone.json["error"]["code"] == "webhook_not_found"
    assert call(http_event("DELETE", f"/v1/webhooks/{endpoint['id']}", key=key)).status == 404
    assert call(http_event("GET", "/v1/webhooks/whk_nope", key=key)).status == 404


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://intranet.example.com/in", "10.1.2.3"),
        ("https://nowhere.example.com/in", "does not resolve"),
        ("https://user:pw@hooks.example.com/in", "credentials"),
        ("https://hooks.example.com:25/in", "port 25"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://127.0.0.1:8080/in", "loopback"),
    ],
)
def test_urls_outside_the_policy_are_422(svc: Services, org_key: tuple[str, str], url: str, why: str) -> None:
    _, key = org_key
    r = create(key, {"url": url})
    assert r.status == 422, r.text
    assert r.json["error"]["code"] == "webhook_url_not_allowed" and why in r.json["error"]["message"]
    assert r.json["error"]["details"][0]["loc"] == ["url"]


def test_request_validation(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    for body in (
        {"url": "not a url"},
        {"url": "https://hooks.example.com/", "event_types": ["run.started"]},
        {"url": "https://hooks.example.com/", "event_types": []},
        {"url": "https://hooks.example.com/", "extra": 1},
        {"url": "https://hooks.example.com/" + "a" * 2100},
    ):
        r = create(key, body)
        assert r.status == 422 and r.json["error"]["code"] == "validation_failed", body


def test_production_requires_https(moto_aws: None) -> None:
    prod = make_services(OPENHELM_STAGE="prod")
    deps.override(prod)
    try:
        _, key = bootstrap_org("acme", prod)
        r = create(key, {"url": "http://hooks.example.com/in"})
        assert r.status == 422 and "https" in r.json["error"]["message"]
        assert create(key, {"url": "https://hooks.example.com/in"}).status == 201
    finally:
        deps.override(None)


def test_at_most_twenty_endpoints_per_org(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    made = [create(key, {"url": f"https://hooks.example.com/{i}"}).json["id"] for i in range(MAX_ENDPOINTS)]
    over = create(key, {"url": "https://hooks.example.com/over"})
    assert over.status == 409 and over.json["error"]["code"] == "webhook_limit_reached"
    assert over.json["error"]["details"] == {"limit": MAX_ENDPOINTS}
    assert call(http_event("DELETE", f"/v1/webhooks/{made[0]}", key=key)).status == 204
    assert create(key, {"url": "https://hooks.example.com/again"}).status == 201
    _, other_key = bootstrap_org("globex", svc)
    assert create(other_key, {"url": "https://hooks.example.com/x"}).status == 201


def test_deliveries_of_a_run_with_none_yet(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    run_id = call(http_event("POST", "/v1/runs", body={"prompt": "Look around"}, key=key)).json["task_id"]
    r = call(http_event("GET", f"/v1/runs/{run_id}/deliveries", key=key))
    assert r.status == 200 and r.json == {"object": "list", "data": [], "next_cursor": None}
