"""The model, through the control plane's OpenAI-compatible LLM gateway (the only module importing openai)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from openhelm_agent.errors import AgentFailure, ErrorCode
from openhelm_agent.log import get_logger

log = get_logger("openhelm_agent.llm")

BUDGET_CODES = frozenset({"budget_exceeded", "insufficient_balance", "insufficient_quota"})
# The LLM gateway's answer once the run's max_duration_s (from the control plane's started_at) has
# passed, or when it cut a model call at that deadline. The agent's own clock starts a little later
# (its interpreter and browser start first), so this can come before its own deadline does.
DEADLINE_CODE = "run_deadline_exceeded"


@dataclass
class ToolCallRequest:
    id: str
    name: str
    arguments: str


@dataclass
class LLMReply:
    text: str | None
    tool_calls: list[ToolCallRequest]
    assistant_message: dict[str, Any]
    usage: dict[str, int] = field(default_factory=dict)


class LLMTimeout(Exception):
    """The gateway did not answer within the time given (the loop decides if that is AGENT_TIMEOUT)."""


def _error_code(exc: Any) -> str:
    code = getattr(exc, "code", None)
    body = getattr(exc, "body", None)
    if not code and isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            code = inner.get("code")
    return str(code or "").lower()


def _error_text(exc: Any) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:300]


class LLMClient:
    """Chat completions with tool calling; failures become AgentFailure(LLM_ERROR | BUDGET_EXCEEDED).

    The openai client retries 408/409/429/5xx and connection errors itself (``max_retries``, with
    exponential backoff honouring Retry-After).
    """

    def __init__(self, base_url: str, token: str, model: str, *, max_retries: int = 2) -> None:
        import openai

        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url, api_key=token, max_retries=max_retries)
        self.model = model
        self.calls = 0
        self.usage: dict[str, int] = {"prompt_tokens": 0, "completion_tokens": 0}

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], timeout_s: float) -> LLMReply:
        openai = self._openai
        self.calls += 1
        try:
            response = self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=messages,
                tools=tools,
                tool_choice="auto",
                timeout=timeout_s,
            )
        except openai.APITimeoutError as exc:
            raise LLMTimeout(str(exc)) from exc
        except openai.APIStatusError as exc:
            code = _error_code(exc)
            if exc.status_code == 402 or code in BUDGET_CODES:
                raise AgentFailure(ErrorCode.BUDGET_EXCEEDED, f"LLM gateway refused: {_error_text(exc)}") from exc
            if code == DEADLINE_CODE:  # the control plane's clock says the run is out of time
                raise AgentFailure(ErrorCode.AGENT_TIMEOUT, f"max_duration_s reached: {_error_text(exc)}") from exc
            raise AgentFailure(
                ErrorCode.LLM_ERROR, f"LLM gateway answered HTTP {exc.status_code}: {_error_text(exc)}"
            ) from exc
        except openai.OpenAIError as exc:
            raise AgentFailure(ErrorCode.LLM_ERROR, f"LLM call failed: {_error_text(exc)}") from exc
        if not response.choices:
            raise AgentFailure(ErrorCode.LLM_ERROR, "LLM gateway returned no choices")
        message = response.choices[0].message
        usage: dict[str, int] = {}
        if response.usage is not None:
            usage = {
                "prompt_tokens": int(response.usage.prompt_tokens or 0),
                "completion_tokens": int(response.usage.completion_tokens or 0),
            }
            for key, value in usage.items():
                self.usage[key] += value
        calls = [
            ToolCallRequest(
                id=call.id or f"call_{uuid.uuid4().hex[:12]}",
                name=call.function.name,
                arguments=call.function.arguments or "{}",
            )
            for call in (message.tool_calls or [])
            if getattr(call, "function", None) is not None
        ]
        assistant: dict[str, Any] = {"role": "assistant", "content": message.content or None}
        if calls:
            assistant["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
            ]
        elif not message.content:
            assistant["content"] = ""
        return LLMReply(text=message.content, tool_calls=calls, assistant_message=assistant, usage=usage)
