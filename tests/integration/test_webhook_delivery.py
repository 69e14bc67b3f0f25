"""Webhook delivery end to end: moto (DynamoDB, SQS) and real HTTP receivers on 127.0.0.1.

Signatures are verified with the reference library (standardwebhooks). Retries are driven through a
real moto queue whose own visibility timeout is 0: a message the code postponed (ChangeMessageVisibility)
is not receivable, one it did not postpone is. "Time passing" is the test setting the visibility
back to 0, so nothing sleeps.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from shared.api import deps
from shared.clock import FakeClock
from shared.models.common import RunStatus
from shared.orgs import bootstrap_org
from shared.runs.lifecycle import finish_run
from shared.services import Services
from shared.webhooks import queue, secrets, ssrf
from shared.webhooks.delivery import deliver_event, webhook_id
from tests.support.apigw import call, http_event
from tests.support.aws import make_services
from tests.support.webhook_receiver import Answer, Receiver, closed_port, self_signed


@pytest.fixture
def wsvc(moto_aws: None) -> Iterator[Services]:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="webhooks-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName="webhooks",
        Attributes={
            "VisibilityTimeout": "0",
            # attempts = len(schedule) + 1 = 3
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    services = make_services(
        # Near real time: receivers verify webhook-timestamp against their own clock (±5 min).
        clock=FakeClock(datetime.now(UTC)),
        OPENHELM_WEBHOOK_ALLOW_LOOPBACK="true",
        OPENHELM_WEBHOOK_QUEUE_URL=url,
        OPENHELM_WEBHOOK_RETRY_SCHEDULE_S="5,30",
        OPENHELM_WEBHOOK_READ_TIMEOUT_S="0.5",
        OPENHELM_RUN_TOKEN_SECRET="x" * 40,  # the key viewer links are signed with
    )
    deps.override(services)
    yield services
    deps.override(None)


@pytest.fixture
def org(wsvc: Services) -> tuple[str, str]:
    return bootstrap_org("acme", wsvc)


def finished_run(svc: Services, org: tuple[str, str], webhook_url: str | None = None, **kw: Any) -> str:
    org_id, key = org
    body: dict[str, Any] = {"prompt": "Find the price"}
    if webhook_url:
        body["webhook_url"] = webhook_url
    r = call(http_event("POST", "/v1/runs", body=body, key=key))
    assert r.status == 202, r.text
    status = kw.get("status", RunStatus.succeeded)
    assert finish_run(svc, org_id, r.json["task_id"], status, {"result": {"price": 12}})
    return str(r.json["task_id"])


def receive(svc: Services) -> dict[str, Any] | None:
    """The next message as Lambda's SQS event source hands it over, or None."""
    q = svc.settings.webhook_queue_url
    out = svc.aws.sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=1, AttributeNames=["All"])
    if not out.get("Messages"):
        return None
    m = out["Messages"][0]
    return {
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m["Attributes"],
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:webhooks",
    }


def time_passes(svc: Services, record: dict[str, Any]) -> None:
    """The postponement is over: make the message visible again now."""
    svc.aws.sqs.change_message_visibility(
        QueueUrl=svc.settings.webhook_queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
    )


def process(svc: Services, **kw: Any) -> tuple[bool, dict[str, Any]]:
    """Receive and process one message; like Lambda, delete it when it is done with."""
    record = receive(svc)
    assert record is not None, "no message to process"
    done = queue.process_sqs_record(svc, record, rng=random.Random(0), **kw)
    if done:
        svc.aws.sqs.delete_message(QueueUrl=svc.settings.webhook_queue_url, ReceiptHandle=record["receiptHandle"])
    return done, record


def deliveries(key: str, run_id: str) -> list[dict[str, Any]]:
    r = call(http_event("GET", f"/v1/runs/{run_id}/deliveries", key=key))
    assert r.status == 200, r.text
    return list(r.json["data"])


def test_success_sends_one_signed_standard_webhook(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    secret = call(http_event("GET", "/v1/webhooks/secret", key=key)).json["secret"]
    with Receiver() as rx:
        run_id = finished_run(wsvc, org, rx.url)
        queue.enqueue(wsvc, org_id, run_id, "run.succeeded")
        done, _ = process(wsvc)
        assert done
    assert len(rx.received) == 1
    got = rx.received[0]
    payload = Webhook(secret).verify(got.body, got.headers)
    run = call(http_event("GET", f"/v1/runs/{run_id}", key=key)).json
    assert payload["type"] == "run.succeeded" and payload["timestamp"] == run["finished_at"]
    assert payload["data"]["id"] == run_id and payload["data"]["status"] == "succeeded"
    assert payload["data"]["result"] == {"price": 12}
    assert got.headers["webhook-id"] == webhook_id(run_id, "run.succeeded") == f"msg_{run_id}_run_succeeded"
    assert got.headers["user-agent"] == "OpenHelm-Webhooks/1"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["host"] == rx.url.split("/")[2] and got.path == "/hook"

    (entry,) = deliveries(key, run_id)
    assert entry["outcome"] == "delivered" and entry["status_code"] == 200 and entry["attempt"] == 1
    assert entry["target"] == "run" and entry["url"] == rx.url and entry["error"] is None
    assert entry["webhook_id"] == got.headers["webhook-id"] and entry["response_excerpt"] == "ok"
    assert isinstance(entry["duration_ms"], int) and entry["redelivery"] is False


def test_a_failed_target_alone_is_retried_with_the_same_webhook_id(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    secret = secrets.get_secret(wsvc, org_id).secret
    with Receiver() as ok_rx, Receiver(Answer(500, b"boom"), Answer(200)) as flaky:
        r = call(http_event("POST", "/v1/webhooks", body={"url": flaky.url}, key=key))
        assert r.status == 201, r.text
        endpoint_id = r.json["id"]
        run_id = finished_run(wsvc, org, ok_rx.url)
        queue.enqueue(wsvc, org_id, run_id, "run.succeeded")

        done, record = process(wsvc)
        assert not done
        assert receive(wsvc) is None  # postponed by the code: not receivable although the queue's timeout is 0
        time_passes(wsvc, record)
        done, record = process(wsvc)
        assert done and record["attributes"]["ApproximateReceiveCount"] == "2"

    assert len(ok_rx.received) == 1 and len(flaky.received) == 2
    ids = {x.headers["webhook-id"] for x in ok_rx.received + flaky.received}
    assert ids == {f"msg_{run_id}_run_succeeded"}
    for x in ok_rx.received + flaky.received:
        Webhook(secret).verify(x.body, x.headers)
    assert json.loads(flaky.received[0].body) == json.loads(flaky.received[1].body)

    log = deliveries(key, run_id)
    rows = [(e["target"], e["attempt"], e["outcome"], e["status_code"]) for e in log]
    assert rows[0] == (endpoint_id, 2, "delivered", 200)  # newest first
    assert sorted(rows[1:]) == sorted([(endpoint_id, 1, "failed", 500), ("run", 1, "delivered", 200)])
    failed = next(e for e in log if e["outcome"] == "failed")
    assert failed["error"] == "HTTP 500" and failed["response_excerpt"] == "boom" and failed["url"] == flaky.url
    state = wsvc.webhooks.get_delivery(org_id, run_id, "run.succeeded")
    assert state is not None and state["final"] == "delivered"


def test_receiver_down_until_attempts_are_exhausted_then_dead_letter(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    with closed_port() as url:
        run_id = finished_run(wsvc, org, url)
        queue.enqueue(wsvc, org_id, run_id, "run.failed")
        for attempt in (1, 2, 3):
            done, record = process(wsvc)
            assert not done and record["attributes"]["ApproximateReceiveCount"] == str(attempt)
            if attempt < 3:
                assert receive(wsvc) is None
                time_passes(wsvc, record)
    # The last attempt does not postpone: SQS's redrive policy (maxReceiveCount 3) takes the message.
    assert receive(wsvc) is None
    dlq = wsvc.aws.sqs.get_queue_url(QueueName="webhooks-dlq")["QueueUrl"]
    dead = wsvc.aws.sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert json.loads(dead[0]["Body"]) == {
        "org_id": org_id,
        "run_id": run_id,
        "event_type": "run.failed",
        "redelivery": False,
    }

    log = deliveries(key, run_id)
    failed = [e for e in log if e["outcome"] == "failed"]
    assert sorted(e["attempt"] for e in failed) == [1, 2, 3]
    assert all(e["status_code"] is None and "connection refused" in e["error"] for e in failed)
    (exhausted,) = [e for e in log if e["outcome"] == "exhausted"]
    assert exhausted["attempt"] == 3 and exhausted["target"] == "run" and "gave up after 3" in exhausted["error"]
    assert wsvc.webhooks.get_delivery(org_id, run_id, "run.failed")["final"] == "exhausted"  # type: ignore[index]


def test_a_record_past_its_attempts_is_not_delivered_again(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, _ = org
    with Receiver() as rx:
        run_id = finished_run(wsvc, org, rx.url)
        body = json.dumps({"org_id": org_id, "run_id": run_id, "event_type": "run.succeeded"})
        record = {"messageId": "m1", "receiptHandle": "r", "body": body, "attributes": {"ApproximateReceiveCount": "4"}}
        assert queue.process_sqs_record(wsvc, record) is False
    assert rx.received == []


def test_slow_receiver_hits_the_read_timeout(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    with Receiver(Answer(hold=threading.Event())) as rx:
        run_id = finished_run(wsvc, org, rx.url)
        outcome = deliver_event(wsvc, org_id, run_id, "run.succeeded", {"id": run_id})
    assert not outcome.delivered and outcome.failed == ["run"]
    (entry,) = deliveries(key, run_id)
    assert entry["outcome"] == "failed" and entry["status_code"] is None
    assert entry["error"] == "read timeout after 0.5 s"


def test_redirects_are_not_followed(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    with Receiver(Answer(302, b"", {"Location": "/elsewhere"}), Answer(200)) as rx:
        run_id = finished_run(wsvc, org, rx.url)
        outcome = deliver_event(wsvc, org_id, run_id, "run.succeeded", {"id": run_id})
    assert not outcome.delivered
    assert [x.path for x in rx.received] == ["/hook"]
    (entry,) = deliveries(key, run_id)
    assert entry["status_code"] == 302 and "redirect not followed" in entry["error"] and "/elsewhere" in entry["error"]


def test_response_excerpt_is_at_most_256_bytes(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    with Receiver(Answer(503, b"x" * 5000)) as rx:
        run_id = finished_run(wsvc, org, rx.url)
        deliver_event(wsvc, org_id, run_id, "run.succeeded", {"id": run_id})
    (entry,) = deliveries(key, run_id)
    assert entry["response_excerpt"] == "x" * 256 and entry["error"] == "HTTP 503"


def test_during_rotation_deliveries_verify_with_either_secret(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    old = call(http_event("GET", "/v1/webhooks/secret", key=key)).json["secret"]
    rotated = call(http_event("POST", "/v1/webhooks/secret/rotate", key=key)).json
    new = rotated["secret"]
    assert new != old and rotated["previous_expires_at"] is not None
    with Receiver() as rx:
        run_id = finished_run(wsvc, org, rx.url)
        assert deliver_event(wsvc, org_id, run_id, "run.succeeded", {"id": run_id}).delivered
    got = rx.received[0]
    first, second = got.headers["webhook-signature"].split(" ")
    assert Webhook(new).verify(got.body, {**got.headers, "webhook-signature": first})
    assert Webhook(old).verify(got.body, {**got.headers, "webhook-signature": second})
    assert Webhook(old).verify(got.body, got.headers) and Webhook(new).verify(got.body, got.headers)


def test_previous_secret_stops_signing_after_the_overlap(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, _ = org
    old = secrets.get_secret(wsvc, org_id).secret
    new = secrets.rotate_secret(wsvc, org_id).secret
    assert secrets.signing_secrets(wsvc, org_id) == [new, old]
    wsvc.clock.advance(24 * 3600 + 1)  # type: ignore[attr-defined]
    assert secrets.signing_secrets(wsvc, org_id) == [new]
    assert secrets.get_secret(wsvc, org_id).previous_expires_at is None


def test_endpoints_receive_only_their_event_types(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    with Receiver() as failed_only, Receiver() as everything:
        for url, types in ((failed_only.url, ["run.failed"]), (everything.url, None)):
            body = {"url": url, **({"event_types": types} if types else {})}
            assert call(http_event("POST", "/v1/webhooks", body=body, key=key)).status == 201
        run_id = finished_run(wsvc, org)  # no webhook_url of its own
        assert deliver_event(wsvc, org_id, run_id, "run.succeeded", {"id": run_id}).delivered
    assert len(failed_only.received) == 0 and len(everything.received) == 1


def test_a_run_without_targets_is_done_at_once(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    run_id = finished_run(wsvc, org)
    queue.enqueue(wsvc, org_id, run_id, "run.succeeded")
    done, _ = process(wsvc)
    assert done and deliveries(key, run_id) == []


def test_an_address_that_turned_private_is_refused_at_delivery(
    wsvc: Services, org: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id, key = org
    answers = {"hooks.example.com": ["93.184.215.14"]}
    monkeypatch.setattr(ssrf, "system_resolver", lambda host, port: answers.get(host, []))
    r = call(http_event("POST", "/v1/webhooks", body={"url": "https://hooks.example.com/in"}, key=key))
    assert r.status == 201, r.text
    answers["hooks.example.com"] = ["169.254.169.254"]  # DNS now points at the metadata service
    run_id = finished_run(wsvc, org)
    assert not deliver_event(wsvc, org_id, run_id, "run.succeeded", {"id": run_id}).delivered
    (entry,) = deliveries(key, run_id)
    assert entry["status_code"] is None and "169.254.169.254" in entry["error"] and "metadata" in entry["error"]


def test_https_connects_to_the_checked_address_and_verifies_the_host_name(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    server_tls, client_tls = self_signed("hooks.test")
    names = {"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    with Receiver(tls=server_tls, host="hooks.test") as rx:
        run_id = finished_run(wsvc, org, rx.url)
        outcome = deliver_event(
            wsvc,
            org_id,
            run_id,
            "run.succeeded",
            {"id": run_id},
            resolver=lambda host, port: names.get(host, []),
            tls_context=client_tls,
        )
        assert outcome.delivered
        assert rx.received[0].headers["host"] == rx.url.split("/")[2]

        wrong = rx.url.replace("hooks.test", "other.test")
        other_run = finished_run(wsvc, org, wrong)
        outcome = deliver_event(
            wsvc,
            org_id,
            other_run,
            "run.succeeded",
            {"id": other_run},
            resolver=lambda host, port: names.get(host, []),
            tls_context=client_tls,
        )
    assert not outcome.delivered
    (entry,) = deliveries(key, other_run)
    assert entry["error"].startswith("TLS certificate verification failed")


def test_redeliver_sends_again_with_the_same_webhook_id(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, key = org
    with Receiver() as rx:
        run_id = finished_run(wsvc, org, rx.url)
        queue.enqueue(wsvc, org_id, run_id, "run.succeeded")
        assert process(wsvc)[0]
        r = call(http_event("POST", f"/v1/runs/{run_id}/deliveries/redeliver", key=key))
        assert r.status == 202, r.text
        assert r.json["webhook_id"] == f"msg_{run_id}_run_succeeded" and r.json["event_type"] == "run.succeeded"
        done, record = process(wsvc)
        assert done and json.loads(record["body"])["redelivery"] is True
    assert [x.headers["webhook-id"] for x in rx.received] == [f"msg_{run_id}_run_succeeded"] * 2
    log = deliveries(key, run_id)
    assert sorted(e["redelivery"] for e in log) == [False, True]
    assert all(e["attempt"] == 1 and e["outcome"] == "delivered" for e in log)


def test_redeliver_refuses_unfinished_and_unknown_runs(wsvc: Services, org: tuple[str, str]) -> None:
    _, key = org
    queued = call(http_event("POST", "/v1/runs", body={"prompt": "Find the price"}, key=key)).json["task_id"]
    r = call(http_event("POST", f"/v1/runs/{queued}/deliveries/redeliver", key=key))
    assert r.status == 409 and r.json["error"]["code"] == "run_not_finished"
    r = call(http_event("POST", "/v1/runs/run_01JD0000000000000000000000/deliveries/redeliver", key=key))
    assert r.status == 404
    _, other_key = bootstrap_org("globex", wsvc)
    finished = finished_run(wsvc, org)
    assert call(http_event("POST", f"/v1/runs/{finished}/deliveries/redeliver", key=other_key)).status == 404
    assert call(http_event("GET", f"/v1/runs/{finished}/deliveries", key=other_key)).status == 404
    assert call(http_event("GET", "/v1/runs/nope/deliveries", key=key)).status == 404


def test_lambda_handler_reports_only_failed_records(
    wsvc: Services, org: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.webhooks import webhooks_handler

    monkeypatch.setattr(webhooks_handler, "get_services", lambda: wsvc)
    org_id, _ = org
    with Receiver() as rx, closed_port() as down:
        good = finished_run(wsvc, org, rx.url)
        bad = finished_run(wsvc, org, down)
        queue.enqueue(wsvc, org_id, good, "run.succeeded")
        queue.enqueue(wsvc, org_id, bad, "run.succeeded")
        out = wsvc.aws.sqs.receive_message(
            QueueUrl=wsvc.settings.webhook_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        records = [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": {}}
            for m in out["Messages"]
        ]
        assert len(records) == 2
        junk = {"messageId": "junk", "receiptHandle": "x", "body": "not json", "attributes": {}}
        out = webhooks_handler.lambda_handler({"Records": [*records, junk]}, None)
    by_run = {json.loads(r["body"])["run_id"]: r["messageId"] for r in records}  # type: ignore[index]
    assert out == {"batchItemFailures": [{"itemIdentifier": by_run[bad]}, {"itemIdentifier": "junk"}]}


def test_an_evidence_ready_detail_is_delivered_as_its_run_event(wsvc: Services, org: tuple[str, str]) -> None:
    """The EventBridge rule puts the Evidence Ready detail on the queue as-is."""
    org_id, key = org
    secret = secrets.get_secret(wsvc, org_id).secret
    with Receiver() as rx:
        run_id = finished_run(wsvc, org, rx.url, status=RunStatus.cancelled)
        detail = {
            "run_id": run_id,
            "org_id": org_id,
            "status": "cancelled",
            "evidence_status": "unavailable",
            "files": 0,
            "error": None,
        }
        wsvc.aws.sqs.send_message(QueueUrl=wsvc.settings.webhook_queue_url, MessageBody=json.dumps(detail))
        assert process(wsvc)[0]
    payload = Webhook(secret).verify(rx.received[0].body, rx.received[0].headers)
    assert payload["type"] == "run.cancelled" and payload["data"]["status"] == "cancelled"
    assert rx.received[0].headers["webhook-id"] == f"msg_{run_id}_run_cancelled"
    assert [e["event_type"] for e in deliveries(key, run_id)] == ["run.cancelled"]


def test_a_message_without_an_event_is_left_for_the_dead_letter_queue(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, _ = org
    body = json.dumps({"run_id": "run_x", "org_id": org_id, "status": "running"})
    record = {"messageId": "m", "receiptHandle": "r", "body": body, "attributes": {"ApproximateReceiveCount": "1"}}
    assert queue.process_sqs_record(wsvc, record) is False


def test_a_batch_of_slow_receivers_fits_the_function_timeout(wsvc: Services, org: tuple[str, str]) -> None:
    """Six records whose receiver never answers (each waits out the 0.5 s read timeout) run as the
    deployed function runs, under a Timeout (2 s here, 120 s in template.yaml) shorter than the six in
    a row: every record is attempted and reported, none is lost to a timed-out batch."""
    from pathlib import Path

    from devstack.runtime import LocalFunction

    org_id, _ = org
    hold = threading.Event()
    fn = LocalFunction(
        logical_id="WebhooksBatchTest",
        name="webhooks",
        arn="arn:aws:lambda:us-east-1:123456789012:function:webhooks",
        handler="webhooks_handler.lambda_handler",
        code_uri=Path(__file__).resolve().parents[2] / "functions" / "webhooks",
        timeout_s=2.0,
    )
    fn.module.get_services = lambda: wsvc  # type: ignore[attr-defined]
    try:
        with Receiver(Answer(hold=hold)) as rx:
            run_ids = [finished_run(wsvc, org, rx.url) for _ in range(6)]
            for run_id in run_ids:
                queue.enqueue(wsvc, org_id, run_id, "run.succeeded")
            out = wsvc.aws.sqs.receive_message(
                QueueUrl=wsvc.settings.webhook_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
            )
            records = [
                {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": {}}
                for m in out["Messages"]
            ]
            assert len({json.loads(r["body"])["run_id"] for r in records}) == 6
            payload, errored = fn.invoke({"Records": records})
            hold.set()
    finally:
        fn.unload()
    assert not errored, payload
    assert sorted(f["itemIdentifier"] for f in json.loads(payload)["batchItemFailures"]) == sorted(
        r["messageId"] for r in records
    )
    assert len(rx.received) == 6, "every record's receiver was tried, once"


def test_each_input_request_of_a_run_is_its_own_webhook(wsvc: Services, org: tuple[str, str]) -> None:
    """A run may ask several times (and call a tool several times): each occurrence is delivered,
    with its own webhook-id; the same occurrence again is not delivered twice."""
    org_id, key = org
    with Receiver() as rx:
        run_id = finished_run(wsvc, org, rx.url)
        for occurrence in ("inp_FIRST", "inp_SECOND", "inp_FIRST"):
            queue.enqueue(wsvc, org_id, run_id, "run.needs_input", occurrence=occurrence)
            done, _ = process(wsvc)
            assert done
    ids = [got.headers["webhook-id"] for got in rx.received]
    assert ids == [f"msg_{run_id}_run_needs_input_inp_FIRST", f"msg_{run_id}_run_needs_input_inp_SECOND"]
    assert {entry["webhook_id"] for entry in deliveries(key, run_id)} == set(ids)


def test_the_payload_s_viewer_url_opens_the_run_s_page_without_a_key(wsvc: Services, org: tuple[str, str]) -> None:
    org_id, _ = org
    with Receiver() as rx:
        run_id = finished_run(wsvc, org, rx.url)
        queue.enqueue(wsvc, org_id, run_id, "run.succeeded")
        assert process(wsvc)[0]
    link = json.loads(rx.received[0].body)["data"]["viewer_url"]
    base, query = link.split("?", 1)
    assert base.endswith(f"/v1/runs/{run_id}/view") and base.startswith("https://")  # the API the run came through
    page = call(http_event("GET", f"/v1/runs/{run_id}/view", query=dict([query.split("=", 1)])))
    assert page.status == 200 and "Find the price" in page.text
