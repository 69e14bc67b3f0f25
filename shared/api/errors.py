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
    PayloadTooLarge,
    PaymentRequired,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)
from shared.logging import get_logger
from shared.models.common import ErrorResponse
from shared.ratelimit import unavailable_headers

log = get_logger("api.errors")
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


def _doc(cls: type[OpenHelmError], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"model": ErrorResponse}}}


# Error responses documented on every authenticated route; routes add their own on top.
COMMON_ERRORS = {
    400: _doc(BadRequest, "Malformed request: body not UTF-8 or not JSON, bad cursor."),
    401: _doc(Unauthorized, "Missing or invalid API key."),
    405: _doc(MethodNotAllowed, "Method not allowed on this path; see the Allow header."),
    413: _doc(PayloadTooLarge, "Request body too large."),
    415: _doc(BadRequest, "Body is not application/json."),
    422: _doc(Unprocessable, "The request is well-formed but invalid; details say where."),
    503: _doc(ServiceUnavailable, "A dependency is unavailable; retry with backoff."),
}
NOT_FOUND = {404: _doc(NotFound, "No such resource in your org.")}
CONFLICT = {409: _doc(Conflict, "The resource is not in a state that allows this.")}
RATE_LIMITED = {429: _doc(RateLimited, "Too many runs created; see the Retry-After header.")}
PAYMENT = {402: _doc(PaymentRequired, "Balance too low for this run's budget.")}
SCOPE = {403: _doc(Forbidden, "The API key is read-only (`insufficient_scope`); writes need a `full` key.")}
