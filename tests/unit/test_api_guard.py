"""The raw-event guard and the resolver's route table it relies on."""

import base64

from shared.api.app import ROUTES
from shared.api.guard import check_event


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
