"""The LLM gateway's HTTP face: a Lambda function URL event in, a function URL response out.

Function URLs send API Gateway's payload format 2.0 (``routeKey`` and ``stage`` are ``$default``)
and take the same response shape. One route, so no router framework: the function stays as light
to import as the domain code it calls. AuthType is NONE on purpose: the per-run token, verified
here exactly as the API verifies it, is the only credential a sandbox holds.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from shared import llm_gateway, tokens
from shared.errors import BadRequest, MethodNotAllowed, NotFound, OpenHelmError
from shared.logging import bind_context, get_logger
from shared.services import Services

log = get_logger(__name__)
CHAT_PATH = "/v1/chat/completions"


def handle(svc: Services, event: dict[str, Any], *, time_left_s: float | None = None) -> dict[str, Any]:
    """Answer one function URL request (never raises)."""
    try:
        return _handle(svc, event, time_left_s)
    except OpenHelmError as exc:
        if exc.status >= 500:
            log.error("llm_gateway_failed", code=exc.code, error=exc.message, cause=repr(exc.__cause__))
        return _error(exc.status, exc.type, exc.code, exc.message, exc.headers)
    except Exception as exc:
        log.exception("llm_gateway_unhandled", error_type=type(exc).__name__)
        return _error(500, "api_error", "internal_error", "internal error; it has been logged")


def _handle(svc: Services, event: dict[str, Any], time_left_s: float | None) -> dict[str, Any]:
    http = (event.get("requestContext") or {}).get("http") or {}
    path = (event.get("rawPath") or http.get("path") or "/").rstrip("/")
    if path != CHAT_PATH:
        raise NotFound(f"no route {path or '/'}; the LLM gateway serves POST {CHAT_PATH}")
    if str(http.get("method", "")).upper() != "POST":
        raise MethodNotAllowed(f"{CHAT_PATH} takes POST", headers={"Allow": "POST"})
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    token = tokens.bearer(headers.get("authorization"))
    claims = tokens.verify(svc.settings.token_secret(), token, int(svc.clock.now().timestamp()))
    bind_context(run_id=claims.run_id, org_id=claims.org_id)
    request = _json_body(event)
    if not isinstance(request, dict):
        raise BadRequest("expected a chat completions request object", code="invalid_request")
    reply = llm_gateway.chat_completions(svc, claims.org_id, claims.run_id, request, time_left_s=time_left_s)
    return {
        "statusCode": reply.status,
        "headers": {"content-type": reply.content_type, **reply.headers},
        "body": reply.body.decode("utf-8", "replace"),
        "isBase64Encoded": False,
    }


def _json_body(event: dict[str, Any]) -> Any:
    raw: str | bytes = event.get("body") or ""
    try:
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw, validate=True)
        return json.loads(raw or "null")
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise BadRequest("the request body is not valid JSON", code="invalid_json") from exc


def _error(status: int, type_: str, code: str, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    # The project's envelope; OpenAI clients read error.code and error.message from it too.
    body = {"error": {"type": type_, "code": code, "message": message, "details": None}}
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
