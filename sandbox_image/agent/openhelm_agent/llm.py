"""The model, through the control plane's OpenAI-compatible LLM gateway (the only module importing openai)."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openhelm_agent.clock import Deadline
from openhelm_agent.content_calls import calls_from_content
from openhelm_agent.errors import AgentFailure, ErrorCode
from openhelm_agent.log import get_logger

log = get_logger("openhelm_agent.llm")

BUDGET_CODES = frozenset({"budget_exceeded", "insufficient_balance", "insufficient_quota"})
# The LLM gateway's answer once the run's max_duration_s (from the control plane's started_at) has
# passed, or when it cut a model call at that deadline. The agent's own clock starts a little later
# (its interpreter and browser start first), so this can come before its own deadline does.
DEADLINE_CODE = "run_deadline_exceeded"
RETRY_STATUSES = frozenset({408, 409, 429})
INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 60.0
# An attempt with less time than this left is not started: it could not get an answer anyway.
MIN_ATTEMPT_S = 0.05


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
    # The tool calls were written in the content (no tool parser upstream): their results go back
    # as user messages, which every chat template understands, rather than as ``tool`` messages.
    calls_in_content: bool = False


class LLMTimeout(Exception):
    """The run's time (max_duration_s) ran out during an LLM call or before its next retry."""


class _Retryable(Exception):
    """One attempt failed in a way worth another (timeout, connection, 408/409/429/5xx, garbage)."""

    def __init__(self, failure: AgentFailure, retry_after: float | None = None) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.retry_after = retry_after


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


def _retry_after(exc: Any) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after`` in seconds)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if 0 <= value <= MAX_RETRY_AFTER_S:
            return value
    return None


def backoff_s(attempt: int) -> float:
    """Delay before retry ``attempt`` (0-based): 0.5 s doubling, at most 8 s, up to 25 % jitter."""
    return min(INITIAL_BACKOFF_S * 2**attempt, MAX_BACKOFF_S) * (1 - 0.25 * random.random())


class LLMClient:
    """Chat completions with tool calling; failures become AgentFailure(LLM_ERROR | BUDGET_EXCEEDED)
    and running out of the run's time LLMTimeout.

    Retries are ours, not the openai client's (``max_retries=0`` there): its retries would each get
    the full per-attempt timeout, so one hanging model overran the run's deadline three times over.
    Here every attempt's timeout and every backoff is cut to the run's time left, and a retry that
    cannot start before the deadline is not made. Retried: timeouts of one attempt, connection
    errors, 408/409/429/5xx (honouring Retry-After) and answers that are not a chat completion
    (garbage JSON, HTML error pages); after ``max_retries`` retries the last one is LLM_ERROR.
    402 and budget codes are BUDGET_EXCEEDED at once, other 4xx LLM_ERROR at once.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        model: str,
        *,
        max_retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import openai

        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url, api_key=token, max_retries=0)
        self.model = model
        self.max_retries = max_retries
        self._sleep = sleep
        self.calls = 0
        self.usage: dict[str, int] = {"prompt_tokens": 0, "completion_tokens": 0}

    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        deadline: Deadline,
        attempt_timeout_s: float,
        response_format: dict[str, Any] | None = None,
    ) -> LLMReply:
        """One model turn, retried within the run's ``deadline``; each attempt at most ``attempt_timeout_s``.

        With ``response_format`` (constrained output) no ``tools`` are sent: the reply's content is
        the tool call as JSON, which servers such as llama.cpp enforce by grammar."""
        self.calls += 1
        attempt = 0
        while True:
            remaining = deadline.remaining()
            if remaining <= MIN_ATTEMPT_S:
                raise LLMTimeout("no time left for the LLM call")
            try:
                return self._attempt(messages, tools, min(attempt_timeout_s, remaining), response_format)
            except _Retryable as exc:
                if attempt >= self.max_retries:
                    if deadline.remaining() <= MIN_ATTEMPT_S:
                        raise LLMTimeout(exc.failure.message) from exc
                    raise exc.failure from exc
                delay = exc.retry_after if exc.retry_after is not None else backoff_s(attempt)
                if delay + MIN_ATTEMPT_S >= deadline.remaining():
                    raise LLMTimeout(f"no time left to retry the LLM call ({exc.failure.message})") from exc
                log.info("llm retry", extra={"attempt": attempt + 1, "delay_s": round(delay, 2), "error": str(exc)})
                self._sleep(delay)
                attempt += 1

    def _attempt(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        timeout_s: float,
        response_format: dict[str, Any] | None = None,
    ) -> LLMReply:
        openai = self._openai
        shape: dict[str, Any] = (
            {"response_format": response_format} if response_format else {"tools": tools, "tool_choice": "auto"}
        )
        try:
            response = self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=messages,
                timeout=timeout_s,
                **shape,
            )
        except openai.APITimeoutError as exc:
            raise _Retryable(AgentFailure(ErrorCode.LLM_ERROR, f"LLM call timed out after {timeout_s:.0f}s")) from exc
        except openai.APIStatusError as exc:
            code = _error_code(exc)
            if exc.status_code == 402 or code in BUDGET_CODES:
                raise AgentFailure(ErrorCode.BUDGET_EXCEEDED, f"LLM gateway refused: {_error_text(exc)}") from exc
            if code == DEADLINE_CODE:  # the control plane's clock says the run is out of time
                raise AgentFailure(ErrorCode.AGENT_TIMEOUT, f"max_duration_s reached: {_error_text(exc)}") from exc
            failure = AgentFailure(
                ErrorCode.LLM_ERROR, f"LLM gateway answered HTTP {exc.status_code}: {_error_text(exc)}"
            )
            if exc.status_code in RETRY_STATUSES or exc.status_code >= 500:
                raise _Retryable(failure, _retry_after(exc)) from exc
            raise failure from exc
        except openai.APIConnectionError as exc:
            raise _Retryable(AgentFailure(ErrorCode.LLM_ERROR, f"LLM call failed: {_error_text(exc)}")) from exc
        except openai.OpenAIError as exc:
            raise AgentFailure(ErrorCode.LLM_ERROR, f"LLM call failed: {_error_text(exc)}") from exc
        except ValueError as exc:  # a 2xx whose body is not JSON (json.JSONDecodeError)
            raise _Retryable(AgentFailure(ErrorCode.LLM_ERROR, f"LLM gateway sent unreadable JSON: {exc}")) from exc
        try:
            return self._reply(response, [t["function"]["name"] for t in tools])
        except (AttributeError, TypeError, ValueError, IndexError) as exc:
            # 2xx JSON that is not a chat completion, or a non-JSON body the client handed back as text
            detail = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
            raise _Retryable(
                AgentFailure(ErrorCode.LLM_ERROR, f"LLM gateway sent a malformed chat completion ({detail})")
            ) from exc

    def _reply(self, response: Any, tool_names: list[str]) -> LLMReply:
        if not response.choices:
            raise ValueError("no choices")
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
        if not calls and message.content:
            calls = [
                ToolCallRequest(id=f"call_{uuid.uuid4().hex[:12]}", name=name, arguments=arguments)
                for name, arguments in calls_from_content(message.content, tool_names)
            ]
            if calls:  # sent back as the model wrote it: a server without tool support knows no tool_calls
                assistant = {"role": "assistant", "content": message.content}
                return LLMReply(message.content, calls, assistant, usage, calls_in_content=True)
        assistant: dict[str, Any] = {"role": "assistant", "content": message.content or None}
        if calls:
            assistant["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
            ]
        elif not message.content:
            assistant["content"] = ""
        return LLMReply(text=message.content, tool_calls=calls, assistant_message=assistant, usage=usage)
