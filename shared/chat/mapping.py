"""Chat completions <-> runs: the request becomes a CreateRunRequest, the run becomes the answer.

Pure functions over models (no I/O), so the whole contract is unit-tested without a stack:

- the last user message is the task (the run's prompt); system, developer, assistant and earlier
  user messages follow it as context, oldest dropped first when the prompt would pass 20,000
  characters;
- ``model`` names a preset from :func:`presets`: ``openhelm-browser`` (the deployment's default
  model) or ``openhelm-browser:<model>``, which pins the model that drives the browser;
- ``response_format`` ``json_schema`` becomes the run's ``output_schema`` (``json_object``: any
  object) and the answer's content is the result as JSON;
- ``max_tokens`` / ``max_completion_tokens`` bound the run's output tokens (every step's reply
  together), ``user`` and ``metadata`` go to the run's metadata;
- a run that ends without an answer becomes the error an OpenAI client raises, with a status it
  understands and ``x-should-retry: false`` wherever the run already ran (OpenAI clients retry
  5xx and 409 by themselves, and a retry here is a second run, billed again).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from shared.chat.models import ChatCompletionRequest, CompletionUsage, Model, ModelList, OpenHelmInfo
from shared.config import Settings
from shared.errors import BadRequest, NotFound, OpenHelmError
from shared.models.common import MAX_METADATA_PAIRS, RunStatus
from shared.models.orgs import Org
from shared.models.runs import CreateRunRequest, Run
from shared.templating import placeholders

DEFAULT_PRESET = "openhelm-browser"
PIN = ":"
MAX_PROMPT = 20_000
# The run must end inside the invocation that streams its answer: the function's Timeout is 900 s
# (Lambda's maximum), and the answer, the evidence wait and the cancel need some of it.
CHAT_MAX_DURATION_S = 840
MIN_OUTPUT_TOKENS = 100  # a run's smallest max_output_tokens (shared.models.runs.RunLimits)
_CONTEXT_HEADER = "\n\nContext (the conversation before this task, oldest first):\n"


class ChatRequestError(BadRequest):
    """A request an OpenAI client sent wrong; ``param`` names the field, as OpenAI's errors do."""

    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_request") -> None:
        super().__init__(message, code=code)
        self.param = param


# ---------------------------------------------------------------------------------------------- models


def presets(settings: Settings) -> dict[str, str | None]:
    """Preset id -> the model it pins (None: the deployment's default model, decided per run)."""
    pinned = [settings.default_model, *settings.pricing.models, *settings.chat_models.split(",")]
    out: dict[str, str | None] = {DEFAULT_PRESET: None}
    for model in (m.strip() for m in pinned):
        if model and model != "replay":
            out.setdefault(f"{DEFAULT_PRESET}{PIN}{model}", model)
    return out


def model_list(settings: Settings, created: int) -> ModelList:
    data = [
        Model(
            id=preset,
            created=created,
            underlying_model=model or settings.default_model,
            description="The browser agent on "
            + (f"{model}, pinned" if model else f"the deployment's default model ({settings.default_model})"),
        )
        for preset, model in presets(settings).items()
    ]
    return ModelList(data=data)


# ---------------------------------------------------------------------------------------------- requests


def parse_request(body: Any) -> ChatCompletionRequest:
    if not isinstance(body, dict):
        raise ChatRequestError("the body must be a JSON object (a chat completions request)")
    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ChatRequestError(f"{loc}: {first['msg']}", param=loc) from exc


def compose_prompt(req: ChatCompletionRequest) -> str:
    """The task (last user message) first, then the rest of the conversation as context."""
    users = [i for i, m in enumerate(req.messages) if m.role == "user"]
    if not users:
        raise ChatRequestError("messages need a user message: the last one is the agent's task", param="messages")
    last = users[-1]
    task = req.messages[last].text().strip()
    if len(task) < 3:
        raise ChatRequestError("the last user message (the task) needs at least 3 characters", param="messages")
    if len(task) > MAX_PROMPT:
        raise ChatRequestError(
            f"the last user message is {len(task)} characters; at most {MAX_PROMPT}",
            param="messages",
            code="prompt_too_long",
        )
    lines = [f"[{m.role}] {m.text().strip()}" for i, m in enumerate(req.messages) if i != last and m.text().strip()]
    room = MAX_PROMPT - len(task) - len(_CONTEXT_HEADER)
    kept: list[str] = []
    for line in reversed(lines):  # newest context is kept first
        if len(line) + 1 > room:
            break
        kept.insert(0, line)
        room -= len(line) + 1
    return task + (_CONTEXT_HEADER + "\n".join(kept) if kept else "")


def output_schema(req: ChatCompletionRequest) -> dict[str, Any] | None:
    fmt = req.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "object"}
    if fmt.json_schema is None or not isinstance(fmt.json_schema.schema_, dict):
        raise ChatRequestError(
            "response_format json_schema needs json_schema.schema (a JSON Schema)", param="response_format"
        )
    return fmt.json_schema.schema_


def run_request(req: ChatCompletionRequest, settings: Settings, org: Org) -> CreateRunRequest:
    """The run a chat request asks for (errors name the OpenAI field)."""
    table = presets(settings)
    if req.model not in table:
        raise NotFound(
            f"the model '{req.model}' does not exist; GET /v1/models lists the agent presets (e.g. '{DEFAULT_PRESET}')",
            code="model_not_found",
        )
    max_tokens = req.max_completion_tokens or req.max_tokens
    if max_tokens is not None and max_tokens < MIN_OUTPUT_TOKENS:
        raise ChatRequestError(
            f"max_tokens bounds the output tokens of the whole run (every step's reply); at least {MIN_OUTPUT_TOKENS}",
            param="max_tokens",
        )
    metadata = dict(req.metadata or {})
    if req.user:
        metadata["user"] = req.user
    if len(metadata) > MAX_METADATA_PAIRS:
        raise ChatRequestError(f"metadata and user: at most {MAX_METADATA_PAIRS} pairs together", param="metadata")
    prompt = compose_prompt(req)
    # Chat text is kept verbatim: a {{name}} in it is not a placeholder of ours, so it fills in as itself.
    inputs = {name: "{{" + name + "}}" for name in placeholders(prompt)} or None
    try:
        return CreateRunRequest(
            prompt=prompt,
            inputs=inputs,
            model=table[req.model],
            output_schema=output_schema(req),
            max_output_tokens=max_tokens,
            max_duration_s=min(org.limits.max_duration_s, CHAT_MAX_DURATION_S),
            metadata=metadata or None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = {"max_output_tokens": "max_tokens", "prompt": "messages"}.get(
            str(first["loc"][0]), str(first["loc"][0])
        )
        raise ChatRequestError(f"{field}: {first['msg']}", param=field) from exc


# ---------------------------------------------------------------------------------------------- answers


def content(run: Run) -> str:
    """The answer's text: a text result as it is, anything else (a schema's JSON) as JSON."""
    if isinstance(run.result, str):
        return run.result
    return json.dumps(run.result, ensure_ascii=False)


def usage(run: Run) -> CompletionUsage:
    u = run.usage
    prompt, completion = (u.input_tokens, u.output_tokens) if u else (0, 0)
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def info(run: Run, base_url: str) -> OpenHelmInfo:
    return OpenHelmInfo(
        run_id=run.id,
        status=run.status.value,
        run_url=f"{base_url}/v1/runs/{run.id}",
        cost_usd=run.usage.cost_usd if run.usage else None,
        cost_micros=run.usage.cost_micros if run.usage else None,
        confidence=run.confidence.score if run.confidence else None,
        steps=run.progress.step if run.progress else None,
        evidence_status=run.evidence_status,
        evidence=[e.screenshot_url for e in run.evidence or [] if e.screenshot_url],
        evidence_manifest_url=run.evidence_manifest_url,
    )


def completion_id(run_id: str) -> str:
    return f"chatcmpl-{run_id}"


def completion(run: Run, preset: str, created: int, base_url: str) -> dict[str, Any]:
    """The non-streaming answer of a succeeded run."""
    return {
        "id": completion_id(run.id),
        "object": "chat.completion",
        "created": created,
        "model": preset,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content(run), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(run).model_dump(),
        "openhelm": info(run, base_url).model_dump(),
    }


def chunk(
    run_id: str,
    preset: str,
    created: int,
    delta: dict[str, Any] | None,
    *,
    finish_reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One ``chat.completion.chunk``; ``delta=None`` is the usage chunk (``choices: []``)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
    body: dict[str, Any] = {
        "id": completion_id(run_id),
        "object": "chat.completion.chunk",
        "created": created,
        "model": preset,
        "system_fingerprint": None,
        "choices": choices,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def progress_note(run: Run) -> str | None:
    """A short line for the progress stream (None while there is nothing new to say)."""
    p = run.progress
    if p is None or not p.step:
        return None
    action = f" {p.last_action}" if p.last_action else ""
    where = f" on {p.last_url}" if p.last_url else ""
    return f"step {p.step}:{action}{where}\n"


# ---------------------------------------------------------------------------------------------- errors

# A run that ended without an answer, by its error code: (status, type). Others are 500 agent_error.
_FAILED: dict[str, tuple[int, str]] = {
    "BUDGET_EXCEEDED": (402, "billing_error"),
    "AGENT_TIMEOUT": (504, "timeout_error"),
    "QUEUE_TIMEOUT": (504, "timeout_error"),
    "LLM_ERROR": (502, "upstream_error"),
    "SANDBOX_START_FAILED": (503, "api_error"),
    "ORCHESTRATION_UNAVAILABLE": (503, "api_error"),
}
# Nothing ran (no sandbox work billed): a retry is a fresh attempt, not a second bill.
_RETRYABLE = {"SANDBOX_START_FAILED", "ORCHESTRATION_UNAVAILABLE"}
RETRY_AFTER_S = 5


class RunEndedWithoutAnswer(OpenHelmError):
    """The run behind a chat request ended (or stopped for a person) without a result."""

    def __init__(self, status: int, type_: str, code: str, message: str, headers: dict[str, str]) -> None:
        super().__init__(message, code=code, headers=headers)
        self.status = status
        self.type = type_


def outcome_error(run: Run, question: str | None = None) -> RunEndedWithoutAnswer | None:
    """The error for a run that will give no answer (None: it succeeded, or is still going)."""
    no_retry = {"x-should-retry": "false"}
    if run.status == RunStatus.needs_input:
        # The agent stopped for a person; a chat client cannot answer, so the request ends here and
        # the run waits for its answer through the API (its input deadline ends it otherwise).
        ask = question or "(no question recorded)"
        return RunEndedWithoutAnswer(
            400,
            "invalid_request_error",
            "guardrail_triggered",
            f"the agent needs human input to go on: {ask} (run {run.id})",
            no_retry,
        )
    if run.status == RunStatus.cancelled:
        return RunEndedWithoutAnswer(409, "conflict_error", "run_cancelled", f"run {run.id} was cancelled", no_retry)
    if run.status != RunStatus.failed:
        return None
    code = run.error.code if run.error else "AGENT_CRASHED"
    status, type_ = _FAILED.get(code, (500, "agent_error"))
    headers = {"retry-after": str(RETRY_AFTER_S)} if code in _RETRYABLE else no_retry
    message = f"run {run.id} failed ({code}): {run.error.message if run.error else 'no answer'}"
    return RunEndedWithoutAnswer(status, type_, code.lower(), message, headers)


def error_body(exc: OpenHelmError) -> dict[str, Any]:
    """OpenAI's error shape: ``{"error": {"message", "type", "code", "param"}}``."""
    return {
        "error": {
            "message": exc.message,
            "type": exc.type,
            "code": exc.code,
            "param": getattr(exc, "param", None),
        }
    }


def http_status(exc: OpenHelmError) -> int:
    # OpenAI answers 400 for every request it cannot take; our 422 (schema, limits) is that here.
    return 400 if exc.status == 422 else exc.status
