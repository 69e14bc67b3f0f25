"""Routes the sandbox calls with its per-run token (not in the public OpenAPI document).

The LLM gateway is not here: model calls may outlast API Gateway's 30 s, so it has its own
function behind a function URL (functions/llm_gateway, shared/llm_gateway_http.py).
"""

from __future__ import annotations

import base64

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from shared import callbacks, tokens
from shared.api.deps import event, header, services
from shared.api.urls import base_url
from shared.errors import BadRequest, NotFound
from shared.logging import bind_context
from shared.sessions import service as sessions
from shared.sessions.paths import is_session_id

router = APIGatewayHttpRouter()
PREFIX = "/internal/"


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


class ReadyReport(BaseModel):
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
