"""Listing runs: newest first, cursor pagination, filters; rate limits; events; orchestration."""

from __future__ import annotations

import json

import pytest

from shared.clock import FakeClock
from shared.db.orgs import OrgRepository
from shared.services import Services
from tests.support.apigw import call, http_event


def make_runs(key: str, n: int, clock: FakeClock, **body) -> list[str]:
    ids = []
    for i in range(n):
        clock.advance(1)  # ids are time-ordered; a fake second apart keeps the order unambiguous
        r = call(http_event("POST", "/v1/runs", body={"prompt": f"Task number {i}", **body}, key=key))
        assert r.status == 202, r.text
        ids.append(r.json["task_id"])
    return ids


def test_pages_through_all_runs_newest_first(svc: Services, org_key: tuple[str, str], clock: FakeClock) -> None:
    _, key = org_key
    ids = make_runs(key, 7, clock)
    seen, cursor = [], None
    while True:
        q = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = call(http_event("GET", "/v1/runs", key=key, query=q)).json
        assert len(page["data"]) <= 3
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


def test_status_filter_with_pagination(svc: Services, org_key: tuple[str, str], clock: FakeClock) -> None:
    _, key = org_key
    ids = make_runs(key, 6, clock)
    for run_id in ids[::2]:
        assert call(http_event("POST", f"/v1/runs/{run_id}/cancel", key=key)).status == 202
    seen, cursor = [], None
    while True:
        q = {"limit": "2", "status": "cancelled", **({"cursor": cursor} if cursor else {})}
        page = call(http_event("GET", "/v1/runs", key=key, query=q)).json
        seen += [r["id"] for r in page["data"]]
        assert all(r["status"] == "cancelled" for r in page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids[::2]))


def test_project_filter_and_bad_cursor(svc: Services, org_key: tuple[str, str], clock: FakeClock) -> None:
    _, key = org_key
    prj = call(http_event("POST", "/v1/projects", body={"name": "P"}, key=key)).json["id"]
    make_runs(key, 2, clock)
    mine = make_runs(key, 2, clock, project_id=prj)
    data = call(http_event("GET", "/v1/runs", key=key, query={"project_id": prj})).json["data"]
    assert [r["id"] for r in data] == list(reversed(mine))
    r = call(http_event("GET", "/v1/runs", key=key, query={"cursor": "bm90IGEgY3Vyc29y"}))
    assert r.status == 400 and r.json["error"]["code"] == "invalid_cursor"
    r = call(http_event("GET", "/v1/runs", key=key, query={"status": "sleeping"}))
    assert r.status == 422


def test_another_orgs_cursor_is_refused(svc: Services, org_key: tuple[str, str], clock: FakeClock) -> None:
    from shared.orgs import bootstrap_org

    _, key = org_key
    _, other = bootstrap_org("globex", svc)
    make_runs(key, 3, clock)
    cursor = call(http_event("GET", "/v1/runs", key=key, query={"limit": "1"})).json["next_cursor"]
    r = call(http_event("GET", "/v1/runs", key=other, query={"cursor": cursor}))
    assert r.status == 400


def test_rate_limit_answers_429_with_retry_after(svc: Services, org_key: tuple[str, str], clock: FakeClock) -> None:
    org_id, key = org_key
    org = svc.orgs.get(org_id)
    limited = org.model_copy(update={"limits": org.limits.model_copy(update={"rate_per_minute": 6, "rate_burst": 2})})
    svc.table.put({"pk": f"org#{org_id}", "sk": "org", "type": "org", **limited.model_dump(mode="json")})
    assert isinstance(svc.orgs, OrgRepository)
    body = {"prompt": "Again and again"}
    assert [call(http_event("POST", "/v1/runs", body=body, key=key)).status for _ in range(2)] == [202, 202]
    r = call(http_event("POST", "/v1/runs", body=body, key=key))
    assert r.status == 429 and r.headers["retry-after"] == "10"
    clock.advance(10)  # 6/min refills one token in 10 s
    assert call(http_event("POST", "/v1/runs", body=body, key=key)).status == 202


def test_oversized_body_is_413(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    body = {"prompt": "x" * 10, "metadata": {"a": "b"}, "inputs": {"blob": "y" * (svc.settings.max_body_bytes + 1)}}
    r = call(http_event("POST", "/v1/runs", body=body, key=key))
    assert r.status == 413 and r.json["error"]["code"] == "payload_too_large"


def test_create_starts_an_execution_and_emits_run_queued(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, key = org_key
    queue = svc.aws.client("sqs").create_queue(QueueName="tap")["QueueUrl"]
    arn = svc.aws.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    svc.aws.events.put_rule(Name="tap", EventBusName="openhelm-test", EventPattern=json.dumps({"source": ["openhelm"]}))
    svc.aws.events.put_targets(Rule="tap", EventBusName="openhelm-test", Targets=[{"Id": "q", "Arn": arn}])

    run_id = call(
        http_event("POST", "/v1/runs", body={"prompt": "Secret is {{pw}}", "inputs": {"pw": "hunter2"}}, key=key)
    ).json["task_id"]

    execution = svc.aws.stepfunctions.describe_execution(executionArn=svc.orchestrator.execution_arn(run_id))
    assert json.loads(execution["input"]) == {"run_id": run_id, "org_id": org_id}
    msgs = svc.aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    events = [json.loads(m["Body"]) for m in msgs]
    assert [e["detail-type"] for e in events] == ["Run Queued"]
    assert events[0]["detail"]["run_id"] == run_id and events[0]["detail"]["org_id"] == org_id
    assert "hunter2" not in msgs[0]["Body"]


def test_orchestration_down_is_503_and_the_run_ends_failed(
    svc: Services, org_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = org_key
    svc.orchestrator.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:gone"
    r = call(http_event("POST", "/v1/runs", body={"prompt": "Try it"}, key=key))
    assert r.status == 503 and r.json["error"]["code"] == "orchestration_unavailable"
    runs = call(http_event("GET", "/v1/runs", key=key)).json["data"]
    assert [(x["status"], x["error"]["code"]) for x in runs] == [("failed", "ORCHESTRATION_UNAVAILABLE")]


def test_token_bucket_allows_the_burst_then_refills_at_the_rate(svc: Services) -> None:
    limiter, now = svc.rate_limiter, 1_800_000_000_000
    decisions = [limiter.take("org_X", per_minute=60, burst=5, now_ms=now) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert decisions[5].retry_after_s == 1
    assert limiter.take("org_X", per_minute=60, burst=5, now_ms=now + 999).allowed is False
    assert limiter.take("org_X", per_minute=60, burst=5, now_ms=now + 1000).allowed is True
    # idle for a long time: the bucket is full again, not over-full
    later = now + 3_600_000
    assert [limiter.take("org_X", per_minute=60, burst=5, now_ms=later).allowed for _ in range(6)] == [True] * 5 + [
        False
    ]
