"""Pausing and resuming an E2B sandbox at the wire (the real e2b SDK against the fake E2B cloud)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from shared.models.common import RunStatus
from shared.models.runs import InputAnswer
from shared.reaper import reap
from shared.runs import human_input
from shared.sandbox.base import SandboxNotFound
from shared.sandbox.e2b_provider import E2BProvider
from tests.e2b.fake_e2b import FakeE2BCloud
from tests.e2b.test_e2b_provider import request, wait_for_result
from tests.integration.test_orchestration_steps import env, started  # noqa: F401  (fixture)


def _state(pid: int) -> str:
    """The process's state letter (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_paused_sandbox_keeps_its_processes_stopped_until_resumed(
    provider: E2BProvider, e2b_env: FakeE2BCloud
) -> None:
    assert provider.supports_pause is True
    info = provider.start(request(spec={"standin_linger_s": 60}))
    wait_for_result(provider, info.sandbox_id)
    pids = e2b_env.running_pids(info.sandbox_id)
    assert pids

    assert provider.pause(info.sandbox_id) is True

    assert all(_state(pid) == "T" for pid in pids)  # frozen with their memory, not ended
    (listed,) = [s for s in provider.list_running() if s.sandbox_id == info.sandbox_id]
    assert listed.metadata["state"] == "paused"  # the reaper still sees it
    assert provider.pause(info.sandbox_id) is False  # already paused (409): not an error
    pauses = [(m, p) for m, p, _ in e2b_env.requests if p.endswith("/pause")]
    assert pauses == [("POST", f"/sandboxes/{info.sandbox_id}/pause")] * 2

    provider.resume(info.sandbox_id, 900)

    assert e2b_env.resumes.count(info.sandbox_id) == 1
    assert all(_state(pid) != "T" for pid in pids)
    connects = [body for _, p, body in e2b_env.requests if p == f"/v2/sandboxes/{info.sandbox_id}/connect"]
    assert connects[-1] == {"timeout": 900}
    (listed,) = [s for s in provider.list_running() if s.sandbox_id == info.sandbox_id]
    assert listed.metadata["state"] == "running"
    # Its files read back as before the pause.
    assert provider.read_file(info.sandbox_id, "result.json")
    provider.kill(info.sandbox_id)


def test_pausing_a_gone_sandbox_says_not_found(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    with pytest.raises(SandboxNotFound):
        provider.pause("inosuchsandbox00")
    with pytest.raises(SandboxNotFound):
        provider.resume("inosuchsandbox00", 60)


def test_a_long_wait_for_an_answer_pauses_the_sandbox_and_the_answer_resumes_it(
    env,  # noqa: F811
    provider: E2BProvider,
    e2b_env: FakeE2BCloud,
) -> None:
    svc, fake_provider, org_id = env
    run_id, _ = started(svc, fake_provider, org_id, human_input=True, max_duration_s=60)
    info = provider.start(request(run_id, org_id=org_id, spec={"standin_linger_s": 60}))
    svc.runs.transition(
        org_id, run_id, from_statuses=[RunStatus.running], to_status=None, fields={"sandbox_id": info.sandbox_id}
    )
    svc = dataclasses.replace(svc, sandbox_provider=provider)
    ask = human_input.ask(svc, org_id, run_id, "Enter the code", None)
    pids = e2b_env.running_pids(info.sandbox_id)

    svc.clock.advance(svc.settings.sandbox_pause_after_s - 1)  # a short wait: no pause
    assert human_input.take_answer(svc, org_id, run_id, ask["id"])["status"] == "waiting"
    assert not [p for _, p, _ in e2b_env.requests if p.endswith("/pause")]
    svc.clock.advance(2)
    assert human_input.take_answer(svc, org_id, run_id, ask["id"])["status"] == "waiting"
    assert all(_state(pid) == "T" for pid in pids)
    assert svc.runs.get(org_id, run_id, consistent=True).sandbox_paused is True

    human_input.answer(svc, org_id, run_id, InputAnswer(request_id=ask["id"], answer="123456"))

    assert e2b_env.resumes.count(info.sandbox_id) == 1
    assert all(_state(pid) != "T" for pid in pids)
    assert svc.runs.get(org_id, run_id, consistent=True).sandbox_paused is False
    provider.kill(info.sandbox_id)


def test_the_reaper_resumes_a_paused_sandbox_whose_input_deadline_passed(
    env,  # noqa: F811
    provider: E2BProvider,
    e2b_env: FakeE2BCloud,
) -> None:
    svc, fake_provider, org_id = env
    run_id, _ = started(svc, fake_provider, org_id, human_input=True, max_duration_s=60, input_timeout_s=120)
    info = provider.start(request(run_id, org_id=org_id, spec={"standin_linger_s": 60}))
    svc.runs.transition(
        org_id, run_id, from_statuses=[RunStatus.running], to_status=None, fields={"sandbox_id": info.sandbox_id}
    )
    svc = dataclasses.replace(svc, sandbox_provider=provider)
    ask = human_input.ask(svc, org_id, run_id, "Enter the code", None)
    svc.clock.advance(60)
    human_input.take_answer(svc, org_id, run_id, ask["id"])  # paused
    assert reap(svc).resumed == []  # still within its deadline

    svc.clock.advance(61)

    assert reap(svc).resumed == [info.sandbox_id]
    assert e2b_env.resumes.count(info.sandbox_id) == 1
    # The agent, going on, finds the wait expired and ends INPUT_TIMEOUT.
    assert human_input.take_answer(svc, org_id, run_id, ask["id"])["status"] == "expired"
    provider.kill(info.sandbox_id)
