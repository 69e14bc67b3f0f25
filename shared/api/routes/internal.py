"""Routes the sandbox calls with its per-run token (not in the public OpenAPI document)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import callbacks, llm_gateway, tokens
from shared.api.deps import event, header, services
from shared.errors import BadRequest
from shared.logging import bind_context

router = APIGatewayHttpRouter()
PREFIX = "/internal/"


def _claims(run_id: str | None = None) -> tokens.RunClaims:
    svc = services()
    token = tokens.bearer(header("authorization"))
    claims = tokens.verify(svc.settings.token_secret(), token, int(svc.clock.now().timestamp()), run_id)
    bind_context(run_id=claims.run_id, org_id=claims.org_id)
    return claims


def _json_body() -> Any:
    try:
        return json.loads(event().get("body") or "null")
    except ValueError as exc:
        raise BadRequest("the request body is not valid JSON", code="invalid_json") from exc


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
    callbacks.report_exit(services(), claims.org_id, run_id, body)
    return Response(status_code=202)


@router.post("/internal/llm/v1/chat/completions", include_in_schema=False)
def chat_completions() -> Response[Any]:
    claims = _claims()
    request = _json_body()
    if not isinstance(request, dict):
        raise BadRequest("expected a chat completions request object", code="invalid_request")
    reply = llm_gateway.chat_completions(services(), claims.org_id, claims.run_id, request)
    return Response(
        status_code=reply.status, content_type=reply.content_type, body=reply.body.decode("utf-8", "replace")
    )
