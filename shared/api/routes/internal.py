"""Routes the sandbox calls with its per-run token (not in the public OpenAPI document).

The LLM gateway is not here: model calls may outlast API Gateway's 30 s, so it has its own
function behind a function URL (functions/llm_gateway, shared/llm_gateway_http.py).
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field

from shared import callbacks, tokens
from shared.api.deps import event, header, query, services
from shared.api.route_table import INTERNAL_PREFIX as PREFIX  # noqa: F401 (re-exported: shared.api.app)
from shared.api.urls import base_url
from shared.errors import BadRequest, NotFound
from shared.logging import bind_context
from shared.models.common import Model
from shared.runs import custom_tools, human_input
from shared.sessions import service as sessions
from shared.sessions.paths import is_session_id

router = APIGatewayHttpRouter()
MAX_INPUT_WAIT_S = 20.0
INPUT_POLL_S = 0.5


def _claims(run_id: str | None = None) -> tokens.RunClaims:
    svc = services()
    token = tokens.bearer(header("authorization"))
    claims = tokens.verify(svc.settings.token_secret(), token, int(svc.clock.now().timestamp()), run_id)
    bind_context(run_id=claims.run_id, org_id=claims.org_id)
    return claims


@router.post("/internal/runs/<run_id>/progress", include_in_schema=False)
def progress(run_id: str, body: callbacks.ProgressReport) -> Response[None]:
    claims = _claims(run_id)
    callbacks.record_progress(services(), claims.org_id, run_id, body)
    return Response(status_code=204)


@router.post("/internal/runs/<run_id>/complete", include_in_schema=False)
def complete(run_id: str, body: callbacks.CompletionReport) -> Response[None]:
    claims = _claims(run_id)
    callbacks.complete(services(), claims.org_id, run_id, body)
    return Response(status_code=202)


@router.post("/internal/runs/<run_id>/exit", include_in_schema=False)
def agent_exit(run_id: str, body: callbacks.ExitReport) -> Response[None]:
    claims = _claims(run_id)
    if is_session_id(run_id):  # a session's agent (its supervisor, or the local provider) ended
        sessions.sandbox_died(services(), claims.org_id, run_id, body.model_dump(exclude_none=True))
        return Response(status_code=202)
    callbacks.report_exit(services(), claims.org_id, run_id, body)
    return Response(status_code=202)


class AskBody(Model):
    question: str = Field(min_length=1, max_length=human_input.MAX_QUESTION)
    schema_: dict[str, Any] | None = Field(None, alias="schema")


@router.post("/internal/runs/<run_id>/input-request", include_in_schema=False)
def input_request(run_id: str, body: AskBody) -> dict[str, Any]:
    claims = _claims(run_id)
    return human_input.ask(services(), claims.org_id, run_id, body.question, body.schema_)


@router.get("/internal/runs/<run_id>/input", include_in_schema=False)
def input_answer(run_id: str) -> dict[str, Any]:
    """A bounded long poll for the answer (``wait`` at most 20 s: well under API Gateway's 30 s)."""
    claims = _claims(run_id)
    svc = services()
    request_id = (query("request_id") or "")[:100]
    try:
        wait = min(MAX_INPUT_WAIT_S, max(0.0, float(query("wait") or 0)))
    except ValueError as exc:
        raise BadRequest("wait must be a number of seconds", code="invalid_wait") from exc
    until = svc.clock.monotonic() + wait
    while True:
        answer = human_input.take_answer(svc, claims.org_id, run_id, request_id)
        if answer["status"] != "waiting" or svc.clock.monotonic() + INPUT_POLL_S > until:
            return answer
        svc.clock.sleep(INPUT_POLL_S)


class ToolCallBody(Model):
    name: str = Field(min_length=1, max_length=64)
    arguments: dict[str, Any] = Field(default_factory=dict)


@router.post("/internal/runs/<run_id>/tool-call", include_in_schema=False)
def tool_call(run_id: str, body: ToolCallBody) -> dict[str, Any]:
    claims = _claims(run_id)
    return custom_tools.call(services(), claims.org_id, run_id, body.name, body.arguments)


@router.get("/internal/runs/<run_id>/tool-result", include_in_schema=False)
def tool_result(run_id: str) -> dict[str, Any]:
    """A bounded long poll for the tool's result, like the input poll."""
    claims = _claims(run_id)
    svc = services()
    call_id = (query("call_id") or "")[:100]
    until = svc.clock.monotonic() + _wait_s()
    while True:
        result = custom_tools.take_result(svc, claims.org_id, run_id, call_id)
        if result["status"] != "waiting" or svc.clock.monotonic() + INPUT_POLL_S > until:
            return result
        svc.clock.sleep(INPUT_POLL_S)


def _wait_s() -> float:
    try:
        return min(MAX_INPUT_WAIT_S, max(0.0, float(query("wait") or 0)))
    except ValueError as exc:
        raise BadRequest("wait must be a number of seconds", code="invalid_wait") from exc


class ReadyReport(Model):
    url: str | None = Field(None, max_length=4096)
    title: str | None = Field(None, max_length=1000)


@router.post("/internal/sessions/<session_id>/ready", include_in_schema=False)
def session_ready(session_id: str, body: ReadyReport) -> Response[None]:
    """A session's agent has Chromium up (its token is the session's)."""
    claims = _claims(session_id)
    svc = services()
    sessions.mark_ready(svc, claims.org_id, session_id, body.url, body.title, base_url(svc))
    return Response(status_code=204)


@router.post("/internal/e2b/events", include_in_schema=False)
def e2b_events() -> Response[None]:
    """E2B's lifecycle webhook: a killed sandbox ends its run at once (authenticated by signature)."""
    svc = services()
    raw = event().get("body") or ""
    body = base64.b64decode(raw) if event().get("isBase64Encoded") else raw.encode()
    if not callbacks.e2b_signature_valid(svc.settings.e2b_webhook_secret, body, header("e2b-signature")):
        raise NotFound("no such route", code="not_found")  # off, or not E2B: nothing to learn here
    try:
        parsed = callbacks.E2BEvent.model_validate_json(body)
    except ValueError as exc:
        raise BadRequest("not an E2B lifecycle event", code="invalid_event") from exc
    callbacks.e2b_lifecycle(svc, parsed)
    return Response(status_code=204)
