"""Checks made on the raw API Gateway event before the resolver sees it.

Powertools' validating resolver turns a non-UTF-8 body or a multipart body without boundary into a
500 and answers 404 for a known path with the wrong method; we answer 400/413/415 and 405 (with
``Allow``) here instead, in the error envelope.

A JSON body must also be JSON that every later layer can handle: nested at most ``MAX_DEPTH``
levels (checked by an iterative scan before parsing, so a deep document cannot exhaust the stack of
the parser or of anything that walks the result), integers of at most ``MAX_NUMBER_DIGITS`` digits
(a bound of our own rather than the interpreter's ``sys.set_int_max_str_digits`` setting, which any
code in the process may change), finite numbers only (no ``NaN``/``Infinity``, no ``1e400``), and
no lone UTF-16 surrogates (``"\\ud800"`` is not Unicode text: it cannot be stored or sent on).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

from shared.api.errors import error_response, to_gateway
from shared.models.files import MAX_SMALL_UPLOAD_BYTES

_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;.*)?$", re.I)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_DEPTH = 64
MAX_NUMBER_DIGITS = 1000
# A JSON string (skipped whole, escapes included) or a bracket: what the depth scan needs to see.
_DEPTH_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)
_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyRejected(ValueError):
    """The body is not JSON this API accepts; ``code`` and ``message`` go into the 400 envelope."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def _check_depth(text: str) -> None:
    depth = 0
    for match in _DEPTH_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise BodyRejected(
                    "json_too_deep",
                    f"the request body is nested more than {MAX_DEPTH} levels deep",
                    {"max_depth": MAX_DEPTH, "position": match.start()},
                )
        elif token in "]}":
            depth -= 1


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise BodyRejected(
            "number_too_large",
            f"the request body holds an integer of more than {MAX_NUMBER_DIGITS} digits",
            {"max_digits": MAX_NUMBER_DIGITS},
        )
    return int(digits)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")) or len(text) > MAX_NUMBER_DIGITS:
        raise BodyRejected("number_too_large", f"the number {text[:40]} cannot be represented", None)
    return value


def _refuse_constant(name: str) -> Any:
    raise BodyRejected("invalid_json", f"the request body is not valid JSON: {name} is not a JSON value")


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:  # iterative: the depth is bounded already, but nothing here needs the call stack
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise BodyRejected(
                    "invalid_unicode", "the request body holds a lone UTF-16 surrogate (\\ud800-\\udfff)"
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json(text: str) -> Any:
    """Parse a request body under the limits above; raise BodyRejected when it breaks one."""
    _check_depth(text)
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise BodyRejected(
            "invalid_json", f"the request body is not valid JSON: {exc.msg} at position {exc.pos}"
        ) from exc
    except RecursionError as exc:  # unreachable below MAX_DEPTH; kept so no parser limit can become a 500
        raise BodyRejected("json_too_deep", f"the request body is nested more than {MAX_DEPTH} levels deep") from exc
    _check_strings(value)
    return value


def _reject(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, details: Any = None
) -> dict[str, Any]:
    type_ = "invalid_request_error"
    return to_gateway(error_response(status, type_, code, message, details=details, headers=headers))


# Paths that take multipart/form-data (a file upload) besides JSON, with the largest body each takes:
# a file of MAX_SMALL_UPLOAD_BYTES and its form's headers. Such a body is left as it came (base64).
MULTIPART_PATHS = {"/v1/files": MAX_SMALL_UPLOAD_BYTES + 64 * 1024}
_MULTIPART_TYPE = re.compile(r"^multipart/form-data\s*;", re.I)


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
    content_type = (event.get("headers") or {}).get("content-type", "application/json")
    if method == "POST" and path in MULTIPART_PATHS and _MULTIPART_TYPE.match(content_type.strip()):
        if len(raw) > MULTIPART_PATHS[path]:
            return _reject(
                413, "payload_too_large", f"the upload is larger than {MULTIPART_PATHS[path]} bytes", details=None
            )
        return None  # the route parses the form
    if len(raw) > max_body_bytes:
        return _reject(413, "payload_too_large", f"the request body is larger than {max_body_bytes} bytes")
    if method not in _BODY_METHODS:
        return None
    if not _JSON_TYPE.match(content_type.strip()):
        return _reject(415, "unsupported_media_type", f"send application/json, not {content_type.split(';')[0]}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _reject(400, "invalid_encoding", "the request body is not UTF-8")
    try:
        parse_json(text)
    except BodyRejected as exc:
        return _reject(400, exc.code, exc.message, details=exc.details)
    event["body"] = text
    event["isBase64Encoded"] = False
    return None
