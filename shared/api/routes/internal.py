"""Routes the sandbox calls with its per-run token (not in the public OpenAPI document).

The LLM gateway is not here: model calls may outlast API Gateway's 30 s, so it has its own
function behind a function URL (functions/llm_gateway, shared/llm_gateway_http.py).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import callbacks, tokens
from shared.api.deps import header, services
from shared.logging import bind_context

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
