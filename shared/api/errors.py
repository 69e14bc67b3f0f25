"""The one place exceptions become HTTP responses, all in the error envelope."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from shared.api import deps
from shared.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    OpenHelmError,
    PaymentRequired,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)
from shared.logging import get_logger
from shared.models.common import ErrorResponse
from shared.ratelimit import unavailable_headers

log = get_logger(__name__)
JSON = "application/json"


def error_response(
    status: int,
    type_: str,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"error": {"type": type_, "code": code, "message": message, "details": details}}
    return Response(status_code=status, content_type=JSON, body=json.dumps(body, default=str), headers=headers)


def to_gateway(resp: Response) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) response for answers made before the resolver runs."""
    headers = {k: ", ".join(v) if isinstance(v, list) else v for k, v in resp.headers.items()}
    return {"statusCode": resp.status_code, "headers": headers, "body": resp.body, "isBase64Encoded": False}


def from_domain(exc: OpenHelmError) -> Response:
    if exc.status >= 500:
        log.error("request_failed", code=exc.code, error=exc.message, cause=repr(exc.__cause__))
    headers = {**unavailable_headers(deps.current_limits()), **exc.headers} if exc.status == 503 else exc.headers
    return error_response(exc.status, exc.type, exc.code, exc.message, exc.details, headers)


def from_validation(exc: RequestValidationError) -> Response:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        details.append({"loc": loc, "msg": err.get("msg", ""), "type": err.get("type", "")})
    if any(d["type"] == "json_invalid" for d in details):
        return error_response(400, "invalid_request_error", "invalid_json", "the request body is not valid JSON")
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(p for p in first["loc"] if p != "body") or "request"
    return error_response(422, "invalid_request_error", "validation_failed", f"{where}: {first['msg']}", details)


def internal_error(exc: Exception) -> Response:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return error_response(500, "api_error", "internal_error", "internal error; it has been logged")


# -- what the OpenAPI document says each route answers ------------------------------------------
# Every public operation documents each status it can answer, with its schema and headers:
# ``responses=documented(ok("The run."), NOT_FOUND)`` gives its success response(s), the errors
# every authenticated route can answer (COMMON_ERRORS) and the route's own groups.
# tests/unit/test_openapi_document.py holds every operation in the document to that.


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or {"type": "string"}}


def _doc(cls: type[OpenHelmError], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"description": description, "content": {JSON: {"model": ErrorResponse}}}
    if headers:
        doc["headers"] = headers
    return doc


def ok(
    description: str = "OK.",
    model: type | None = None,
    status: int = 200,
    location: str | None = None,
) -> dict[int, dict[str, Any]]:
    """A success response. Without ``model`` its body is the route's return annotation; ``location``
    documents the ``Location`` header (what it points at)."""
    doc: dict[str, Any] = {"description": description}
    if model is not None:
        doc["content"] = {JSON: {"model": model}}
    if location:
        doc["headers"] = {"Location": _header(location)}
    return {status: doc}


def no_content(description: str) -> dict[int, dict[str, Any]]:
    """A 204: no body (shared.api.openapi drops the empty content map Powertools needs to leave it out)."""
    return {204: {"description": description, "content": {}}}


_RETRY_AFTER = {"Retry-After": _header("Seconds to wait before retrying.", {"type": "integer", "minimum": 0})}
# An envelope, or API Gateway's own body: its stage throttle and payload quota answer before our code runs.
_GATEWAY_OR_ENVELOPE = {
    JSON: {
        "schema": {
            "anyOf": [
                {"$ref": "#/components/schemas/ErrorResponse"},
                {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
            ]
        }
    }
}
# Errors every route can answer: the guard's (before routing) and the stage throttle.
PUBLIC_ERRORS = {
    400: _doc(
        BadRequest,
        "Malformed request: body not UTF-8, not JSON, nested deeper than 64 levels, "
        "integers of more than 1,000 digits, non-finite numbers, lone surrogates; bad cursor.",
    ),
    405: _doc(
        MethodNotAllowed,
        "Method not allowed on this path.",
        {"Allow": _header("The methods this path allows, comma-separated.")},
    ),
    # Past API Gateway's own 10 MB quota the gateway answers, with its own body; past ours, we do.
    413: {
        "description": "Request body too large: over OPENHELM_MAX_BODY_BYTES (256 KiB by default; the "
        'envelope) or over API Gateway\'s 10 MB quota (its own body, `{"message": ...}`).',
        "content": _GATEWAY_OR_ENVELOPE,
    },
    # API Gateway answers its stage throttle (template.yaml: 100 requests/s, burst 200) itself, with
    # {"message": "Too Many Requests"}; our own rate limits answer in the envelope with Retry-After.
    429: {
        "description": "Too many requests: the stage throttle (API Gateway's own body, "
        '`{"message": "Too Many Requests"}`) or, where the route says so, an org rate limit.',
        "content": _GATEWAY_OR_ENVELOPE,
    },
}
COMMON_ERRORS = {
    **PUBLIC_ERRORS,
    401: _doc(Unauthorized, "Missing or invalid API key."),
    415: _doc(BadRequest, "Body is not application/json."),
    422: _doc(Unprocessable, "The request is well-formed but invalid; details say where."),
    503: _doc(ServiceUnavailable, "A dependency is unavailable; retry with backoff."),
}
NOT_FOUND = {404: _doc(NotFound, "No such resource in your org.")}
CONFLICT = {409: _doc(Conflict, "The resource is not in a state that allows this.")}
RATE_LIMITED = {
    429: {
        "description": "Too many runs created (the org's rate limit, in the envelope with Retry-After), or "
        'the stage throttle (API Gateway\'s own body, `{"message": "Too Many Requests"}`).',
        "content": _GATEWAY_OR_ENVELOPE,
        "headers": _RETRY_AFTER,
    }
}
PAYMENT = {402: _doc(PaymentRequired, "Balance too low for this run's budget.")}
SCOPE = {403: _doc(Forbidden, "The API key is read-only (`insufficient_scope`); writes need a `full` key.")}


def documented(success: dict[int, dict[str, Any]], *groups: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The responses of an authenticated route: ``success`` (see ``ok``), COMMON_ERRORS, then ``groups``."""
    out = {**success, **COMMON_ERRORS}
    for group in groups:
        out.update(group)
    return dict(sorted(out.items()))
