"""The raw-event guard and the resolver's route table it relies on."""

import base64
import json

from shared.api.app import ROUTES
from shared.api.guard import MAX_DEPTH, MAX_NUMBER_DIGITS, check_event


def event(method: str, path: str, body: str | None = None, b64: bool = False, ctype: str = "application/json") -> dict:
    return {
        "rawPath": path,
        "requestContext": {"http": {"method": method, "path": path}},
        "headers": {"content-type": ctype},
        "body": body,
        "isBase64Encoded": b64,
    }


def test_route_table_knows_every_public_route() -> None:
    # Guards the private Powertools attributes app.py reads (pinned at 3.37.0).
    methods = {m for m, rule in ROUTES if rule.match("/v1/jobs/job_X")}
    assert methods == {"GET", "PATCH", "DELETE"}


def test_wrong_method_is_405_with_allow() -> None:
    out = check_event(event("PUT", "/v1/runs/run_1"), 1024, ROUTES)
    assert out["statusCode"] == 405 and out["headers"]["Allow"] == "GET"


def test_base64_utf8_json_is_decoded_for_the_resolver() -> None:
    ev = event("POST", "/v1/runs", base64.b64encode('{"prompt": "héllo"}'.encode()).decode(), b64=True)
    assert check_event(ev, 1024, ROUTES) is None
    assert ev["body"] == '{"prompt": "héllo"}' and ev["isBase64Encoded"] is False


def test_bad_bodies() -> None:
    assert check_event(event("POST", "/v1/runs", "{"), 1024, ROUTES)["statusCode"] == 400
    assert check_event(event("POST", "/v1/runs", "!!!", b64=True), 1024, ROUTES)["statusCode"] == 400
    assert check_event(event("POST", "/v1/runs", "{}" + " " * 2000), 1024, ROUTES)["statusCode"] == 413
    assert check_event(event("POST", "/v1/runs", "a=b", ctype="text/plain"), 1024, ROUTES)["statusCode"] == 415
    assert check_event(event("POST", "/v1/runs", "{}", ctype="application/merge-patch+json"), 1024, ROUTES) is None


def rejected(body: str) -> dict:
    out = check_event(event("POST", "/v1/runs", body), 1024 * 1024, ROUTES)
    assert out is not None, "accepted"
    return {"status": out["statusCode"], **json.loads(out["body"])["error"]}


def test_deep_nesting_is_refused_at_the_stated_depth_without_recursion() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert check_event(event("POST", "/v1/runs", at_limit), 1024 * 1024, ROUTES) is None
    for body in ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), '{"a":' * 1000 + "1" + "}" * 1000, "[" * 200_000):
        err = rejected(body)
        assert (err["status"], err["code"]) == (400, "json_too_deep")
        assert err["details"]["max_depth"] == MAX_DEPTH
    # brackets inside strings are text, not nesting
    assert check_event(event("POST", "/v1/runs", json.dumps({"p": "[" * 5000 + '\\"{'})), 1024 * 1024, ROUTES) is None


def test_numbers_beyond_the_stated_limits_are_400() -> None:
    assert rejected('{"n": 1' + "0" * 5000 + "}")["code"] == "number_too_large"
    assert rejected('{"n": -1' + "0" * MAX_NUMBER_DIGITS + "}")["code"] == "number_too_large"
    assert rejected('{"n": 1e400}')["code"] == "number_too_large"
    for constant in ("NaN", "Infinity", "-Infinity"):
        assert rejected('{"n": ' + constant + "}")["code"] == "invalid_json"
    assert check_event(event("POST", "/v1/runs", '{"n": 1' + "0" * 99 + ', "f": 1e300}'), 1024, ROUTES) is None


def test_lone_surrogates_are_400_and_pairs_pass() -> None:
    assert rejected(r'{"prompt": "a\ud800b"}')["code"] == "invalid_unicode"
    assert rejected(r'{"\udc00": 1}')["code"] == "invalid_unicode"
    assert check_event(event("POST", "/v1/runs", r'{"prompt": "\ud83d\ude00"}'), 1024, ROUTES) is None


def test_an_event_the_guard_cannot_read_still_gets_the_envelope() -> None:
    # No API Gateway sends a non-string body; whatever the guard trips on must not escape the handler.
    from shared.api.app import handle

    out = handle(event("POST", "/v1/runs", body=12345), None)  # type: ignore[arg-type]
    assert out["statusCode"] == 500
    assert json.loads(out["body"])["error"]["code"] == "internal_error"
