"""API keys through the real API handler against moto: create (shown once), list, revoke at once,
read-only scope, expiry, and the org's last key."""

from __future__ import annotations

from datetime import timedelta

from shared.clock import FakeClock
from shared.services import Services
from tests.support.apigw import call, http_event


def api(method: str, path: str, key: str, body: object = None) -> object:
    return call(http_event(method, path, key=key, body=body))


def test_a_new_key_is_shown_once_listed_without_it_and_works(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    made = api("POST", "/v1/keys", key, {"name": "ci"})
    assert made.status == 201, made.text
    new_key = made.json["key"]
    assert new_key.startswith("oh_test_") and made.json["scopes"] == ["full"]
    assert made.headers["location"] == f"/v1/keys/{made.json['id']}"
    listed = api("GET", "/v1/keys", new_key)
    assert listed.status == 200
    names = [k["name"] for k in listed.json["data"]]
    assert names == ["first key", "ci"]
    assert new_key not in listed.text and key not in listed.text
    mine = next(k for k in listed.json["data"] if k["id"] == made.json["id"])
    assert mine["prefix"] == new_key[:12] and mine["last_used_at"] is not None


def test_a_revoked_key_answers_401_on_the_very_next_request(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    other = api("POST", "/v1/keys", key, {"name": "to revoke"}).json
    assert api("GET", "/v1/runs", other["key"]).status == 200  # authenticated once: nothing may be cached
    assert api("DELETE", f"/v1/keys/{other['id']}", key).status == 204
    refused = api("GET", "/v1/runs", other["key"])
    assert refused.status == 401 and refused.json["error"]["code"] == "api_key_revoked"
    listed = {k["id"]: k for k in api("GET", "/v1/keys", key).json["data"]}
    assert listed[other["id"]]["revoked"] is True and listed[other["id"]]["revoked_at"]


def test_a_read_only_key_reads_but_every_write_is_403(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    reader = api("POST", "/v1/keys", key, {"name": "dashboard", "scopes": ["read"]}).json["key"]
    assert api("GET", "/v1/runs", reader).status == 200
    assert api("GET", "/v1/balance", reader).status == 200
    for method, path, body in (
        ("POST", "/v1/runs", {"prompt": "Count the links"}),
        ("POST", "/v1/projects", {"name": "x"}),
        ("POST", "/v1/keys", {"name": "escalate"}),
    ):
        r = api(method, path, reader, body)
        assert r.status == 403, (path, r.text)
        assert r.json["error"]["code"] == "insufficient_scope"
    assert api("GET", "/v1/runs", reader).json["data"] == []  # nothing was written


def test_an_expired_key_answers_401(svc: Services, org_key: tuple[str, str], clock: FakeClock) -> None:
    _, key = org_key
    soon = (clock.now() + timedelta(hours=1)).isoformat()
    temp = api("POST", "/v1/keys", key, {"name": "temp", "expires_at": soon}).json["key"]
    assert api("GET", "/v1/runs", temp).status == 200
    clock.advance(3601)
    refused = api("GET", "/v1/runs", temp)
    assert refused.status == 401 and refused.json["error"]["code"] == "api_key_expired"
    gone = (clock.now() - timedelta(seconds=1)).isoformat()
    past = api("POST", "/v1/keys", key, {"name": "past", "expires_at": gone})
    assert past.status == 422


def test_the_last_live_key_cannot_revoke_itself(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    first_id = api("GET", "/v1/keys", key).json["data"][0]["id"]
    r = api("DELETE", f"/v1/keys/{first_id}", key)
    assert r.status == 409 and r.json["error"]["code"] == "last_key"
    assert api("GET", "/v1/runs", key).status == 200
    # with a second key, either may go; then the survivor is the last one
    second = api("POST", "/v1/keys", key, {"name": "second"}).json
    assert api("DELETE", f"/v1/keys/{first_id}", second["key"]).status == 204
    again = api("DELETE", f"/v1/keys/{second['id']}", second["key"])
    assert again.status == 409 and again.json["error"]["code"] == "last_key"


def test_another_orgs_key_id_is_404(svc: Services, org_key: tuple[str, str]) -> None:
    from shared.orgs import bootstrap_org

    _, key = org_key
    _, other_key = bootstrap_org("globex", svc)
    other_id = api("GET", "/v1/keys", other_key).json["data"][0]["id"]
    assert api("DELETE", f"/v1/keys/{other_id}", key).status == 404
    assert api("DELETE", "/v1/keys/nonsense", key).status == 404
    assert api("GET", "/v1/runs", other_key).status == 200


def test_the_sample_events_answer(svc: Services, org_key: tuple[str, str]) -> None:
    from tests.support.apigw import load_event

    _, key = org_key
    answers = {}
    for name in ("create_key", "list_keys", "revoke_key", "list_balance_transactions"):
        event = load_event(f"api/{name}.json")
        event["headers"]["authorization"] = f"Bearer {key}"
        answers[name] = call(event).status
    assert answers == {"create_key": 201, "list_keys": 200, "revoke_key": 404, "list_balance_transactions": 200}
