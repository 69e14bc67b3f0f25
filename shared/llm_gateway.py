"""The LLM gateway: an OpenAI-compatible chat-completions route for sandboxes.

The agent calls it with its per-run token; the gateway pins the run's model, refuses calls past the
run's token budgets, forwards to the configured upstream with the provider key (which never enters
a sandbox), and counts the tokens the upstream reports into the run. Usage is therefore counted by
the control plane, not reported by the untrusted sandbox.

stdlib urllib on purpose: the API function must not pay openai's import time at cold start.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from shared.billing import budget
from shared.errors import Conflict, OpenHelmError, PaymentRequired
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.services import Services

log = get_logger("llm_gateway")
MAX_UPSTREAM_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    body: bytes
    content_type: str


class UpstreamUnavailable(OpenHelmError):
    status, type, code = 502, "api_error", "llm_upstream_unavailable"


def chat_completions(svc: Services, org_id: str, run_id: str, request: dict[str, Any]) -> UpstreamReply:
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None or run["status"] != RunStatus.running.value:
        raise Conflict("the run is not running", code="run_not_active")
    used_in, used_out = int(run.get("usage_input_tokens", 0)), int(run.get("usage_output_tokens", 0))
    max_in, max_out = int(run["max_input_tokens"]), int(run["max_output_tokens"])
    if used_in >= max_in or used_out >= max_out:
        raise PaymentRequired(
            f"the run's token budget is spent ({used_in}/{max_in} input, {used_out}/{max_out} output)",
            code="budget_exceeded",
        )
    if request.get("stream"):
        raise Conflict("streaming is not supported by the gateway", code="stream_not_supported")
    body = dict(request)
    body["model"] = run["model"]  # the sandbox cannot pick a different (pricier) model
    for cap in ("max_tokens", "max_completion_tokens"):
        if isinstance(body.get(cap), int):
            body[cap] = max(1, min(body[cap], max_out - used_out))
    body = budget.admit_llm_call(svc, run, body)  # the run's max_cost_usd: 402 or a lower max_tokens
    reply = _forward(svc, body)
    if 200 <= reply.status < 300:
        _count(svc, org_id, run_id, reply)
    else:
        log.warning("llm_upstream_error", run_id=run_id, status=reply.status)
    return reply


def _forward(svc: Services, body: dict[str, Any]) -> UpstreamReply:
    url = svc.settings.llm_base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if svc.settings.llm_api_key:
        headers["Authorization"] = f"Bearer {svc.settings.llm_api_key}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=svc.settings.llm_timeout_s) as resp:
            return UpstreamReply(resp.status, resp.read(MAX_UPSTREAM_BODY), resp.headers.get_content_type())
    except urllib.error.HTTPError as exc:
        # 429/5xx pass through with their headers' meaning intact, so the agent's client retries.
        return UpstreamReply(exc.code, exc.read(64 * 1024), exc.headers.get_content_type())
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise UpstreamUnavailable(f"the model endpoint did not answer: {exc}") from exc


def _count(svc: Services, org_id: str, run_id: str, reply: UpstreamReply) -> None:
    try:
        usage = json.loads(reply.body).get("usage") or {}
    except (ValueError, AttributeError):
        usage = {}
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    if not usage:
        log.warning("llm_usage_missing", run_id=run_id)
    svc.runs.add_usage(org_id, run_id, prompt, completion)
