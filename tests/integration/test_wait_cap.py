"""``?wait=N`` stays below API Gateway's 30 s integration timeout: at most 25 s, more is a 422
that creates nothing (a wait past ~29 s would answer API Gateway's 503 instead of the run)."""

from __future__ import annotations

import pydantic
import pytest

from shared.config import MAX_WAIT_S, Settings
from shared.services import Services
from tests.support.apigw import call, http_event


def post(key: str, wait: str) -> object:
    return call(http_event("POST", "/v1/runs", body={"prompt": "Count the links"}, key=key, query={"wait": wait}))


def test_a_wait_above_the_cap_is_refused_and_creates_nothing(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = post(key, str(MAX_WAIT_S + 1))
    assert r.status == 422 and r.json["error"]["code"] == "validation_failed"
    assert any("wait" in d["loc"] for d in r.json["error"]["details"])
    assert call(http_event("GET", "/v1/runs", key=key)).json["data"] == []


def test_a_wait_at_the_cap_waits_that_long_then_answers_202(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    start = svc.clock.monotonic()
    r = post(key, str(MAX_WAIT_S))
    assert r.status == 202 and r.json["status"] == "queued"
    assert svc.clock.monotonic() - start == pytest.approx(MAX_WAIT_S)  # the fake clock moved by the wait


def test_the_cap_is_below_api_gateways_30_s_and_cannot_be_configured_past_it() -> None:
    assert MAX_WAIT_S < 30
    assert Settings().max_wait_s == MAX_WAIT_S
    with pytest.raises(pydantic.ValidationError):
        Settings.model_validate({"OPENHELM_MAX_WAIT_S": "50"})
