"""The LLM gateway: an OpenAI-compatible chat-completions endpoint for sandboxes.

The agent calls it with its per-run token; the gateway pins the run's model, refuses calls past the
run's token budgets or its deadline, forwards to the configured upstream with the provider key
(which never enters a sandbox), and counts the tokens the upstream reports into the run. Usage is
therefore counted by the control plane, not reported by the untrusted sandbox.

It runs in its own function (functions/llm_gateway) behind a Lambda function URL, not behind API
Gateway: a slow model may take minutes, and an HTTP API integration ends at 30 s. Every upstream
call is bounded by the shortest of ``llm_timeout_s``, the run's remaining time (``started_at +
max_duration_s``) and the invocation's remaining time, so a hanging model can never hold a run
past its deadline nor a Lambda past its timeout.

stdlib urllib on purpose: the gateway function must not pay openai's import time at cold start.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from shared.billing import budget
from shared.errors import Conflict, OpenHelmError, PaymentRequired
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.services import Services

log = get_logger(__name__)
# A buffered function URL answers at most 6 MB, the JSON-escaped body included: well above any chat
# completion, and a larger upstream reply is refused whole rather than cut into invalid JSON.
MAX_UPSTREAM_BODY = 4 * 1024 * 1024
# The least time an upstream call is given once the run still has time left: a call started with
# 0.2 s left may end up to this much past the deadline, no more.
MIN_CALL_TIMEOUT_S = 1.0
# Kept back from the invocation's remaining time to answer (and count usage) before Lambda's timeout.
INVOCATION_MARGIN_S = 5.0
# OpenAI's clients honour this header: a call cut by the run's deadline is not worth retrying.
NO_RETRY = {"x-should-retry": "false"}
# A session's own model call (an extract with a schema): its token's subject is the session id.
SESSION_PREFIX = "ses_"
SESSION_CALL_STATUSES = frozenset({"ready", "paused"})
SESSION_MAX_TOKENS = 4096
# Within the direct action's budget in the sandbox (session_actions.ACTION_BUDGET_S).
SESSION_CALL_TIMEOUT_S = 18.0


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class UpstreamUnavailable(OpenHelmError):
    status, type, code = 502, "api_error", "llm_upstream_unavailable"


class UpstreamTimeout(OpenHelmError):
    status, type, code = 504, "api_error", "llm_upstream_timeout"


class RunDeadlineExceeded(OpenHelmError):
    """The run's max_duration_s has passed: no more model calls (the agent ends AGENT_TIMEOUT)."""

    status, type, code = 408, "timeout_error", "run_deadline_exceeded"


def chat_completions(
    svc: Services, org_id: str, run_id: str, request: dict[str, Any], *, time_left_s: float | None = None
) -> UpstreamReply:
    """Forward one chat-completions request for a running run. ``time_left_s``: what the invocation
    itself has left (Lambda's remaining time), None when unbounded."""
    if run_id.startswith(SESSION_PREFIX):  # a session's own token: its agent's extract with a schema
        return session_completions(svc, org_id, run_id, request, time_left_s=time_left_s)
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None or run.status != RunStatus.running:
        raise Conflict("the run is not running", code="run_not_active", headers=dict(NO_RETRY))
    used_in, used_out = run.input_tokens, run.output_tokens
    max_in, max_out = run.max_input_tokens, run.max_output_tokens
    if used_in >= max_in or used_out >= max_out:
        raise PaymentRequired(
            f"the run's token budget is spent ({used_in}/{max_in} input, {used_out}/{max_out} output)",
            code="budget_exceeded",
        )
    if request.get("stream"):
        raise Conflict("streaming is not supported by the gateway", code="stream_not_supported", headers=dict(NO_RETRY))
    timeout_s, by_deadline = call_timeout(svc, run, time_left_s)
    body = dict(request)
    body["model"] = run.model  # the sandbox cannot pick a different (pricier) model
    for cap in ("max_tokens", "max_completion_tokens"):
        if isinstance(body.get(cap), int):
            body[cap] = max(1, min(body[cap], max_out - used_out))
    body = budget.admit_llm_call(svc, run, body)  # the run's max_cost_usd: 402 or a lower max_tokens
    _heartbeat(svc, run)  # a model call is a sign of life, and one may take minutes
    try:
        reply = _forward(svc, body, timeout_s, by_deadline)
    finally:
        _heartbeat(svc, run)
    if 200 <= reply.status < 300:
        _count(svc, org_id, run_id, reply)
    else:
        log.warning("llm_upstream_error", run_id=run_id, status=reply.status)
    return reply


def session_completions(
    svc: Services, org_id: str, session_id: str, request: dict[str, Any], *, time_left_s: float | None = None
) -> UpstreamReply:
    """One model call a session makes for itself (a direct ``extract`` with an ``output_schema``):
    only while the session is ready or paused (its direct actions' states), on the default model,
    ``max_tokens`` capped, bounded like a direct action; the tokens are counted into the session and
    billed in its one usage record (shared/billing/sessions.py)."""
    item = svc.sessions.get(org_id, session_id, consistent=True)
    if item is None or item.get("status") not in SESSION_CALL_STATUSES:
        raise Conflict("the session takes no model call now", code="session_not_active", headers=dict(NO_RETRY))
    if request.get("stream"):
        raise Conflict("streaming is not supported by the gateway", code="stream_not_supported", headers=dict(NO_RETRY))
    body = {k: v for k, v in request.items() if k not in ("tools", "tool_choice", "max_completion_tokens")}
    body["model"] = svc.settings.default_model
    asked = body.get("max_tokens")
    body["max_tokens"] = min(asked, SESSION_MAX_TOKENS) if isinstance(asked, int) and asked > 0 else SESSION_MAX_TOKENS
    timeout_s = min(svc.settings.llm_timeout_s, SESSION_CALL_TIMEOUT_S)
    if time_left_s is not None:
        timeout_s = min(timeout_s, time_left_s - INVOCATION_MARGIN_S)
    reply = _forward(svc, body, max(MIN_CALL_TIMEOUT_S, timeout_s), False)
    if 200 <= reply.status < 300:
        prompt, completion = _tokens(reply, session_id)
        svc.sessions.add_usage(org_id, session_id, prompt, completion)
    else:
        log.warning("llm_upstream_error", session_id=session_id, status=reply.status)
    return reply


def _heartbeat(svc: Services, run: RunRecord) -> None:
    """Beat the StartSandbox task's heartbeat (HeartbeatSeconds in statemachine/run.asl.json).

    Progress reports beat it once per browser action; without these beats a slow model (several
    minutes between actions) let the heartbeat lapse and the run ended AGENT_CRASHED while its
    agent was alive. Best effort: RunExecutions.heartbeat logs and swallows a failure."""
    if run.task_token:
        svc.orchestrator.heartbeat(run.task_token)


def call_timeout(svc: Services, run: RunRecord, time_left_s: float | None) -> tuple[float, bool]:
    """Seconds the upstream call may take, and whether the run's deadline (rather than the
    configured timeout) is what bounds it. RunDeadlineExceeded once the deadline has passed."""
    limit, by_deadline = svc.settings.llm_timeout_s, False
    if run.started_at:
        now = svc.clock.now()
        deadline = run.deadline(now) or run.started_at  # waits for answers do not count
        remaining = (deadline - now).total_seconds()
        if remaining <= 0:
            raise RunDeadlineExceeded(
                f"the run's max_duration_s ({run.max_duration_s} s) has passed", headers=dict(NO_RETRY)
            )
        if remaining < limit:
            limit, by_deadline = remaining, True
    if time_left_s is not None and time_left_s - INVOCATION_MARGIN_S < limit:
        limit, by_deadline = time_left_s - INVOCATION_MARGIN_S, False
    return max(MIN_CALL_TIMEOUT_S, limit), by_deadline


def _forward(svc: Services, body: dict[str, Any], timeout_s: float, by_deadline: bool) -> UpstreamReply:
    url = svc.settings.llm_base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if svc.settings.llm_api_key:
        headers["Authorization"] = f"Bearer {svc.settings.llm_api_key}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    started = svc.clock.monotonic()
    try:
        # The timeout bounds the connect and every read; the body is read in chunks against the
        # same budget, so a server that trickles bytes cannot stretch the call either.
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            data = _read(resp, started + timeout_s, svc)
            return UpstreamReply(resp.status, data, resp.headers.get_content_type())
    except urllib.error.HTTPError as exc:
        # 429/5xx pass through with their headers' meaning intact, so the agent's client retries.
        retry = {k: v for k, v in exc.headers.items() if k.lower() in ("retry-after", "retry-after-ms")}
        return UpstreamReply(exc.code, exc.read(64 * 1024), exc.headers.get_content_type(), retry)
    except TimeoutError as exc:
        raise _timeout(timeout_s, by_deadline) from exc
    except (urllib.error.URLError, OSError) as exc:
        if isinstance(getattr(exc, "reason", None), TimeoutError):
            raise _timeout(timeout_s, by_deadline) from exc
        raise UpstreamUnavailable(f"the model endpoint did not answer: {exc}") from exc


def _read(resp: Any, deadline: float, svc: Services) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := resp.read(64 * 1024):
        size += len(chunk)
        if size > MAX_UPSTREAM_BODY:
            raise UpstreamUnavailable(f"the model's reply is larger than {MAX_UPSTREAM_BODY} bytes")
        chunks.append(chunk)
        if svc.clock.monotonic() > deadline:
            raise TimeoutError("the model's reply did not arrive in time")
    return b"".join(chunks)


def _timeout(timeout_s: float, by_deadline: bool) -> UpstreamTimeout:
    if by_deadline:
        return UpstreamTimeout(
            f"the model did not answer within the run's remaining {timeout_s:.1f} s",
            code="run_deadline_exceeded",
            headers=dict(NO_RETRY),
        )
    return UpstreamTimeout(f"the model did not answer within {timeout_s:.1f} s")


def _tokens(reply: UpstreamReply, subject_id: str) -> tuple[int, int]:
    try:
        usage = json.loads(reply.body).get("usage") or {}
    except (ValueError, AttributeError):
        usage = {}
    if not usage:
        log.warning("llm_usage_missing", subject_id=subject_id)
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def _count(svc: Services, org_id: str, run_id: str, reply: UpstreamReply) -> None:
    prompt, completion = _tokens(reply, run_id)
    svc.runs.add_usage(org_id, run_id, prompt, completion)
