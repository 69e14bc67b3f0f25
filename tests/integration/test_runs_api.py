"""The runs API through the real API handler, against moto."""

from __future__ import annotations

import json

from shared.services import Services
from tests.support.apigw import call, http_event, load_event

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def create(key: str, body: dict | None = None, **kw) -> object:
    return call(http_event("POST", "/v1/runs", body=body or {"prompt": "Count the links"}, key=key, **kw))


def test_create_then_get_returns_the_queued_run(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = create(key, {"prompt": "Find {{what}} on the page", "inputs": {"what": "prices"}, "output_schema": SCHEMA})
    assert r.status == 202, r.text
    task_id = r.json["task_id"]
    assert r.json["status"] == "queued"
    assert r.json["poll_url"] == f"https://abc123.execute-api.us-east-1.amazonaws.com/v1/runs/{task_id}"
    assert r.headers["location"] == f"/v1/runs/{task_id}"

    got = call(http_event("GET", f"/v1/runs/{task_id}", key=key))
    assert got.status == 200
    run = got.json
    assert run["id"] == task_id
    assert run["prompt"] == "Find prices on the page"
    assert run["output_schema"] == SCHEMA
    assert run["model"] == svc.settings.default_model
    assert run["result"] is None and run["usage"] is None and run["error"] is None


def test_the_sample_event_creates_a_run(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    event = load_event("api/create_run.json")
    event["headers"]["authorization"] = f"Bearer {key}"
    r = call(event)
    assert r.status == 202, r.text
    run = call(http_event("GET", f"/v1/runs/{r.json['task_id']}", key=key)).json
    assert run["prompt"] == "Get the pricing tiers of https://example.com/pricing with their monthly prices"
    assert run["allowed_domains"] == ["example.com"]
    assert run["metadata"] == {"customer": "42"}


def test_invalid_output_schema_is_422_and_says_where(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = create(
        key, {"prompt": "Count the links", "output_schema": {"type": "object", "properties": {"n": {"type": 5}}}}
    )
    assert r.status == 422
    assert r.json["error"]["code"] == "invalid_output_schema"
    assert "properties/n/type" in r.json["error"]["message"]
    assert list_count(key) == 0


def list_count(key: str) -> int:
    return len(call(http_event("GET", "/v1/runs", key=key)).json["data"])


def test_bad_bodies_are_400_and_change_nothing(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    assert create(key, "{not json").status == 400
    r = call(http_event("POST", "/v1/runs", raw_body=b'{"prompt": "\xff\xfe bad"}', key=key))
    assert r.status == 400 and r.json["error"]["code"] == "invalid_encoding"
    r = call(http_event("POST", "/v1/runs", body="--x\r\n", key=key, headers={"content-type": "multipart/form-data"}))
    assert r.status == 415
    assert list_count(key) == 0


def test_validation_errors_are_422_with_locations(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = create(key, {"prompt": "no", "max_steps": 0, "surprise": 1})
    assert r.status == 422
    locs = {tuple(d["loc"][1:]) for d in r.json["error"]["details"]}
    assert ("prompt",) in locs and ("max_steps",) in locs and ("surprise",) in locs


def test_missing_and_bad_keys_are_401(svc: Services, org_key: tuple[str, str]) -> None:
    assert call(http_event("GET", "/v1/runs")).status == 401
    r = call(http_event("GET", "/v1/runs", key="oh_test_nope_nope_nope"))
    assert r.status == 401 and r.json["error"]["type"] == "authentication_error"


def test_wrong_method_is_405_with_allow(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = call(http_event("DELETE", "/v1/runs", key=key))
    assert r.status == 405
    assert r.headers["allow"] == "GET, POST"


def test_idempotency_key_replays_and_refuses_other_bodies(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    h = {"Idempotency-Key": "abc-1"}
    first = create(key, {"prompt": "Count the links"}, headers=h)
    again = create(key, {"prompt": "Count the links"}, headers=h)
    assert first.status == again.status == 202
    assert first.json["task_id"] == again.json["task_id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = create(key, {"prompt": "Count the images"}, headers=h)
    assert other.status == 409 and other.json["error"]["code"] == "idempotency_key_reused"
    assert list_count(key) == 1


def test_cancel_then_cancel_again_is_409(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    run_id = create(key).json["task_id"]
    r = call(http_event("POST", f"/v1/runs/{run_id}/cancel", key=key))
    assert r.status == 202 and r.json["status"] == "cancelled"
    assert r.json["error"]["code"] == "CANCELLED"
    again = call(http_event("POST", f"/v1/runs/{run_id}/cancel", key=key))
    assert again.status == 409 and again.json["error"]["code"] == "run_not_cancellable"


def test_another_orgs_run_is_404(svc: Services, org_key: tuple[str, str]) -> None:
    from shared.orgs import bootstrap_org

    _, key = org_key
    _, other_key = bootstrap_org("globex", svc)
    run_id = create(key).json["task_id"]
    assert call(http_event("GET", f"/v1/runs/{run_id}", key=other_key)).status == 404
    assert call(http_event("POST", f"/v1/runs/{run_id}/cancel", key=other_key)).status == 404


def test_health_and_openapi_need_no_key(svc: Services) -> None:
    assert call(http_event("GET", "/v1/health")).json["status"] == "ok"
    doc = json.loads(call(http_event("GET", "/openapi.json")).text)
    assert doc["openapi"].startswith("3.1")


def test_docs_serve_swagger_ui_around_the_same_document(svc: Services) -> None:
    page = call(http_event("GET", "/docs"))
    assert page.status == 200 and "SwaggerUIBundle" in page.text and "x-openhelm-rules" in page.text
    as_json = call(http_event("GET", "/docs", query={"format": "json"}))
    assert json.loads(as_json.text) == json.loads(call(http_event("GET", "/openapi.json")).text)
    assert "oauth2" in call(http_event("GET", "/docs", query={"format": "oauth2-redirect"})).text.lower()


def test_wait_returns_a_finished_run_and_gives_up_on_time(svc: Services, org_key: tuple[str, str]) -> None:
    from shared.runs import service as runs

    org_id, key = org_key
    run_id = create(key).json["task_id"]
    start = svc.clock.monotonic()
    assert runs.wait_for_terminal(svc, org_id, run_id, seconds=3) is None
    assert svc.clock.monotonic() - start == 3  # the fake clock moved exactly by the bound
    call(http_event("POST", f"/v1/runs/{run_id}/cancel", key=key))
    done = runs.wait_for_terminal(svc, org_id, run_id, seconds=3)
    assert done is not None and done.status == "cancelled"


def test_wait_zero_answers_202_at_once(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = call(http_event("POST", "/v1/runs", body={"prompt": "Count the links"}, key=key, query={"wait": "0"}))
    assert r.status == 202
    assert call(http_event("POST", "/v1/runs", body={"prompt": "Count"}, key=key, query={"wait": "51"})).status == 422
