"""The LLM gateway function (function URL events in, shared/llm_gateway.py behind) against moto and
a scripted model server over real HTTP: the per-run token, the pinned model, counted usage, and
every upstream call bounded by the configured timeout, the run's deadline and the invocation."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.testing.fake_openai import FakeOpenAI, Stall, ToolCall
from shared import tokens
from shared.clock import FakeClock
from shared.llm_gateway_http import handle
from shared.models.runs import CreateRunRequest
from shared.orchestration.admit import admit
from shared.orchestration.start_sandbox import start_sandbox
from shared.runs import service as runs
from shared.services import Services
from tests.support.aws import make_services
from tests.support.fake_sandbox import FakeSandboxProvider

EVENT = json.loads((Path(__file__).resolve().parents[2] / "events/llm_gateway/chat_completions.json").read_text())
SECRET = "g" * 40
GATEWAY_URL = "https://a1b2c3d4.lambda-url.us-east-1.on.aws/"


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI([]) as server:
        yield server


def make_env(llm: FakeOpenAI, **settings: str) -> tuple[Services, FakeSandboxProvider, str]:
    from shared.orgs import bootstrap_org

    svc = make_services(
        clock=FakeClock(),
        OPENHELM_RUN_TOKEN_SECRET=SECRET,
        OPENHELM_PUBLIC_URL="http://127.0.0.1:9",
        OPENHELM_LLM_BASE_URL=llm.base_url,
        OPENHELM_LLM_API_KEY="sk-upstream-key-0000000000",
        OPENHELM_LLM_GATEWAY_URL=GATEWAY_URL,
        OPENHELM_DEFAULT_MODEL="pinned-model",
        **settings,
    )
    provider = FakeSandboxProvider()
    svc.sandbox_provider = provider
    org_id, _ = bootstrap_org("acme", svc)
    return svc, provider, org_id


@pytest.fixture
def env(moto_aws: None, llm: FakeOpenAI) -> tuple[Services, FakeSandboxProvider, str]:
    return make_env(llm)


def running_run(svc: Services, provider: FakeSandboxProvider, org_id: str, max_duration_s: int = 60) -> str:
    """A run started the way the state machine starts it; returns the agent's run token."""
    org = svc.orgs.get(org_id)
    run_id = runs.create_run(svc, org, CreateRunRequest(prompt="Read the page", max_duration_s=max_duration_s)).run.id
    admit(svc, run_id, org_id)
    start_sandbox(svc, run_id, org_id, task_token=f"tok-{run_id}")
    return provider.requests[-1].run_token


def call(svc: Services, token: str | None, time_left_s: float | None = None, **over: Any):
    """The sample event with this token (and top-level fields replaced by ``over``), through the handler."""
    event = copy.deepcopy(EVENT)
    event["headers"]["authorization"] = f"Bearer {token}" if token else ""
    event.update(over)
    reply = handle(svc, event, time_left_s=time_left_s)
    return reply["statusCode"], reply["headers"], json.loads(reply["body"])


def test_the_sandbox_is_given_the_gateways_function_url(env) -> None:
    svc, provider, org_id = env
    running_run(svc, provider, org_id)
    assert provider.requests[0].llm_url == "https://a1b2c3d4.lambda-url.us-east-1.on.aws/v1"


def test_a_call_is_forwarded_with_the_provider_key_and_the_runs_model_and_counted(env, llm) -> None:
    svc, provider, org_id = env
    token = running_run(svc, provider, org_id)
    llm.reset(
        ToolCall("navigate", {"url": "https://example.com/"}, usage={"prompt_tokens": 70, "completion_tokens": 7})
    )
    status, _headers, body = call(svc, token)
    assert status == 200 and body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "navigate"
    (seen,) = llm.chat_requests
    assert seen.authorization == "Bearer sk-upstream-key-0000000000"
    assert seen.body["model"] == "pinned-model"  # not the model the sandbox asked for
    run = svc.runs.get(org_id, tokens.verify(SECRET.encode(), token, 0).run_id)
    assert (run.usage_input_tokens, run.usage_output_tokens, run.usage_llm_calls) == (70, 7, 1)


def test_a_hanging_model_is_cut_at_the_runs_deadline_and_not_retried(env, llm) -> None:
    svc, provider, org_id = env
    token = running_run(svc, provider, org_id, max_duration_s=60)
    svc.clock.advance(58)  # 2 s of the run left; the model would hang for a minute
    stall = Stall(60)
    llm.reset(stall)
    status, headers, body = call(svc, token)
    assert status == 504 and body["error"]["code"] == "run_deadline_exceeded"
    assert "remaining 2.0 s" in body["error"]["message"]
    assert headers["x-should-retry"] == "false"  # the openai client must not try again
    assert len(llm.chat_requests) == 1 and not stall.answered.is_set()


def test_past_the_deadline_the_gateway_refuses_without_calling_the_model(env, llm) -> None:
    svc, provider, org_id = env
    token = running_run(svc, provider, org_id, max_duration_s=60)
    svc.clock.advance(61)
    llm.reset(ToolCall("navigate", {"url": "https://example.com/"}))
    status, headers, body = call(svc, token)
    assert status == 408 and body["error"]["code"] == "run_deadline_exceeded"
    assert "max_duration_s (60 s)" in body["error"]["message"] and headers["x-should-retry"] == "false"
    assert llm.chat_requests == []


def test_the_configured_timeout_bounds_a_call_when_the_run_has_time(moto_aws, llm) -> None:
    svc, provider, org_id = make_env(llm, OPENHELM_LLM_TIMEOUT_S="1")
    token = running_run(svc, provider, org_id, max_duration_s=600)
    stall = Stall(60)
    llm.reset(stall)
    status, headers, body = call(svc, token)
    # Cut by the setting, not the deadline: retryable, the run still has time.
    assert (
        status == 504 and body["error"]["code"] == "llm_upstream_timeout" and "within 1.0 s" in body["error"]["message"]
    )
    assert "x-should-retry" not in headers and not stall.answered.is_set()


def test_the_invocation_answers_before_its_own_timeout(env, llm) -> None:
    svc, provider, org_id = env
    token = running_run(svc, provider, org_id, max_duration_s=600)
    stall = Stall(60)
    llm.reset(stall)
    # 7 s left in the Lambda invocation: 5 s are kept back to answer, so the model gets 2 s.
    status, _headers, body = call(svc, token, time_left_s=7)
    assert status == 504 and "within 2.0 s" in body["error"]["message"] and not stall.answered.is_set()


def test_default_timeout_is_minutes_not_seconds(env) -> None:
    svc, _provider, _org_id = env
    assert svc.settings.llm_timeout_s == 600


@pytest.mark.parametrize(
    ("token", "over", "status", "code"),
    [
        (None, {}, 401, "invalid_run_token"),
        ("ohrt_run_x.org_y.9999999999.forged", {}, 401, "invalid_run_token"),
        ("VALID", {"rawPath": "/v1/models"}, 404, "not_found"),
        ("VALID", {"body": "{not json"}, 400, "invalid_json"),
        ("VALID", {"body": "[1, 2]"}, 400, "invalid_request"),
    ],
)
def test_bad_requests_are_refused_in_the_envelope_without_calling_the_model(
    env, llm, token, over, status, code
) -> None:
    svc, provider, org_id = env
    valid = running_run(svc, provider, org_id)
    llm.reset(ToolCall("navigate", {"url": "https://example.com/"}))
    got_status, _headers, body = call(svc, valid if token == "VALID" else token, **over)
    assert (got_status, body["error"]["code"]) == (status, code)
    assert llm.chat_requests == []


def test_only_post_is_allowed(env, llm) -> None:
    svc, provider, org_id = env
    token = running_run(svc, provider, org_id)
    event = copy.deepcopy(EVENT)
    event["headers"]["authorization"] = f"Bearer {token}"
    event["requestContext"]["http"]["method"] = "GET"
    reply = handle(svc, event)
    assert reply["statusCode"] == 405 and reply["headers"]["Allow"] == "POST"


def test_a_token_of_a_finished_run_is_refused(env, llm) -> None:
    svc, provider, org_id = env
    token = running_run(svc, provider, org_id)
    run_id = tokens.verify(SECRET.encode(), token, 0).run_id
    runs.cancel_run(svc, org_id, run_id)
    status, headers, body = call(svc, token)
    assert status == 409 and body["error"]["code"] == "run_not_active" and headers["x-should-retry"] == "false"
    assert llm.chat_requests == []


def test_the_public_api_no_longer_serves_the_gateway(env) -> None:
    from shared.api import deps
    from tests.support.apigw import call as api_call
    from tests.support.apigw import http_event

    svc, provider, org_id = env
    token = running_run(svc, provider, org_id)
    deps.override(svc)
    try:
        event = http_event("POST", "/internal/llm/v1/chat/completions", body={"messages": []})
        event["headers"]["authorization"] = f"Bearer {token}"
        assert api_call(event).status == 404
    finally:
        deps.override(None)


def test_each_model_call_beats_the_runs_heartbeat(env, llm) -> None:
    """A slow model leaves minutes between browser actions (the only other heartbeat): the gateway
    beats the StartSandbox task's heartbeat when a call starts and when it ends."""
    svc, provider, org_id = env
    token = running_run(svc, provider, org_id)
    beats: list[str] = []
    svc.orchestrator.client.meta.events.register(
        "before-parameter-build.sfn.SendTaskHeartbeat", lambda params, **_: beats.append(params["taskToken"])
    )
    llm.reset(ToolCall("navigate", {"url": "https://example.com/"}))
    status, _headers, _body = call(svc, token)
    assert status == 200
    run_id = provider.requests[-1].run_id
    assert beats == [f"tok-{run_id}", f"tok-{run_id}"]


def test_a_session_token_calls_on_the_default_model_and_the_tokens_are_the_sessions(env, llm) -> None:
    from devstack.testing.fake_openai import Text
    from shared.models.sessions import CreateSessionRequest
    from shared.sessions import service as sessions

    svc, provider, org_id = env
    org = svc.orgs.get(org_id)
    session = sessions.create_session(svc, org, CreateSessionRequest(), control_url="http://127.0.0.1:9")
    token = provider.requests[-1].run_token  # the session agent's own token
    # Not ready yet (its browser is starting): no model call.
    status, _, body = call(svc, token)
    assert status == 409 and body["error"]["code"] == "session_not_active" and not llm.chat_requests

    sessions.mark_ready(svc, org_id, session.id, "about:blank", "", "http://127.0.0.1:9")
    llm.reset(Text('{"a": 1}', usage={"prompt_tokens": 321, "completion_tokens": 7}))
    event = copy.deepcopy(EVENT)
    request = {**json.loads(event["body"]), "model": "gpt-expensive", "max_tokens": 100_000}
    status, _, body = call(svc, token, body=json.dumps(request))
    assert status == 200 and body["choices"][0]["message"]["content"] == '{"a": 1}'
    (sent,) = llm.chat_requests
    assert sent.body["model"] == "pinned-model" and sent.body["max_tokens"] == 4096
    item = svc.sessions.get(org_id, session.id, consistent=True)
    assert (item["llm_input_tokens"], item["llm_output_tokens"], item["llm_calls"]) == (321, 7, 1)
    assert sessions.get_session(svc, org_id, session.id).usage.input_tokens == 321

    sessions.terminate(svc, org_id, session.id)
    status, _, body = call(svc, token)
    assert status == 409 and body["error"]["code"] == "session_not_active" and len(llm.chat_requests) == 1
