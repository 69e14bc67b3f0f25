"""The chat completions <-> runs mapping (shared.chat.mapping), without a stack."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.chat import mapping
from shared.chat.mapping import ChatRequestError
from shared.config import Settings
from shared.errors import NotFound, RateLimited, Unprocessable
from shared.models.common import RunStatus
from shared.models.orgs import Org, OrgLimits
from shared.models.runs import Run

SETTINGS = Settings(OPENHELM_DEFAULT_MODEL="gpt-4.1-mini", OPENHELM_CHAT_MODELS="qwen2.5-coder, llama3")
ORG = Org(id="org_1", name="acme", created_at=datetime(2026, 1, 1, tzinfo=UTC), default_project_id="prj_1")


def request(**kw):
    body = {"model": "openhelm-browser", "messages": [{"role": "user", "content": "find the price"}], **kw}
    return mapping.parse_request(body)


def run(status: RunStatus, **kw) -> Run:
    base = {
        "id": "run_1",
        "status": status,
        "prompt": "find the price",
        "model": "gpt-4.1-mini",
        "project_id": "prj_1",
        "max_duration_s": 600,
        "max_steps": 50,
        "max_input_tokens": 100_000,
        "max_output_tokens": 10_000,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    return Run.model_validate({**base, **kw})


def test_presets_are_the_default_agent_then_one_per_pinned_model() -> None:
    presets = mapping.presets(SETTINGS)
    assert next(iter(presets)) == "openhelm-browser" and presets["openhelm-browser"] is None
    assert presets["openhelm-browser:gpt-4.1-mini"] == "gpt-4.1-mini"
    assert presets["openhelm-browser:qwen2.5-coder"] == "qwen2.5-coder" and "openhelm-browser:llama3" in presets
    listed = mapping.model_list(SETTINGS, 1).data
    assert listed[0].underlying_model == "gpt-4.1-mini" and all(m.object == "model" for m in listed)


def test_the_last_user_message_is_the_task_and_the_rest_is_context_oldest_first() -> None:
    req = request(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": [{"type": "text", "text": "hi, what shall I do?"}]},
            {"role": "user", "content": [{"type": "text", "text": "find the price on {{site}}"}]},
        ]
    )
    run_req = mapping.run_request(req, SETTINGS, ORG)
    task, _, context = run_req.prompt.partition("\n\nContext")
    assert task == "find the price on {{site}}"
    assert context.splitlines()[1:] == ["[system] be brief", "[user] hello", "[assistant] hi, what shall I do?"]
    # a {{name}} in chat text is text, not a placeholder of ours: it fills in as itself
    assert run_req.inputs == {"site": "{{site}}"}
    assert run_req.model is None  # the default preset: the deployment's model


def test_context_is_dropped_oldest_first_to_fit_the_prompt() -> None:
    old = {"role": "user", "content": "o" * 15_000}
    recent = {"role": "assistant", "content": "r" * 6_000}
    req = request(messages=[old, recent, {"role": "user", "content": "the task"}])
    prompt = mapping.compose_prompt(req)
    assert len(prompt) <= mapping.MAX_PROMPT and "r" * 6_000 in prompt and "o" * 100 not in prompt


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "system", "content": "only a system message"}], "messages"),
        ([{"role": "user", "content": "hi"}], "messages"),
        ([{"role": "robot", "content": "hello there"}], "messages.0.role"),
    ],
)
def test_a_request_without_a_usable_task_is_a_400_naming_the_field(messages, param) -> None:
    with pytest.raises(ChatRequestError) as err:
        mapping.run_request(request(messages=messages), SETTINGS, ORG)
    assert err.value.status == 400 and err.value.param == param


def test_response_format_becomes_the_output_schema() -> None:
    schema = {"type": "object", "properties": {"price": {"type": "number"}}, "required": ["price"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": schema, "strict": True}}
    assert mapping.run_request(request(response_format=fmt), SETTINGS, ORG).output_schema == schema
    assert mapping.output_schema(request(response_format={"type": "json_object"})) == {"type": "object"}
    assert mapping.output_schema(request(response_format={"type": "text"})) is None
    with pytest.raises(ChatRequestError, match=r"json_schema\.schema"):
        mapping.output_schema(request(response_format={"type": "json_schema"}))


def test_preset_tokens_user_and_metadata_reach_the_run() -> None:
    req = request(model="openhelm-browser:llama3", max_completion_tokens=2000, user="u1", metadata={"a": "b"})
    run_req = mapping.run_request(req, SETTINGS, ORG)
    assert run_req.model == "llama3" and run_req.max_output_tokens == 2000
    assert run_req.metadata == {"a": "b", "user": "u1"}
    # the run must end inside the streaming invocation (Timeout 900 s)
    assert run_req.max_duration_s == min(ORG.limits.max_duration_s, mapping.CHAT_MAX_DURATION_S)
    slow_org = ORG.model_copy(update={"limits": OrgLimits(max_duration_s=3600)})
    assert mapping.run_request(req, SETTINGS, slow_org).max_duration_s == mapping.CHAT_MAX_DURATION_S


def test_unknown_model_tiny_max_tokens_and_too_much_metadata_are_refused() -> None:
    with pytest.raises(NotFound) as err:
        mapping.run_request(request(model="gpt-4o"), SETTINGS, ORG)
    assert err.value.code == "model_not_found"
    with pytest.raises(ChatRequestError) as small:
        mapping.run_request(request(max_tokens=50), SETTINGS, ORG)
    assert small.value.param == "max_tokens"
    with pytest.raises(ChatRequestError) as many:
        mapping.run_request(request(user="u", metadata={f"k{i}": "v" for i in range(16)}), SETTINGS, ORG)
    assert many.value.param == "metadata"


def test_a_succeeded_run_is_a_completion_with_the_json_usage_and_the_run() -> None:
    done = run(
        RunStatus.succeeded,
        result={"price": 12},
        usage={"input_tokens": 900, "output_tokens": 80, "cost_micros": 6000, "cost_usd": "0.006"},
        confidence={"score": 0.9, "reason": "ok"},
    )
    body = mapping.completion(done, "openhelm-browser", 7, "https://api.example")
    assert body["id"] == "chatcmpl-run_1" and body["object"] == "chat.completion" and body["created"] == 7
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and json.loads(choice["message"]["content"]) == {"price": 12}
    assert body["usage"] == {"prompt_tokens": 900, "completion_tokens": 80, "total_tokens": 980}
    assert body["openhelm"]["run_url"] == "https://api.example/v1/runs/run_1"
    assert body["openhelm"]["cost_usd"] == "0.006" and body["openhelm"]["confidence"] == 0.9
    assert mapping.content(run(RunStatus.succeeded, result="12 USD")) == "12 USD"  # text stays text


def test_usage_chunk_has_no_choices_and_progress_is_a_short_line() -> None:
    assert mapping.chunk("run_1", "m", 1, None, usage={"total_tokens": 1})["choices"] == []
    going = run(RunStatus.running, progress={"step": 3, "last_action": "click", "last_url": "https://x/p"})
    assert mapping.progress_note(going) == "step 3: click on https://x/p\n"
    assert mapping.progress_note(run(RunStatus.running)) is None


@pytest.mark.parametrize(
    ("code", "status", "type_"),
    [
        ("BUDGET_EXCEEDED", 402, "billing_error"),
        ("AGENT_TIMEOUT", 504, "timeout_error"),
        ("LLM_ERROR", 502, "upstream_error"),
        ("SCHEMA_UNSATISFIED", 500, "agent_error"),
        ("AGENT_MAX_STEPS", 500, "agent_error"),
    ],
)
def test_a_failed_run_is_an_error_the_client_must_not_retry(code, status, type_) -> None:
    err = mapping.outcome_error(run(RunStatus.failed, error={"code": code, "message": "why"}))
    assert err is not None and (err.status, err.type, err.code) == (status, type_, code.lower())
    assert err.headers == {"x-should-retry": "false"}  # a retry would be a second, billed run
    assert "why" in err.message and "run_1" in err.message


def test_nothing_ran_is_a_503_with_retry_after() -> None:
    err = mapping.outcome_error(run(RunStatus.failed, error={"code": "ORCHESTRATION_UNAVAILABLE", "message": "x"}))
    assert err is not None and err.status == 503 and err.headers == {"retry-after": "5"}


def test_needs_input_is_guardrail_triggered_with_the_question() -> None:
    err = mapping.outcome_error(run(RunStatus.needs_input), "Which account should I log in with?")
    assert err is not None and err.status == 400 and err.code == "guardrail_triggered"
    assert "Which account should I log in with?" in err.message
    assert mapping.outcome_error(run(RunStatus.cancelled)).status == 409  # type: ignore[union-attr]
    assert mapping.outcome_error(run(RunStatus.succeeded)) is None
    assert mapping.outcome_error(run(RunStatus.running)) is None


def test_errors_are_in_openai_shape_with_openai_statuses() -> None:
    body = mapping.error_body(RateLimited("slow down", headers={"Retry-After": "3"}))
    expected = {"message": "slow down", "type": "rate_limit_error", "code": "rate_limited", "param": None}
    assert body == {"error": expected}
    assert mapping.error_body(ChatRequestError("bad", param="max_tokens"))["error"]["param"] == "max_tokens"
    assert mapping.http_status(Unprocessable("schema")) == 400
