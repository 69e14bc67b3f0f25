"""Asking a person (shared/runs/human_input.py) against moto with an injected clock: the run waits in
needs_input, the answer is checked and kept sealed, the wait is not counted against max_duration_s
nor billed as sandbox time, and an input deadline that passes ends the run INPUT_TIMEOUT."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import llm_gateway
from shared.clock import FakeClock
from shared.errors import Conflict, Unprocessable
from shared.models.common import RunStatus
from shared.models.runs import InputAnswer
from shared.orchestration.finalize import usage_of
from shared.reaper import reap
from shared.runs import human_input
from shared.services import Services
from tests.integration.test_orchestration_steps import env, started  # noqa: F401  (fixture)
from tests.support.fake_sandbox import FakeSandboxProvider

CODE_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string", "pattern": "^[0-9]{6}$"}},
    "required": ["code"],
}


def _asked(env: tuple[Services, FakeSandboxProvider, str], **kw) -> tuple[Services, str, str, dict]:  # noqa: F811
    svc, provider, org_id = env
    run_id, _ = started(svc, provider, org_id, human_input=True, max_duration_s=60, **kw)
    request = human_input.ask(svc, org_id, run_id, "Enter the code we texted you", CODE_SCHEMA)
    return svc, org_id, run_id, request


def test_ask_answer_take_resumes_the_run_and_keeps_the_answer_sealed(env) -> None:  # noqa: F811
    svc, org_id, run_id, request = _asked(env)
    run = svc.runs.get(org_id, run_id, consistent=True)
    assert run.status == RunStatus.needs_input
    assert run.input_request["question"] == "Enter the code we texted you"
    assert run.input_request["schema"] == CODE_SCHEMA

    with pytest.raises(Unprocessable) as bad:
        human_input.answer(svc, org_id, run_id, InputAnswer(request_id=request["id"], answer={"code": "12ab"}))
    assert bad.value.details[0]["loc"] == ["body", "answer", "code"]
    assert "12ab" not in str(bad.value.details)
    with pytest.raises(Conflict):
        human_input.answer(svc, org_id, run_id, InputAnswer(request_id="inp_other", answer={"code": "123456"}))

    human_input.answer(svc, org_id, run_id, InputAnswer(request_id=request["id"], answer={"code": "123456"}))
    run = svc.runs.get(org_id, run_id, consistent=True)
    assert run.status == RunStatus.running and run.input_request is None
    assert "123456" not in run.model_dump_json()  # sealed on the record
    with pytest.raises(Conflict):  # the same request again
        human_input.answer(svc, org_id, run_id, InputAnswer(request_id=request["id"], answer={"code": "123456"}))

    taken = human_input.take_answer(svc, org_id, run_id, request["id"])
    assert taken["status"] == "answered" and taken["answer"] == {"code": "123456"}
    assert svc.runs.get(org_id, run_id, consistent=True).input_sealed is None  # handed over once


def test_the_wait_does_not_run_down_the_budget(env) -> None:  # noqa: F811
    svc, org_id, run_id, request = _asked(env)
    clock = svc.clock
    assert isinstance(clock, FakeClock)
    clock.advance(250)  # far past max_duration_s=60, waiting for the person
    run = svc.runs.get(org_id, run_id, consistent=True)
    # The gateway still lets the model run, the reaper leaves it alone.
    limit, _ = llm_gateway.call_timeout(svc, run, None)
    assert limit > 0
    assert run_id not in reap(svc).timed_out
    human_input.answer(svc, org_id, run_id, InputAnswer(request_id=request["id"], answer={"code": "654321"}))
    clock.advance(10)
    run = svc.runs.get(org_id, run_id, consistent=True)
    assert run.paused_s == pytest.approx(250)
    assert run.deadline(clock.now()) == run.started_at + timedelta(seconds=60 + 250)
    # Billed: the 10 s after the answer, not the 250 s of waiting.
    assert usage_of(svc, run)["sandbox_seconds"] == pytest.approx(10)
    clock.advance(55)  # now the run's own time is up
    with pytest.raises(llm_gateway.RunDeadlineExceeded):
        llm_gateway.call_timeout(svc, svc.runs.get(org_id, run_id, consistent=True), None)


def test_an_input_deadline_that_passes_ends_the_run_input_timeout(env) -> None:  # noqa: F811
    svc, org_id, run_id, request = _asked(env, input_timeout_s=30)
    svc.clock.advance(31)
    assert human_input.take_answer(svc, org_id, run_id, request["id"])["status"] == "expired"
    assert svc.runs.get(org_id, run_id, consistent=True).status == RunStatus.running  # the agent ends it
    with pytest.raises(Conflict):
        human_input.answer(svc, org_id, run_id, InputAnswer(request_id=request["id"], answer={"code": "123456"}))


def test_the_reaper_ends_a_run_whose_agent_never_came_back_for_the_answer(env) -> None:  # noqa: F811
    svc, org_id, run_id, _ = _asked(env, input_timeout_s=30)
    svc.clock.advance(60 + 30 + svc.settings.sandbox_grace_s + 5)
    assert run_id in reap(svc).timed_out
    run = svc.runs.get(org_id, run_id, consistent=True)
    assert run.status == RunStatus.failed and run.error_code == "INPUT_TIMEOUT"


def test_a_run_without_human_input_cannot_ask(env) -> None:  # noqa: F811
    svc, provider, org_id = env
    run_id, _ = started(svc, provider, org_id)
    with pytest.raises(Conflict):
        human_input.ask(svc, org_id, run_id, "code?", None)


def test_sealing_round_trips_and_detects_tampering() -> None:
    sealed = human_input.seal("s" * 40, {"code": "123456"})
    assert "123456" not in sealed
    assert human_input.unseal("s" * 40, sealed) == {"code": "123456"}
    with pytest.raises(ValueError):
        human_input.unseal("t" * 40, sealed)


class _PausingProvider(FakeSandboxProvider):
    """A provider that can pause (as E2B can); remembers what it paused."""

    supports_pause = True

    def __init__(self) -> None:
        super().__init__()
        self.paused: list[str] = []

    def pause(self, sandbox_id: str) -> bool:
        self.paused.append(sandbox_id)
        return True


def test_a_long_wait_pauses_a_one_shot_runs_sandbox_but_never_a_sessions(env) -> None:  # noqa: F811
    svc, _, org_id = env
    provider = _PausingProvider()
    svc.sandbox_provider = provider
    for session_id in (None, "ses_01TEST"):
        run_id, sandbox_id = started(svc, provider, org_id, human_input=True, max_duration_s=60)
        if session_id:  # a session's task: its sandbox is the session's
            svc.runs.transition(
                org_id, run_id, from_statuses=[RunStatus.running], to_status=None, fields={"session_id": session_id}
            )
        request = human_input.ask(svc, org_id, run_id, "The code?", None)
        svc.clock.advance(svc.settings.sandbox_pause_after_s + 1)
        assert human_input.take_answer(svc, org_id, run_id, request["id"])["status"] == "waiting"
        assert (sandbox_id in provider.paused) is (session_id is None)
