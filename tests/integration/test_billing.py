"""Usage and billing against moto: one charge per run, the floor under concurrency, the admission
check at submission, GET /v1/balance and /v1/usage, and the billing Lambda."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from shared import billing
from shared.clock import FakeClock
from shared.db import keys
from shared.errors import EventPublishFailed, Unprocessable
from shared.models.common import RunStatus
from shared.models.runs import CreateRunRequest
from shared.orgs import bootstrap_org
from shared.runs import service as runs
from shared.services import Services
from tests.support.apigw import call, http_event, load_event
from tests.support.dynamo_lock import serialized_dynamodb

START = 100_000_000  # the default starting balance of bootstrap_org: 100 USD
COST = 5_000 + 400 + 320 + 1_500  # fee + 1000 input + 200 output tokens + 30 s, at the default prices
SMALL = {"max_input_tokens": 1000, "max_output_tokens": 100, "max_duration_s": 10}
SMALL_MAX = 5_000 + 400 + 160 + 500


@pytest.fixture
def serialized() -> Iterator[None]:
    with serialized_dynamodb():
        yield


def finished_run(
    svc: Services,
    org_id: str,
    *,
    seconds: float | None = 30.0,
    tokens: tuple[int, int] = (1000, 200),
    status: RunStatus = RunStatus.succeeded,
    **req: Any,
) -> str:
    """A run through create_run, with the LLM gateway's counters, finished like finalize does."""
    org = svc.orgs.get(org_id)
    run_id = runs.create_run(svc, org, CreateRunRequest(prompt="Count the links", **req)).run.id
    if tokens != (0, 0):
        svc.runs.add_usage(org_id, run_id, *tokens)
    fields: dict[str, Any] = {}
    if seconds is not None:
        fields["started_at"] = (svc.clock.now() - timedelta(seconds=seconds)).isoformat()
        fields["usage"] = {"input_tokens": tokens[0], "output_tokens": tokens[1], "sandbox_seconds": seconds}
    assert runs.finish_run(svc, org_id, run_id, status, fields) is not None
    return run_id


def balance(svc: Services, org_id: str) -> int:
    return billing.get_balance(svc, org_id).balance_micros


def usage_items(svc: Services, org_id: str) -> list[dict[str, Any]]:
    items, _ = svc.table.query_page(
        key_condition="pk = :pk AND begins_with(sk, :p)",
        values={":pk": keys.org_pk(org_id), ":p": keys.USAGE_PREFIX},
        limit=1000,
    )
    return items


# -- one charge per run ---------------------------------------------------------------------------


def test_a_finished_run_is_charged_once_however_often_it_is_recorded(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, _ = org_key
    run_id = finished_run(svc, org_id)
    first = billing.record_usage(svc, org_id, run_id)
    assert first is not None
    assert (first.input_tokens, first.output_tokens, first.llm_calls, first.sandbox_seconds) == (1000, 200, 1, 30.0)
    assert (first.cost_micros, first.charged_micros, first.unpaid_micros) == (COST, COST, 0)
    assert first.cost_usd == "0.00722"
    assert billing.record_usage(svc, org_id, run_id) is None  # a retried invocation
    assert balance(svc, org_id) == START - COST
    assert len(usage_items(svc, org_id)) == 1


def test_eight_threads_recording_one_run_charge_it_once(
    svc: Services, org_key: tuple[str, str], serialized: None
) -> None:
    org_id, _ = org_key
    run_id = finished_run(svc, org_id)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: billing.record_usage(svc, org_id, run_id), range(8)))
    assert sum(r is not None for r in results) == 1
    assert balance(svc, org_id) == START - COST
    assert [i["run_id"] for i in usage_items(svc, org_id)] == [run_id]


def test_concurrent_charges_near_the_floor_never_take_the_balance_below_it(
    svc: Services, org_key: tuple[str, str], serialized: None
) -> None:
    org_id, _ = org_key
    run_ids = [finished_run(svc, org_id) for _ in range(8)]
    floor = START - 18_000  # room for two whole runs and part of a third
    billing.set_floor(svc, org_id, floor)
    with ThreadPoolExecutor(8) as pool:  # every run twice: retries race with first attempts
        results = list(pool.map(lambda r: billing.record_usage(svc, org_id, r), run_ids * 2))
    records = [r for r in results if r is not None]
    assert sorted(r.run_id for r in records) == sorted(run_ids)
    after = billing.get_balance(svc, org_id)
    assert after.balance_micros == floor and after.available_micros == 0
    assert sum(r.charged_micros for r in records) == 18_000
    assert sum(r.charged_micros + r.unpaid_micros for r in records) == 8 * COST
    assert after.unpaid_micros == sum(r.unpaid_micros for r in records) == 8 * COST - 18_000
    assert all(0 <= r.charged_micros <= r.cost_micros for r in records)


def test_an_org_with_no_balance_gets_its_usage_recorded_as_unpaid(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, _ = org_key
    run_id = finished_run(svc, org_id)
    poor, _ = bootstrap_org("poor", svc, start_balance_micros=0)
    svc.table.put({**svc.runs.table.get(keys.org_pk(org_id), keys.run_sk(run_id)), "pk": keys.org_pk(poor)})
    record = billing.record_usage(svc, poor, run_id)
    assert record is not None and (record.charged_micros, record.unpaid_micros) == (0, COST)
    assert billing.get_balance(svc, poor).balance_micros == 0


def test_usage_comes_from_the_run_record(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, _ = org_key
    # cancelled by request while running: no usage map, so the time comes from started/finished
    run_id = finished_run(svc, org_id, seconds=None, tokens=(2000, 0), status=RunStatus.cancelled)
    svc.runs.table.update(
        keys.org_pk(org_id),
        keys.run_sk(run_id),
        update="SET started_at = :s",
        values={":s": (svc.clock.now() - timedelta(seconds=12.5)).isoformat()},
    )
    record = billing.record_usage(svc, org_id, run_id)
    assert record is not None and record.sandbox_seconds == 12.5 and record.status == "cancelled"
    assert record.breakdown.sandbox_micros == 625 and record.breakdown.input_micros == 800
    # never started (cancelled while queued): no fee, no time
    queued = finished_run(svc, org_id, seconds=None, tokens=(0, 0), status=RunStatus.cancelled)
    none = billing.record_usage(svc, org_id, queued)
    assert none is not None and none.cost_micros == 0 and none.cost_usd == "0.00"


def test_unfinished_and_missing_runs_are_refused(svc: Services, org_key: tuple[str, str]) -> None:
    from shared.errors import Conflict, NotFound

    org_id, _ = org_key
    run_id = runs.create_run(svc, svc.orgs.get(org_id), CreateRunRequest(prompt="Count the links")).run.id
    with pytest.raises(Conflict):
        billing.record_usage(svc, org_id, run_id)
    with pytest.raises(NotFound):
        billing.record_usage(svc, org_id, "run_01JD8X2Q9V4K7M3N5P6R8S0T1W")
    assert usage_items(svc, org_id) == []


def test_usage_recorded_is_published_and_a_bus_failure_is_not_fatal(
    svc: Services, org_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id, _ = org_key
    published: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(svc.events, "publish", lambda t, d, resources=None: published.append((t, d)))
    run_id = finished_run(svc, org_id)
    billing.record_usage(svc, org_id, run_id)
    usage = [d for t, d in published if t == "Usage Recorded"]
    assert len(usage) == 1
    assert usage[0]["run_id"] == run_id and usage[0]["org_id"] == org_id
    assert (usage[0]["input_tokens"], usage[0]["output_tokens"], usage[0]["cost_micros"]) == (1000, 200, COST)

    def down(*_a: Any, **_k: Any) -> None:
        raise EventPublishFailed("bus down")

    monkeypatch.setattr(svc.events, "publish", down)
    other = finished_run(svc, org_id)
    assert billing.record_usage(svc, org_id, other) is not None
    assert balance(svc, org_id) == START - 2 * COST


def test_credit_adds_to_the_balance_with_a_ledger_line(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, _ = org_key
    assert billing.credit(svc, org_id, 2_500_000, "top-up").balance_micros == START + 2_500_000
    with pytest.raises(Unprocessable):
        billing.credit(svc, org_id, 0, "nothing")
    with pytest.raises(Unprocessable):
        billing.credit(svc, org_id, 1, "")
    lines, _ = svc.table.query_page(
        key_condition="pk = :pk AND begins_with(sk, :p)",
        values={":pk": keys.org_pk(org_id), ":p": keys.LEDGER_PREFIX},
        limit=10,
        newest_first=False,
    )
    assert [(c["amount_micros"], c["balance_after_micros"], c["reason"]) for c in lines] == [
        (START, START, "starting balance"),
        (2_500_000, START + 2_500_000, "top-up"),
    ]


# -- admission at submission ------------------------------------------------------------------------


def test_a_run_the_balance_cannot_cover_is_402_and_nothing_is_written(svc: Services) -> None:
    org_id, key = bootstrap_org("poor", svc, start_balance_micros=0)
    r = call(http_event("POST", "/v1/runs", body={"prompt": "Count the links"}, key=key))
    assert r.status == 402, r.text
    err = r.json["error"]
    assert err["type"] == "billing_error" and err["code"] == "insufficient_balance"
    assert err["details"]["needed_micros"] == 315_000 and err["details"]["available_micros"] == 0
    assert "$0.315" in err["message"] and "$0.00 is available" in err["message"]
    assert call(http_event("GET", "/v1/runs", key=key)).json["data"] == []
    executions = svc.aws.stepfunctions.list_executions(stateMachineArn=svc.settings.run_state_machine_arn)
    assert executions["executions"] == []
    assert svc.table.get(keys.org_pk(org_id), keys.RATE_LIMIT_SK) is None  # no token taken

    billing.credit(svc, org_id, SMALL_MAX, "just enough")
    assert call(http_event("POST", "/v1/runs", body={"prompt": "Count the links"}, key=key)).status == 402
    ok = call(http_event("POST", "/v1/runs", body={"prompt": "Count the links", **SMALL}, key=key))
    assert ok.status == 202, ok.text


def test_job_runs_are_checked_too(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, key = org_key
    job = call(http_event("POST", "/v1/jobs", body={"name": "links", "prompt": "Count the links"}, key=key))
    assert job.status == 201, job.text
    billing.set_floor(svc, org_id, START)  # nothing available above the floor
    r = call(http_event("POST", f"/v1/jobs/{job.json['id']}/runs", body={}, key=key))
    assert r.status == 402 and r.json["error"]["code"] == "insufficient_balance"
    assert call(http_event("GET", "/v1/runs", key=key)).json["data"] == []


def test_an_idempotent_replay_is_not_refused(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, key = org_key
    h = {"Idempotency-Key": "k-1"}
    first = call(http_event("POST", "/v1/runs", body={"prompt": "Count the links"}, key=key, headers=h))
    assert first.status == 202
    billing.set_floor(svc, org_id, START)
    again = call(http_event("POST", "/v1/runs", body={"prompt": "Count the links"}, key=key, headers=h))
    assert again.status == 202 and again.json["task_id"] == first.json["task_id"]
    other = call(
        http_event("POST", "/v1/runs", body={"prompt": "Count the links"}, key=key, headers={"Idempotency-Key": "k-2"})
    )
    assert other.status == 402


# -- GET /v1/balance and /v1/usage ----------------------------------------------------------------


def test_get_balance(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, key = org_key
    r = call(http_event("GET", "/v1/balance", key=key))
    assert r.status == 200, r.text
    assert {k: r.json[k] for k in ("balance_micros", "balance_usd", "floor_micros", "currency")} == {
        "balance_micros": START,
        "balance_usd": "100.00",
        "floor_micros": 0,
        "currency": "USD",
    }
    billing.record_usage(svc, org_id, finished_run(svc, org_id))
    assert call(http_event("GET", "/v1/balance", key=key)).json["balance_usd"] == "99.99278"
    assert call(http_event("GET", "/v1/balance")).status == 401


def test_usage_windows_pages_and_totals(svc: Services, org_key: tuple[str, str], clock: FakeClock) -> None:
    org_id, key = org_key
    project = call(http_event("POST", "/v1/projects", body={"name": "shop"}, key=key)).json["id"]
    t0 = clock.now()
    ids = []
    for i in range(5):  # finished at t0+0, +60, +120, +180, +240 s; the last two in the project
        clock.advance(0 if i == 0 else 60)
        ids.append(finished_run(svc, org_id, project_id=project if i >= 3 else None))
        billing.record_usage(svc, org_id, ids[-1])
    other_org, other_key = bootstrap_org("globex", svc)
    billing.record_usage(svc, other_org, finished_run(svc, other_org))

    def usage(**query: str) -> Any:
        return call(http_event("GET", "/v1/usage", key=key, query=query))

    iso = lambda s: (t0 + timedelta(seconds=s)).isoformat()  # noqa: E731
    # [t0+60, t0+240): the runs finished at +60, +120, +180; the one at +240 is outside
    window = {"from": iso(60), "to": iso(240)}
    page1 = usage(**window, limit="2")
    assert page1.status == 200, page1.text
    assert [d["run_id"] for d in page1.json["data"]] == [ids[3], ids[2]]  # newest first
    totals = page1.json["totals"]
    assert totals["runs"] == 3 and totals["cost_micros"] == 3 * COST and totals["cost_usd"] == "0.02166"
    assert (totals["input_tokens"], totals["output_tokens"], totals["sandbox_seconds"]) == (3000, 600, 90.0)
    page2 = usage(**window, limit="2", cursor=page1.json["next_cursor"])
    assert [d["run_id"] for d in page2.json["data"]] == [ids[1]]
    assert page2.json["totals"] == totals  # the same totals on every page
    assert page2.json["next_cursor"] is None or usage(**window, cursor=page2.json["next_cursor"]).json["data"] == []

    line = page2.json["data"][0]
    assert (line["cost_micros"], line["charged_micros"], line["unpaid_micros"]) == (COST, COST, 0)
    assert line["breakdown"] == {
        "run_fee_micros": 5000,
        "input_micros": 400,
        "output_micros": 320,
        "sandbox_micros": 1500,
    }

    in_project = usage(**{"from": iso(0), "to": iso(600)}, project_id=project)
    assert [d["run_id"] for d in in_project.json["data"]] == [ids[4], ids[3]]
    assert in_project.json["totals"]["runs"] == 2
    everything = usage(**{"from": iso(0), "to": iso(600)}, limit="100")
    assert len(everything.json["data"]) == 5 and everything.json["totals"]["runs"] == 5  # not globex's
    clock.advance(1)  # `to` defaults to now, exclusive: the run finished this instant is not in yet
    default = usage()  # this month up to now
    assert default.json["totals"]["runs"] == 5 and default.json["end"].startswith(clock.now().date().isoformat())
    # a cursor of one window is refused in another, and in another org
    assert usage(**{"from": iso(200), "to": iso(600)}, cursor=page1.json["next_cursor"]).status == 400
    foreign = call(http_event("GET", "/v1/usage", key=other_key, query={**window, "cursor": page1.json["next_cursor"]}))
    assert foreign.status == 400


def test_usage_refuses_bad_windows(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    backwards = call(
        http_event("GET", "/v1/usage", key=key, query={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"})
    )
    assert backwards.status == 422 and backwards.json["error"]["code"] == "invalid_window"
    bad = call(http_event("GET", "/v1/usage", key=key, query={"from": "last tuesday"}))
    assert bad.status == 422 and bad.json["error"]["code"] == "validation_failed"
    assert call(http_event("GET", "/v1/usage", key=key, query={"limit": "0"})).status == 422


# -- the billing Lambda ---------------------------------------------------------------------------


def test_the_billing_handler_records_the_sample_event_once(
    svc: Services, org_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.billing import billing_handler

    monkeypatch.setattr(billing_handler, "get_services", lambda: svc)
    org_id, _ = org_key
    run_id = finished_run(svc, org_id)
    event = copy.deepcopy(load_event("billing/run_finished.json"))
    event["detail"].update(run_id=run_id, org_id=org_id)
    assert billing_handler.lambda_handler(event, None) == {
        "run_id": run_id,
        "recorded": True,
        "cost_micros": COST,
        "unpaid_micros": 0,
    }
    again = billing_handler.lambda_handler(event, None)  # EventBridge delivers at least once
    assert again["recorded"] is False and again["already_recorded"] is True
    assert balance(svc, org_id) == START - COST
    assert billing_handler.lambda_handler({**event, "detail-type": "Run Queued"}, None)["recorded"] is False
    missing = copy.deepcopy(event)
    missing["detail"]["run_id"] = "run_01JD8X2Q9V4K7M3N5P6R8S0T1W"
    with pytest.raises(Exception, match="no run"):  # propagates: Lambda retries, then the DLQ
        billing_handler.lambda_handler(missing, None)
