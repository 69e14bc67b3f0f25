"""session.started / session.closed as webhooks: the Session Started / Closed detail the EventBridge
rule puts on the webhook queue is delivered, signed, to the org's endpoints that name the event,
with the session envelope as its data (moto, a real receiver on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from shared.api import deps
from shared.clock import FakeClock
from shared.orgs import bootstrap_org
from shared.services import Services
from shared.sessions.lifecycle import session_summary
from shared.webhooks import secrets
from tests.integration.test_webhook_delivery import process
from tests.support.apigw import call, http_event
from tests.support.aws import make_services
from tests.support.sessions import RecordingProvider, create, ready
from tests.support.webhook_receiver import Receiver


@pytest.fixture
def wsvc(moto_aws: None) -> Iterator[Services]:
    import boto3

    url = boto3.client("sqs", region_name="us-east-1").create_queue(
        QueueName="webhooks", Attributes={"VisibilityTimeout": "0"}
    )["QueueUrl"]
    services = make_services(
        clock=FakeClock(datetime.now(UTC)),  # receivers check webhook-timestamp against their clock
        OPENHELM_WEBHOOK_ALLOW_LOOPBACK="true",
        OPENHELM_WEBHOOK_QUEUE_URL=url,
        OPENHELM_RUN_TOKEN_SECRET="x" * 40,
    )
    deps.override(services)
    yield services
    deps.override(None)


@pytest.fixture
def org(wsvc: Services) -> tuple[str, str]:
    return bootstrap_org("acme", wsvc)


def _as_the_rule_delivers(svc: Services, org_id: str, session_id: str) -> None:
    """The event's detail, as the rule's InputPath ($.detail) puts it on the queue."""
    item = svc.sessions.get(org_id, session_id, consistent=True)
    assert item is not None
    detail: dict[str, Any] = session_summary(item)
    svc.aws.sqs.send_message(QueueUrl=svc.settings.webhook_queue_url, MessageBody=json.dumps(detail, default=str))


def test_session_started_and_closed_reach_the_endpoints_that_name_them(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    provider = RecordingProvider()
    wsvc.sandbox_provider = provider
    secret = secrets.get_secret(wsvc, org_id).secret
    with Receiver() as sessions_rx, Receiver() as runs_rx:
        for url, types in ((sessions_rx.url, ["session.started", "session.closed"]), (runs_rx.url, None)):
            body = {"url": url, **({"event_types": types} if types else {})}
            assert call(http_event("POST", "/v1/webhooks", body=body, key=key)).status == 201
        created = create(key)
        assert created.status == 201, created.text
        sid = created.json["id"]
        assert ready(wsvc, provider, sid).status == 204
        _as_the_rule_delivers(wsvc, org_id, sid)
        assert process(wsvc)[0]
        assert call(http_event("DELETE", f"/v1/sessions/{sid}", key=key)).status == 200
        _as_the_rule_delivers(wsvc, org_id, sid)
        assert process(wsvc)[0]

    started, closed = (Webhook(secret).verify(m.body, m.headers) for m in sessions_rx.received)
    assert started["type"] == "session.started" and started["data"]["id"] == sid
    assert started["data"]["status"] == "ready"
    assert closed["type"] == "session.closed" and closed["data"]["status"] == "closed"
    assert closed["data"]["close_reason"] == "terminated"
    ids = [m.headers["webhook-id"] for m in sessions_rx.received]
    assert ids == [f"msg_{sid}_session_started", f"msg_{sid}_session_closed"]
    assert runs_rx.received == []  # an endpoint that names no event gets the run events only


def test_a_session_event_for_no_such_session_is_dropped(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, _ = org
    detail = {"session_id": "ses_01M8TZTE9GKXWB4WBVPV369F5B", "org_id": org_id, "status": "closed"}
    wsvc.aws.sqs.send_message(QueueUrl=wsvc.settings.webhook_queue_url, MessageBody=json.dumps(detail))
    assert process(wsvc)[0]


def test_a_sessions_deliveries_are_listed_and_redelivered_like_a_runs(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    provider = RecordingProvider()
    wsvc.sandbox_provider = provider
    with Receiver() as rx:
        body = {"url": rx.url, "event_types": ["session.started", "session.closed"]}
        assert call(http_event("POST", "/v1/webhooks", body=body, key=key)).status == 201
        sid = create(key).json["id"]
        # Not ready yet: nothing to redeliver.
        early = call(http_event("POST", f"/v1/sessions/{sid}/deliveries/redeliver", key=key))
        assert early.status == 409 and "starting" in early.json["error"]["message"]
        ready(wsvc, provider, sid)
        _as_the_rule_delivers(wsvc, org_id, sid)
        assert process(wsvc)[0]
        listed = call(http_event("GET", f"/v1/sessions/{sid}/deliveries", key=key))
        assert listed.status == 200, listed.text
        (started,) = listed.json["data"]
        assert started["event_type"] == "session.started" and started["outcome"] == "delivered"
        assert started["run_id"] == sid and not started["redelivery"]

        # A live session's latest event is its start; once closed, its close.
        again = call(http_event("POST", f"/v1/sessions/{sid}/deliveries/redeliver", key=key))
        assert again.status == 202 and again.json["event_type"] == "session.started"
        assert again.json["webhook_id"] == f"msg_{sid}_session_started"
        assert process(wsvc)[0]
        call(http_event("DELETE", f"/v1/sessions/{sid}", key=key))
        _as_the_rule_delivers(wsvc, org_id, sid)
        assert process(wsvc)[0]
        closed = call(http_event("POST", f"/v1/sessions/{sid}/deliveries/redeliver", key=key))
        assert closed.status == 202 and closed.json["event_type"] == "session.closed"
        assert process(wsvc)[0]

    ids = [m.headers["webhook-id"] for m in rx.received]
    assert ids == [f"msg_{sid}_session_started"] * 2 + [f"msg_{sid}_session_closed"] * 2
    attempts = call(http_event("GET", f"/v1/sessions/{sid}/deliveries", key=key)).json["data"]
    assert [(a["event_type"], a["redelivery"]) for a in attempts] == [
        ("session.closed", True),
        ("session.closed", False),
        ("session.started", True),
        ("session.started", False),
    ]
    # Another org's key, or no such session: 404.
    _, other = bootstrap_org("other", wsvc)
    assert call(http_event("GET", f"/v1/sessions/{sid}/deliveries", key=other)).status == 404
    assert call(http_event("POST", f"/v1/sessions/{sid}/deliveries/redeliver", key=other)).status == 404
    assert call(http_event("GET", "/v1/sessions/ses_nope/deliveries", key=key)).status == 404
