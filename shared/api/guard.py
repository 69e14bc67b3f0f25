"""Checks made on the raw API Gateway event before the resolver sees it.

Powertools' validating resolver turns a non-UTF-8 body or a multipart body without boundary into a
500 and answers 404 for a known path with the wrong method; we answer 400/413/415 and 405 (with
``Allow``) here instead, in the error envelope.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

from shared.api.errors import error_response, to_gateway

_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;.*)?$", re.I)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _reject(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    type_ = "invalid_request_error"
    return to_gateway(error_response(status, type_, code, message, headers=headers))


def check_event(
    event: dict[str, Any], max_body_bytes: int, routes: Iterable[tuple[str, re.Pattern[str]]]
) -> dict[str, Any] | None:
    """Return an API Gateway response to send instead of routing, or None (``event`` may be normalised:
    a base64 body is decoded to text)."""
    http = event.get("requestContext", {}).get("http", {})
    method = http.get("method", "GET").upper()
    path = event.get("rawPath") or http.get("path") or "/"

    allowed = sorted({m for m, rule in routes if rule.match(path)})
    if allowed and method not in allowed and method != "OPTIONS":
        return _reject(
            405,
            "method_not_allowed",
            f"{method} is not allowed on {path}; allowed: {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )

    body = event.get("body")
    if body is None or body == "":
        return None
    raw: bytes
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return _reject(400, "invalid_body", "the request body is not valid base64")
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > max_body_bytes:
        return _reject(413, "payload_too_large", f"the request body is larger than {max_body_bytes} bytes")
    if method not in _BODY_METHODS:
        return None
    content_type = (event.get("headers") or {}).get("content-type", "application/json")
    if not _JSON_TYPE.match(content_type.strip()):
        return _reject(415, "unsupported_media_type", f"send application/json, not {content_type.split(';')[0]}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _reject(400, "invalid_encoding", "the request body is not UTF-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return _reject(400, "invalid_json", f"the request body is not valid JSON: {exc.msg} at position {exc.pos}")
    event["body"] = text
    event["isBase64Encoded"] = False
    return None
