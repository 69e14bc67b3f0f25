"""A long wait pauses the E2B sandbox and the caller's answer resumes it, all through the API (the
real e2b SDK against the fake E2B cloud, moto, an injected clock): the agent asks and long-polls on
the internal routes with its run token, as the in-sandbox agent does; the caller answers on
POST /v1/runs/{id}/input or /tool-results with its API key."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.api import deps
from shared.clock import FakeClock
from shared.models.common import RunStatus
from shared.sandbox.e2b_provider import E2BProvider
from shared.services import Services
from tests.e2b.fake_e2b import FakeE2BCloud
from tests.e2b.test_e2b_provider import request
from tests.integration.test_orchestration_steps import started
from tests.support.apigw import call, http_event
from tests.support.aws import make_services
from tests.support.fake_sandbox import FakeSandboxProvider

LOOKUP = {"name": "lookup_order", "description": "Look an order up.", "parameters": {"type": "object"}}


def _stopped(pids: list[int]) -> list[bool]:
    return [Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T" for pid in pids]


@pytest.fixture
def api_env(moto_aws: None, provider: E2BProvider, e2b_env: FakeE2BCloud) -> Iterator[dict[str, Any]]:
    """A run started (a recording provider hands out its token), then given a real E2B sandbox; the
    API handler serves the services with the E2B provider and the fake clock."""
    from shared.orgs import bootstrap_org

    svc = make_services(clock=FakeClock(), OPENHELM_RUN_TOKEN_SECRET="x" * 40, OPENHELM_PUBLIC_URL="http://127.0.0.1:9")
    recording = FakeSandboxProvider()
    svc.sandbox_provider = recording
    org_id, key = bootstrap_org("acme", svc)
    state: dict[str, Any] = {"svc": svc, "recording": recording, "org_id": org_id, "key": key}
    deps.override(svc)
    try:
        yield state
    finally:
        deps.override(None)


def _start(env: dict[str, Any], provider: E2BProvider, e2b_env: FakeE2BCloud, **run: Any) -> tuple[str, str, str]:
    svc: Services = env["svc"]
    run_id, _ = started(svc, env["recording"], env["org_id"], max_duration_s=60, **run)
    token = env["recording"].requests[-1].run_token
    info = provider.start(request(run_id, org_id=env["org_id"], spec={"standin_linger_s": 60}))
    svc.runs.transition(
        env["org_id"], run_id, from_statuses=[RunStatus.running], to_status=None, fields={"sandbox_id": info.sandbox_id}
    )
    env["svc"] = served = dataclasses.replace(svc, sandbox_provider=provider)
    deps.override(served)
    return run_id, token, info.sandbox_id


def _agent(method: str, path: str, token: str, **kw: Any) -> Any:
    return call(http_event(method, path, headers={"authorization": f"Bearer {token}"}, **kw))


@pytest.mark.parametrize("kind", ["input", "tool"])
def test_a_long_wait_pauses_the_sandbox_and_the_callers_answer_through_the_api_resumes_it(
    api_env: dict[str, Any], provider: E2BProvider, e2b_env: FakeE2BCloud, kind: str
) -> None:
    env = api_env
    extra = {"human_input": True} if kind == "input" else {"tools": [LOOKUP]}
    run_id, token, sandbox_id = _start(env, provider, e2b_env, **extra)
    svc: Services = env["svc"]
    clock = svc.clock
    assert isinstance(clock, FakeClock)
    pids = e2b_env.running_pids(sandbox_id)
    assert pids and not any(_stopped(pids))

    if kind == "input":
        asked = _agent("POST", f"/internal/runs/{run_id}/input-request", token, body={"question": "The code?"})
        wait_id, poll_path, param = asked.json["id"], f"/internal/runs/{run_id}/input", "request_id"
    else:
        asked = _agent(
            "POST", f"/internal/runs/{run_id}/tool-call", token, body={"name": "lookup_order", "arguments": {}}
        )
        wait_id, poll_path, param = asked.json["id"], f"/internal/runs/{run_id}/tool-result", "call_id"
    assert asked.status == 200, asked.text
    waiting = call(http_event("GET", f"/v1/runs/{run_id}", key=env["key"])).json
    assert waiting["status"] == ("needs_input" if kind == "input" else "waiting_for_tool")

    clock.advance(svc.settings.sandbox_pause_after_s - 1)  # a short wait: the sandbox runs on
    assert _agent("GET", poll_path, token, query={param: wait_id}).json["status"] == "waiting"
    assert not [p for _, p, _ in e2b_env.requests if p.endswith("/pause")]
    clock.advance(2)  # a long one: the agent's poll pauses it
    assert _agent("GET", poll_path, token, query={param: wait_id}).json["status"] == "waiting"
    assert [p for _, p, _ in e2b_env.requests if p.endswith("/pause")] == [f"/sandboxes/{sandbox_id}/pause"]
    assert all(_stopped(pids))
    assert e2b_env.resumes.count(sandbox_id) == 0

    if kind == "input":
        body = {"request_id": wait_id, "answer": "123456"}
        answered = call(http_event("POST", f"/v1/runs/{run_id}/input", body=body, key=env["key"]))
    else:
        body = {"call_id": wait_id, "output": "shipped"}
        answered = call(http_event("POST", f"/v1/runs/{run_id}/tool-results", body=body, key=env["key"]))
    assert answered.status == 200, answered.text

    # Resumed with the answer: its processes run again, and the agent's next poll finds the answer.
    assert e2b_env.resumes.count(sandbox_id) == 1
    assert not any(_stopped(pids))
    assert svc.runs.get(env["org_id"], run_id, consistent=True).sandbox_paused is False
    got = _agent("GET", poll_path, token, query={param: wait_id}).json
    assert got["status"] == "answered"
    assert call(http_event("GET", f"/v1/runs/{run_id}", key=env["key"])).json["status"] == "running"
    provider.kill(sandbox_id)
