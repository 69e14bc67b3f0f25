"""Cost you can see: the run envelope's usage is its usage record's for every terminal status (a
running estimate by the same code before), one cap in dollars (max_cost_usd) bounds the charge,
admission and the deadline, infrastructure failures are not charged, and each step shows the
tokens and cost of the LLM call that chose it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import billing
from shared.billing import budget
from shared.clock import FakeClock
from shared.errors import PaymentRequired, Unprocessable
from shared.models.common import RunStatus
from shared.models.runs import CreateRunRequest
from shared.orchestration.admit import admit
from shared.orchestration.cleanup import cleanup
from shared.orchestration.finalize import finalize
from shared.orchestration.start_sandbox import start_sandbox
from shared.runs import service as runs
from shared.services import Services
from tests.support.apigw import call, http_event
from tests.support.aws import make_services
from tests.support.fake_sandbox import FakeSandboxProvider

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


@pytest.fixture
def env(moto_aws: None) -> tuple[Services, FakeSandboxProvider, str, str]:
    from shared.api import deps
    from shared.orgs import bootstrap_org

    provider = FakeSandboxProvider()
    svc = make_services(clock=FakeClock(), OPENHELM_RUN_TOKEN_SECRET="x" * 40, OPENHELM_PUBLIC_URL="http://127.0.0.1:9")
    svc.sandbox_provider = provider
    deps.override(svc)
    org_id, key = bootstrap_org("acme", svc)
    yield svc, provider, org_id, key
    deps.override(None)


def started(svc: Services, org_id: str, **kw: Any) -> tuple[str, str]:
    org = svc.orgs.get(org_id)
    run_id = runs.create_run(svc, org, CreateRunRequest(prompt="Count things", output_schema=SCHEMA, **kw)).run.id
    assert admit(svc, run_id, org_id)["admitted"]
    sandbox_id = start_sandbox(svc, run_id, org_id, task_token=f"tok-{run_id}")["sandbox_id"]
    return run_id, sandbox_id


def envelope(key: str, run_id: str) -> dict[str, Any]:
    r = call(http_event("GET", f"/v1/runs/{run_id}", key=key))
    assert r.status == 200, r.text
    return r.json


def same_figures(usage: dict[str, Any], record: Any) -> None:
    assert usage["cost_status"] == "billed"
    assert usage["cost_micros"] == record.cost_micros and usage["cost_usd"] == record.cost_usd
    assert usage["charged_micros"] == record.charged_micros
    assert usage["sandbox_seconds"] == record.sandbox_seconds
    assert (usage["input_tokens"], usage["output_tokens"]) == (record.input_tokens, record.output_tokens)


@pytest.mark.parametrize("ending", ["succeeded", "failed", "cancelled"])
def test_the_envelope_shows_what_the_usage_record_bills(env, ending: str) -> None:
    svc, provider, org_id, key = env
    run_id, sandbox_id = started(svc, org_id)
    svc.runs.add_usage(org_id, run_id, 12_000, 800)
    svc.clock.advance(14.2)
    running = envelope(key, run_id)["usage"]
    assert running["cost_status"] == "estimate" and running["sandbox_seconds"] == 14.2
    # fee 5000 + 12k input 4800 + 800 output 1280 + 14.2 s 710
    assert running["cost_micros"] == 11_790 and running["cost_usd"] == "0.01179"
    if ending == "cancelled":
        assert call(http_event("POST", f"/v1/runs/{run_id}/cancel", key=key)).status == 202
    else:
        result = {"status": "succeeded", "result": {"n": 3}, "confidence": 0.8}
        if ending == "failed":
            result = {"status": "failed", "error_code": "AGENT_MAX_STEPS", "error_message": "50 steps"}
        provider.put(sandbox_id, "result.json", json.dumps(result))
        finalize(svc, run_id, org_id, {})
    before = envelope(key, run_id)
    assert before["status"] == ending
    # finished, not yet billed: the estimate is already the figure the record will bill
    assert before["usage"]["cost_status"] == "estimate" and before["usage"]["sandbox_seconds"] == 14.2
    svc.clock.advance(30)  # billing runs later; nothing of that wait is billed
    record = billing.record_usage(svc, org_id, run_id)
    assert record is not None and record.sandbox_seconds == 14.2
    assert record.cost_micros == before["usage"]["cost_micros"] == 11_790
    same_figures(envelope(key, run_id)["usage"], record)
    listed = call(http_event("GET", "/v1/runs", key=key)).json["data"][0]
    same_figures(listed["usage"], record)


def test_a_run_over_its_cap_is_charged_the_cap(env) -> None:
    svc, provider, org_id, key = env
    run_id, sandbox_id = started(svc, org_id, max_cost_usd="0.02")
    svc.runs.add_usage(org_id, run_id, 40_000, 5_000)  # 16,000 + 8,000 of tokens alone
    svc.clock.advance(10)
    assert envelope(key, run_id)["usage"]["capped"] is True
    provider.put(sandbox_id, "result.json", json.dumps({"status": "failed", "error_code": "BUDGET_EXCEEDED"}))
    finalize(svc, run_id, org_id, {})
    record = billing.record_usage(svc, org_id, run_id)
    assert record.list_cost_micros == 5_000 + 16_000 + 8_000 + 500
    assert (record.cost_micros, record.charged_micros, record.capped) == (20_000, 20_000, True)
    assert billing.get_balance(svc, org_id).balance_micros == 100_000_000 - 20_000
    run = envelope(key, run_id)
    assert run["error"]["code"] == "BUDGET_EXCEEDED" and run["max_cost_usd"] == "0.02"
    assert run["usage"]["cost_micros"] == 20_000 and run["usage"]["capped"] is True


def test_budget_exceeded_keeps_a_schema_valid_result(env) -> None:
    svc, provider, org_id, key = env
    run_id, sandbox_id = started(svc, org_id, max_cost_usd="0.02")
    provider.put(
        sandbox_id, "result.json", json.dumps({"status": "failed", "error_code": "BUDGET_EXCEEDED", "result": {"n": 2}})
    )
    finalize(svc, run_id, org_id, {})
    run = envelope(key, run_id)
    assert run["status"] == "failed" and run["error"]["code"] == "BUDGET_EXCEEDED" and run["result"] == {"n": 2}


def test_admission_refuses_on_the_capped_figure(env) -> None:
    svc, _provider, org_id, key = env
    billing.set_floor(svc, org_id, 100_000_000 - 50_000, reason="leave $0.05 available")
    org = svc.orgs.get(org_id)
    # the budgets alone could cost $0.315; capped at $0.04 the run fits in $0.05
    runs.create_run(svc, org, CreateRunRequest(prompt="Count things", max_cost_usd="0.04"))
    with pytest.raises(PaymentRequired) as refused:
        runs.create_run(svc, org, CreateRunRequest(prompt="Count things", max_cost_usd="0.06"))
    assert refused.value.details["needed_micros"] == 60_000
    with pytest.raises(Unprocessable):  # below the run fee and one sandbox second
        runs.create_run(svc, org, CreateRunRequest(prompt="Count things", max_cost_usd="0.005"))
    r = call(http_event("POST", "/v1/runs", key=key, body={"prompt": "Count things", "max_cost_usd": 20}))
    assert r.status == 422 and r.json["error"]["code"] == "limit_exceeded"


def test_a_cap_that_time_alone_would_reach_sets_the_deadline(env) -> None:
    svc, provider, org_id, key = env
    # $0.006: the fee leaves $0.001, which buys 20 sandbox seconds at $0.00005 a second
    run_id, _sandbox_id = started(svc, org_id, max_cost_usd="0.006", max_duration_s=300)
    assert provider.requests[-1].run_spec["max_duration_s"] == 20
    assert envelope(key, run_id)["max_duration_s"] == 20
    svc.clock.advance(80)  # the state machine's timeout fires
    assert cleanup(svc, run_id, org_id, {"Error": "States.Timeout"}) == {"code": "BUDGET_EXCEEDED"}
    record = billing.record_usage(svc, org_id, run_id)
    assert record.list_cost_micros == 5_000 + 80 * 50 and record.cost_micros == 6_000


def test_infrastructure_failures_are_not_charged_and_say_why(env) -> None:
    svc, _provider, org_id, key = env
    # our agent crashed after 30 s and some tokens
    run_id, _ = started(svc, org_id)
    svc.runs.add_usage(org_id, run_id, 5_000, 100)
    svc.clock.advance(30)
    cleanup(svc, run_id, org_id, {"Error": "AGENT_CRASHED", "Cause": "the sandbox exited"})
    crashed = billing.record_usage(svc, org_id, run_id)
    assert crashed.list_cost_micros > 0
    assert (crashed.cost_micros, crashed.charged_micros) == (0, 0)
    assert crashed.waived_reason == "the agent crashed (our code)"
    assert envelope(key, run_id)["usage"]["waived_reason"] == crashed.waived_reason
    # a page that ate the sandbox's memory crashed the agent: the page's doing, charged
    oom_run, _ = started(svc, org_id)
    svc.clock.advance(10)
    cleanup(svc, oom_run, org_id, {"Error": "AGENT_CRASHED", "Cause": "out of memory: the sandbox reached its limit"})
    oom = billing.record_usage(svc, org_id, oom_run)
    assert oom.waived_reason is None and oom.cost_micros == oom.list_cost_micros > 0
    # the orchestration could not start the run
    svc.orchestrator.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:gone"
    assert call(http_event("POST", "/v1/runs", key=key, body={"prompt": "Try it"})).status == 503
    failed = [
        r
        for r in runs.list_runs(
            svc, org_id, limit=5, cursor=None, status=RunStatus.failed, project_id=None, job_id=None
        ).data
        if r.error.code == "ORCHESTRATION_UNAVAILABLE"
    ]
    record = billing.record_usage(svc, org_id, failed[0].id)
    assert record.cost_micros == 0 and "infrastructure" in record.waived_reason
    assert billing.get_balance(svc, org_id).balance_micros == 100_000_000 - oom.cost_micros
    txns = call(http_event("GET", "/v1/balance/transactions", key=key)).json["data"]
    assert [t["kind"] for t in txns] == ["run_charge", "credit"]  # no charge line for a waived run


def test_each_step_shows_the_tokens_and_cost_of_the_call_that_chose_it(env) -> None:
    svc, provider, org_id, key = env
    run_id, sandbox_id = started(svc, org_id)
    svc.runs.add_usage(org_id, run_id, 1_000, 50)
    svc.runs.add_usage(org_id, run_id, 3_000, 20)
    steps = [
        {"index": 1, "action": "navigate", "args": {}, "llm_call": None},
        {"index": 2, "action": "click", "args": {}, "llm_call": 1},
        {"index": 3, "action": "done", "args": {}, "llm_call": 2},
        {"index": 4, "action": "done", "args": {}, "llm_call": 9},  # a number the gateway never saw
    ]
    provider.put(sandbox_id, "steps.jsonl", "\n".join(json.dumps(s) for s in steps))
    provider.put(sandbox_id, "result.json", json.dumps({"status": "succeeded", "result": {"n": 1}}))
    finalize(svc, run_id, org_id, {})
    shown = [(s["input_tokens"], s["output_tokens"], s["cost_micros"]) for s in envelope(key, run_id)["steps"]]
    assert shown == [(None, None, None), (1_000, 50, 400 + 80), (3_000, 20, 1_200 + 32), (None, None, None)]


def test_the_gateway_lowers_max_tokens_to_the_cap_then_refuses(env) -> None:
    svc, _provider, org_id, _key = env
    run_id, _ = started(svc, org_id, max_cost_usd="0.02")
    run = svc.runs.get(org_id, run_id, consistent=True)
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    allowed = budget.admit_llm_call(svc, run, body)
    # $0.02 - fee $0.005 - a ~70-byte prompt: about 9,380 output tokens at $1.60 per million
    assert 9_000 < allowed["max_tokens"] < 9_400
    svc.runs.add_usage(org_id, run_id, 20_000, 5_000)  # 8,000 + 8,000: $0.021 with the fee
    with pytest.raises(PaymentRequired) as refused:
        budget.admit_llm_call(svc, svc.runs.get(org_id, run_id, consistent=True), body)
    assert refused.value.code == "budget_exceeded"


def test_the_gateway_leaves_max_tokens_alone_while_the_cap_does_not_bind(env) -> None:
    svc, _provider, org_id, _key = env
    run_id, _ = started(svc, org_id)  # the org's default cap: $10
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    assert budget.admit_llm_call(svc, svc.runs.get(org_id, run_id, consistent=True), body) == body


def test_a_jobs_cost_cap_is_its_runs_default(env) -> None:
    *_, key = env
    job = call(
        http_event("POST", "/v1/jobs", key=key, body={"name": "j", "prompt": "Count things", "max_cost_usd": "0.04"})
    )
    assert job.status == 201, job.text
    assert job.json["max_cost_usd"] == "0.04"
    run = call(http_event("POST", f"/v1/jobs/{job.json['id']}/runs", key=key, body={}))
    assert run.status == 202, run.text
    assert envelope(key, run.json["task_id"])["max_cost_micros"] == 40_000
