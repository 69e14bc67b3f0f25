"""The state machine's tasks against moto, with the sandbox boundary played by a fake provider."""

from __future__ import annotations

import json

import pytest

from shared import callbacks, tokens
from shared.clock import FakeClock
from shared.errors import Conflict
from shared.models.runs import CreateRunRequest
from shared.orchestration.admit import admit
from shared.orchestration.cleanup import cleanup
from shared.orchestration.errors import RunCancelled, SandboxStartFailed
from shared.orchestration.finalize import finalize
from shared.orchestration.start_sandbox import start_sandbox
from shared.runs import service as runs
from shared.services import Services
from tests.support.aws import make_services
from tests.support.fake_sandbox import FakeSandboxProvider

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


@pytest.fixture
def env(moto_aws: None) -> tuple[Services, FakeSandboxProvider, str]:
    from shared.orgs import bootstrap_org

    provider = FakeSandboxProvider()
    svc = make_services(
        clock=FakeClock(),
        OPENHELM_RUN_TOKEN_SECRET="x" * 40,
        OPENHELM_PUBLIC_URL="http://127.0.0.1:9",
    )
    svc.sandbox_provider = provider
    org_id, _ = bootstrap_org("acme", svc)
    return svc, provider, org_id


def new_run(svc: Services, org_id: str, **kw) -> str:
    org = svc.orgs.get(org_id)
    return runs.create_run(svc, org, CreateRunRequest(prompt="Count things", output_schema=SCHEMA, **kw)).run.id


def started(svc: Services, provider: FakeSandboxProvider, org_id: str, **kw) -> tuple[str, str]:
    run_id = new_run(svc, org_id, **kw)
    assert admit(svc, run_id, org_id)["admitted"]
    sandbox_id = start_sandbox(svc, run_id, org_id, task_token=f"tok-{run_id}")["sandbox_id"]
    return run_id, sandbox_id


def agent_outputs(provider: FakeSandboxProvider, sandbox_id: str, result: dict) -> None:
    provider.put(sandbox_id, "result.json", json.dumps(result))
    steps = [
        {"index": 1, "action": "navigate", "args": {"url": "http://shop.test/"}, "url": "http://shop.test/"},
        {"index": 2, "action": "done", "args": {}, "url": "http://shop.test/", "error": None},
    ]
    provider.put(sandbox_id, "steps.jsonl", "\n".join(json.dumps(s) for s in steps) + "\n{broken\n")
    provider.put(sandbox_id, "network.jsonl", json.dumps({"url": "http://shop.test/", "status": 200}) + "\n")
    provider.put(sandbox_id, "screenshots/step-0001.png", PNG)
    provider.put(sandbox_id, "screenshots/step-0002.png", PNG)


def test_admit_then_start_hands_the_agent_a_spec_and_a_scoped_token(env) -> None:
    svc, provider, org_id = env
    run_id, _sandbox_id = started(svc, provider, org_id, allowed_domains=["shop.test"])
    req = provider.requests[0]
    assert req.run_spec["run_id"] == run_id and req.run_spec["output_schema"] == SCHEMA
    assert req.allowed_domains == ("shop.test",)
    assert req.control_url == "http://127.0.0.1:9"
    claims = tokens.verify(svc.settings.token_secret(), req.run_token, int(svc.clock.now().timestamp()), run_id)
    assert claims.org_id == org_id
    assert "task_token" not in json.dumps(req.run_spec) and "tok-" not in json.dumps(req.run_spec)
    run = runs.get_run(svc, org_id, run_id)
    assert run.status == "running" and run.started_at is not None
    assert svc.runs.active_count(org_id) == 1


def test_finalize_records_result_evidence_confidence_usage_and_kills(env) -> None:
    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id)
    svc.runs.add_usage(org_id, run_id, 1200, 80)
    svc.clock.advance(7)
    agent_outputs(provider, sandbox_id, {"status": "succeeded", "result": {"n": 3}, "confidence": 0.8})
    assert finalize(svc, run_id, org_id, {"status": "succeeded"}) == {"status": "succeeded"}
    run = runs.get_run(svc, org_id, run_id)
    assert run.result == {"n": 3}
    assert run.confidence.score == 0.8
    assert [e.path for e in run.evidence] == ["screenshots/step-0001.png", "screenshots/step-0002.png"]
    assert [s.action for s in run.steps] == ["navigate", "done"]
    assert run.usage.input_tokens == 1200 and run.usage.output_tokens == 80 and run.usage.sandbox_seconds == 7
    assert svc.runs.active_count(org_id) == 0
    # the sandbox stays for the evidence function (tests/integration/test_evidence.py)
    assert sandbox_id in provider.alive and sandbox_id not in provider.killed


def test_result_that_breaks_the_schema_fails_the_run(env) -> None:
    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id)
    agent_outputs(provider, sandbox_id, {"status": "succeeded", "result": {"n": "three"}, "confidence": 1})
    finalize(svc, run_id, org_id, {})
    run = runs.get_run(svc, org_id, run_id)
    assert run.status == "failed" and run.error.code == "SCHEMA_UNSATISFIED" and run.result is None


def test_agent_failure_code_is_kept_and_missing_result_is_a_crash(env) -> None:
    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id)
    agent_outputs(
        provider, sandbox_id, {"status": "failed", "error_code": "AGENT_MAX_STEPS", "error_message": "15 steps"}
    )
    finalize(svc, run_id, org_id, {})
    assert runs.get_run(svc, org_id, run_id).error.code == "AGENT_MAX_STEPS"

    run_id, sandbox_id = started(svc, provider, org_id)
    finalize(svc, run_id, org_id, {})
    run = runs.get_run(svc, org_id, run_id)
    assert run.status == "failed" and run.error.code == "AGENT_CRASHED"


def test_sandbox_start_failure_raises_for_the_state_machine_and_cleanup_records_it(env) -> None:
    svc, provider, org_id = env
    run_id = new_run(svc, org_id)
    admit(svc, run_id, org_id)
    provider.fail_start = "no capacity"
    with pytest.raises(SandboxStartFailed):
        start_sandbox(svc, run_id, org_id, task_token="t")
    assert cleanup(svc, run_id, org_id, {"Error": "SandboxStartFailed", "Cause": "no capacity"}) == {
        "code": "SANDBOX_START_FAILED"
    }
    run = runs.get_run(svc, org_id, run_id)
    assert run.status == "failed" and "no capacity" in run.error.message
    assert svc.runs.active_count(org_id) == 0
    # Cleanup twice (a retried Catch) changes nothing
    cleanup(svc, run_id, org_id, {"Error": "States.Timeout"})
    assert runs.get_run(svc, org_id, run_id).error.code == "SANDBOX_START_FAILED"


def test_timeout_after_the_deadline_is_agent_timeout_before_it_a_crash(env) -> None:
    svc, provider, org_id = env
    run_id, _sandbox_id = started(svc, provider, org_id, max_duration_s=60)
    svc.clock.advance(61)
    cleanup(svc, run_id, org_id, {"Error": "States.Timeout"})
    assert runs.get_run(svc, org_id, run_id).error.code == "AGENT_TIMEOUT"

    run_id, _ = started(svc, provider, org_id, max_duration_s=60)
    svc.clock.advance(10)
    cleanup(svc, run_id, org_id, {"Error": "States.Timeout"})
    assert runs.get_run(svc, org_id, run_id).error.code == "AGENT_CRASHED"


def test_concurrency_slots_make_runs_wait(env) -> None:
    svc, _provider, org_id = env
    org = svc.orgs.get(org_id)
    limited = org.model_copy(update={"limits": org.limits.model_copy(update={"max_concurrent_runs": 1})})
    svc.table.put({"pk": f"org#{org_id}", "sk": "org", "type": "org", **limited.model_dump(mode="json")})
    first, second = new_run(svc, org_id), new_run(svc, org_id)
    assert admit(svc, first, org_id)["admitted"] is True
    waiting = admit(svc, second, org_id)
    assert waiting == {"admitted": False, "stop": False, "wait_s": 5, "task_timeout_s": 0}
    runs.cancel_run(svc, org_id, first)
    assert admit(svc, second, org_id)["admitted"] is True


def test_cancel_while_starting_kills_the_new_sandbox(env) -> None:
    svc, provider, org_id = env
    run_id = new_run(svc, org_id)
    admit(svc, run_id, org_id)
    runs.cancel_run(svc, org_id, run_id)
    with pytest.raises(RunCancelled):
        start_sandbox(svc, run_id, org_id, task_token="t")
    assert provider.requests == []
    assert admit(svc, run_id, org_id)["stop"] is True


def test_progress_updates_the_run_and_stops_after_cancel(env) -> None:
    svc, provider, org_id = env
    run_id, _ = started(svc, provider, org_id)
    callbacks.record_progress(
        svc, org_id, run_id, callbacks.ProgressReport(step=3, url="http://shop.test/a", action="click")
    )
    run = runs.get_run(svc, org_id, run_id)
    assert run.progress.step == 3 and run.progress.last_url == "http://shop.test/a"
    runs.cancel_run(svc, org_id, run_id)
    with pytest.raises(Conflict):
        callbacks.record_progress(svc, org_id, run_id, callbacks.ProgressReport(step=4))


def test_reaper_ends_crashed_and_overdue_runs_and_kills_orphans(env) -> None:
    from shared.reaper import reap

    svc, provider, org_id = env
    crashed, crashed_sbx = started(svc, provider, org_id, max_duration_s=600)
    overdue, overdue_sbx = started(svc, provider, org_id, max_duration_s=60)
    healthy, healthy_sbx = started(svc, provider, org_id, max_duration_s=600)
    finished, finished_sbx = started(svc, provider, org_id)
    runs.cancel_run(svc, org_id, finished)
    provider.alive.add(finished_sbx)  # its kill was lost: an orphan
    provider.alive.discard(crashed_sbx)  # the agent died without a callback
    svc.clock.advance(60 + svc.settings.sandbox_grace_s + 1)

    report = reap(svc)
    assert report.crashed == [crashed] and report.timed_out == [overdue]
    # a finished run's sandbox waits for the evidence function, up to evidence_grace_s
    assert report.killed == [] and finished_sbx in provider.alive
    assert runs.get_run(svc, org_id, crashed).error.code == "AGENT_CRASHED"
    assert runs.get_run(svc, org_id, overdue).error.code == "AGENT_TIMEOUT"
    assert runs.get_run(svc, org_id, healthy).status == "running" and healthy_sbx in provider.alive
    # past the grace (counted from the run's end) the finished run's sandbox goes; the overdue run
    # ended later, so its sandbox is still left for the evidence function
    svc.clock.advance(svc.settings.evidence_grace_s - (60 + svc.settings.sandbox_grace_s + 1))
    later = reap(svc)
    assert later.killed == [finished_sbx] and overdue_sbx in provider.alive
    assert later.crashed == [] and later.timed_out == []
    assert runs.get_run(svc, org_id, healthy).status == "running" and healthy_sbx in provider.alive
    # finished runs left the index: a third pass finds nothing new
    again = reap(svc)
    assert again.crashed == [] and again.timed_out == [] and again.killed == []


def test_finalize_keeps_a_huge_run_within_the_item_quota(env) -> None:
    """An agent's out dir can hold megabytes of step records; the run record (DynamoDB, 400 KB) keeps
    the result whole and clips the lists (they are whole in the evidence bundle)."""
    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id, metadata={f"k{n}": "v" * 500 for n in range(16)})
    big = {"n": 7, "rows": ["r" * 1000] * 200}
    provider.put(sandbox_id, "result.json", json.dumps({"status": "succeeded", "result": big, "confidence": 0.9}))
    steps = [{"index": i, "action": "type", "args": {"text": "t" * 9000}, "url": "u" * 2000} for i in range(1, 201)]
    provider.put(sandbox_id, "steps.jsonl", "\n".join(json.dumps(s) for s in steps) + "\n")
    assert finalize(svc, run_id, org_id, {"status": "succeeded"})["status"] == "succeeded"
    run = runs.get_run(svc, org_id, run_id)
    assert run.result == big
    assert run.steps[0].index == 1 and "more characters not kept" in run.steps[0].args["text"]


def test_finalize_fails_a_run_whose_result_cannot_fit_with_its_request(env) -> None:
    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id, inputs={"blob": "i" * 200_000})
    result = {"status": "succeeded", "result": {"n": 1, "blob": "r" * 200_000}, "confidence": 0.9}
    provider.put(sandbox_id, "result.json", json.dumps(result))
    assert finalize(svc, run_id, org_id, {"status": "succeeded"})["status"] == "failed"
    run = runs.get_run(svc, org_id, run_id)
    assert run.error is not None and run.error.code == "RESULT_TOO_LARGE"
    assert run.result is None


def test_reaper_bills_a_crashed_run_up_to_its_last_sign_of_life(env) -> None:
    from shared.reaper import reap

    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id, max_duration_s=600)
    svc.clock.advance(12)
    callbacks.record_progress(svc, org_id, run_id, callbacks.ProgressReport(step=2, action="click"))
    provider.alive.discard(sandbox_id)  # died right after, with nobody left to report it
    svc.clock.advance(58)  # the reaper's next visit

    assert reap(svc).crashed == [run_id]
    run = runs.get_run(svc, org_id, run_id)
    assert run.error.code == "AGENT_CRASHED"
    assert run.usage.sandbox_seconds == 12.0  # not 70: the minute until discovery is not billed


def test_an_exit_report_fails_the_run_naming_the_signal_billed_to_the_death(env) -> None:
    svc, provider, org_id = env
    run_id, _ = started(svc, provider, org_id)
    svc.clock.advance(9)
    # what the exit route records when the supervisor's report arrives (shared/callbacks.py)
    svc.runs.mark_sandbox_ended(org_id, run_id, svc.clock.now(), {"agent_exit": {"signal": 9}})
    svc.clock.advance(30)  # Finalize ran late: not billed
    exited = {"status": "exited", "exit": {"reporter": "supervisor", "signal": 9, "exit_code": None}}
    assert finalize(svc, run_id, org_id, exited)["status"] == "failed"
    run = runs.get_run(svc, org_id, run_id)
    assert run.error.code == "AGENT_CRASHED" and "SIGKILL" in run.error.message
    assert run.usage.sandbox_seconds == 9.0
    # the end is recorded once: a second report or a late completion does not move it
    from shared.db.dynamo import ConditionalCheckFailed

    with pytest.raises(ConditionalCheckFailed):
        svc.runs.mark_sandbox_ended(org_id, run_id, svc.clock.now())


def test_a_result_written_before_the_death_still_counts(env) -> None:
    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id)
    agent_outputs(provider, sandbox_id, {"status": "succeeded", "result": {"n": 3}, "confidence": 0.8})
    exited = {"status": "exited", "exit": {"reporter": "provider", "signal": 9}}
    assert finalize(svc, run_id, org_id, exited)["status"] == "succeeded"
    assert runs.get_run(svc, org_id, run_id).result == {"n": 3}


def test_the_providers_lifetime_running_out_is_a_timeout(env) -> None:
    svc, provider, org_id = env
    run_id, _ = started(svc, provider, org_id)
    exited = {"status": "exited", "exit": {"reporter": "provider", "timed_out": True, "signal": 15}}
    finalize(svc, run_id, org_id, exited)
    assert runs.get_run(svc, org_id, run_id).error.code == "AGENT_TIMEOUT"


def _e2b_delivery(secret: str, payload: dict) -> tuple[bytes, dict[str, str]]:
    import base64
    import hashlib

    raw = json.dumps(payload).encode()
    signature = base64.b64encode(hashlib.sha256(secret.encode() + raw).digest()).decode().rstrip("=")
    return raw, {"e2b-signature": signature, "e2b-signature-version": "v1"}


def test_an_e2b_killed_event_ends_the_run_billed_to_the_kill(moto_aws: None) -> None:
    from shared.api import deps
    from shared.orgs import bootstrap_org
    from tests.support.apigw import call, http_event

    provider = FakeSandboxProvider()
    secret = "e2b-webhook-secret-0123456789"
    svc = make_services(
        clock=FakeClock(),
        OPENHELM_RUN_TOKEN_SECRET="x" * 40,
        OPENHELM_PUBLIC_URL="http://127.0.0.1:9",
        OPENHELM_E2B_WEBHOOK_SECRET=secret,
    )
    svc.sandbox_provider = provider
    org_id, _ = bootstrap_org("acme", svc)
    deps.override(svc)
    try:
        run_id, sandbox_id = started(svc, provider, org_id)
        killed_at = svc.clock.now() + __import__("datetime").timedelta(seconds=7)
        svc.clock.advance(65)  # the delivery comes later than the kill (E2B retries 10 s apart)
        event = {
            "version": "v2",
            "id": "evt_1",
            "type": "sandbox.lifecycle.killed",
            "sandboxId": sandbox_id,
            "timestamp": killed_at.isoformat(),
            "eventData": {"sandbox_metadata": {"run_id": run_id, "org_id": org_id, "openhelm": "1"}},
        }
        raw, headers = _e2b_delivery(secret, event)
        _, forged = _e2b_delivery("not-the-secret", event)
        assert call(http_event("POST", "/internal/e2b/events", raw_body=raw, headers=forged)).status == 404
        tampered = raw.replace(b"sandbox.lifecycle.killed", b"sandbox.lifecycle.killed ")
        assert call(http_event("POST", "/internal/e2b/events", raw_body=tampered, headers=headers)).status == 404
        assert call(http_event("POST", "/internal/e2b/events", raw_body=raw)).status == 404  # unsigned
        assert svc.runs.get(org_id, run_id).sandbox_ended_at is None
        # another sandbox named in the metadata of this run changes nothing
        other, other_headers = _e2b_delivery(secret, {**event, "sandboxId": "sbx_other"})
        assert call(http_event("POST", "/internal/e2b/events", raw_body=other, headers=other_headers)).status == 204
        assert svc.runs.get(org_id, run_id).sandbox_ended_at is None

        assert call(http_event("POST", "/internal/e2b/events", raw_body=raw, headers=headers)).status == 204
        record = svc.runs.get(org_id, run_id, consistent=True)
        assert record.sandbox_ended_at.isoformat() == killed_at.isoformat()
        assert record.agent_exit == {"reporter": "e2b", "sandbox_killed": True}
        # the woken Finalize (here by hand: moto has no waiting task for a made-up token)
        finalize(svc, run_id, org_id, {"status": "exited", "exit": record.agent_exit})
        run = runs.get_run(svc, org_id, run_id)
        assert run.error.code == "AGENT_CRASHED" and "killed" in run.error.message
        assert run.usage.sandbox_seconds == 7.0
    finally:
        deps.override(None)


def test_the_completion_records_the_agents_end_once_and_refuses_a_run_not_running(env) -> None:
    svc, provider, org_id = env
    run_id, _ = started(svc, provider, org_id)
    svc.clock.advance(7)
    report = callbacks.CompletionReport(status="succeeded", steps=1)
    callbacks.complete(svc, org_id, run_id, report)  # the task is woken; the agent's end recorded
    ended = svc.runs.get(org_id, run_id, consistent=True).sandbox_ended_at
    assert ended == svc.clock.now()
    svc.clock.advance(5)  # a retried completion (the first answer was lost) keeps the first end
    callbacks.complete(svc, org_id, run_id, report)
    assert svc.runs.get(org_id, run_id, consistent=True).sandbox_ended_at == ended

    queued = new_run(svc, org_id)  # no sandbox, no task: nothing to complete, nothing recorded
    with pytest.raises(Conflict) as idle:
        callbacks.complete(svc, org_id, queued, report)
    assert idle.value.code == "run_not_active"
    assert svc.runs.get(org_id, queued, consistent=True).sandbox_ended_at is None
