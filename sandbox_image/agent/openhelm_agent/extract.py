"""A session's direct ``extract`` with an ``output_schema``: the page's readable text goes to the model
once (through the LLM gateway, on the session's own token, so the tokens are the session's) and the
answer must be JSON that validates against the schema (validation.py, the rule done.result follows).
No retry with feedback: a direct action is one bounded round trip; the caller sees why it failed."""

from __future__ import annotations

import json
from typing import Any, Protocol

from openhelm_agent.clock import Deadline
from openhelm_agent.errors import AgentFailure
from openhelm_agent.llm import LLMReply, LLMTimeout
from openhelm_agent.validation import schema_errors

# What of the page the model reads (the prompt stays well inside a small model's context).
MAX_PAGE_CHARS = 60_000
MAX_ANSWER_ECHO = 2000
SYSTEM = (
    "You extract structured data from a web page. Answer with one JSON value only, no prose and no "
    "code fences, that validates against the JSON Schema given. Use only what the page says; where "
    "the page does not say, use null if the schema allows it."
)


class Completer(Protocol):
    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        deadline: Deadline,
        attempt_timeout_s: float,
        response_format: dict[str, Any] | None = None,
    ) -> LLMReply: ...


class ExtractFailed(Exception):
    """The model could not give a schema-valid answer; ``code`` says which way."""

    def __init__(self, code: str, message: str, answer: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.answer = answer


def messages_for(text: str, url: str, schema: dict[str, Any], instruction: str | None) -> list[dict[str, Any]]:
    page = text[:MAX_PAGE_CHARS]
    ask = instruction or "Extract the data the schema describes."
    user = (
        f"{ask}\n\nJSON Schema:\n{json.dumps(schema, ensure_ascii=False)}\n\n"
        f"Page ({url}){' (cut)' if len(text) > MAX_PAGE_CHARS else ''}:\n{page}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_answer(content: str | None) -> Any:
    """The model's JSON value; code fences around it are tolerated. ValueError if it is no JSON."""
    raw = (content or "").strip()
    if raw.startswith("```"):
        raw = raw.split("\n", 1)[1] if "\n" in raw else ""
        raw = raw.rsplit("```", 1)[0].strip()
    return json.loads(raw)


def structured(
    llm: Completer,
    text: str,
    url: str,
    schema: dict[str, Any],
    instruction: str | None,
    deadline: Deadline,
    attempt_timeout_s: float,
) -> Any:
    """Ask once; the validated value, or ExtractFailed (``extract_invalid``: the answer is no JSON or
    does not match; ``extract_model_error``: the model or the gateway failed)."""
    try:
        reply = llm.complete(
            messages_for(text, url, schema, instruction),
            [],
            deadline,
            attempt_timeout_s,
            response_format={"type": "json_object"},
        )
    except (AgentFailure, LLMTimeout) as exc:
        raise ExtractFailed("extract_model_error", f"the model did not answer: {exc}") from exc
    answer = reply.text or ""
    try:
        value = parse_answer(answer)
    except ValueError as exc:
        raise ExtractFailed(
            "extract_invalid", f"the model's answer is not JSON ({exc})", answer[:MAX_ANSWER_ECHO]
        ) from exc
    problems = schema_errors(schema, value)
    if problems:
        raise ExtractFailed(
            "extract_invalid",
            "the model's answer does not match output_schema: " + "; ".join(problems),
            answer[:MAX_ANSWER_ECHO],
        )
    return value
