"""API Gateway HTTP API payload format 2.0, as the local gateway (devstack/gateway.py) speaks it: the
route that matches a request (API Gateway's precedence), the event a function receives, and how a
function's result maps back to a response (including the inference for results without
``statusCode``).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from devstack.template import DEFAULT_ACCOUNT_ID, HttpRoute

_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|x-www-form-urlencoded|graphql)|[^;]*\+(json|xml))\s*(;.*)?$", re.I
)


@dataclass(frozen=True)
class _CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str] | None  # None for $default
    rank: tuple[int, ...]


def _compile(route: HttpRoute) -> _CompiledRoute:
    if route.path == "$default":
        return _CompiledRoute(route, None, (9, 0, 0, 0))
    regex, greedy, params = "", 0, 0
    for part in re.split(r"(\{[^}]+\})", route.path):
        if part.startswith("{") and part.endswith("}"):
            params += 1
            if part.endswith("+}"):
                greedy = 1
                regex += "(.+)"
            else:
                regex += "([^/]+)"
        else:
            regex += re.escape(part)
    # API Gateway prefers literal paths, then fewer parameters, then greedy ones last, and a
    # specific method over ANY.
    literal = len(re.sub(r"\{[^}]+\}", "", route.path))
    rank = (greedy, params, 1 if route.method == "ANY" else 0, -literal)
    return _CompiledRoute(route, re.compile(f"^{regex}$"), rank)


class Router:
    """Matches (method, path) to a route like HTTP APIs do; ``$default`` catches the rest."""

    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        self.routes = sorted((_compile(r) for r in routes), key=lambda c: c.rank)

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for compiled in self.routes:
            route = compiled.route
            if route.method not in ("ANY", method.upper()):
                continue
            if compiled.pattern is None:
                return route, {}
            m = compiled.pattern.match(path)
            if m:
                names = re.findall(r"\{([^}]+?)\+?\}", route.path)
                return route, {n: unquote(v) for n, v in zip(names, m.groups(), strict=True)}
        return None


def _join_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in pairs:
        k = key.lower()
        headers[k] = f"{headers[k]},{value}" if k in headers else value
    return headers


def build_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    route: HttpRoute,
    path_parameters: dict[str, str],
    source_ip: str,
    account_id: str = DEFAULT_ACCOUNT_ID,
    api_id: str = "local",
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload-2.0 event for one request."""
    now = now or datetime.now(UTC)
    request_id = request_id or new_request_id()
    pairs = list(headers)
    cookies = [c.strip() for k, v in pairs if k.lower() == "cookie" for c in v.split(";") if c.strip()]
    hdrs = _join_headers((k, v) for k, v in pairs if k.lower() != "cookie")
    domain = hdrs.get("host", "127.0.0.1")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = hdrs
    query = _join_headers(parse_qsl(raw_query, keep_blank_values=True))
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": method.upper(),
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": hdrs.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        text = None
        if _TEXT_TYPES.match(hdrs.get("content-type", "")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        event["body"] = text if text is not None else base64.b64encode(body).decode()
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


def map_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A function's result -> (status, header pairs, body), by API Gateway's 2.0 rules.

    With ``statusCode`` the result is a structured response. Without it API Gateway infers one:
    status 200, ``content-type: application/json``, and the result as the body (a string as is,
    anything else as JSON).
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, [("content-type", "application/json")], body.encode("utf-8")
    status = int(result["statusCode"])
    headers: list[tuple[str, str]] = [(str(k), _header_value(v)) for k, v in (result.get("headers") or {}).items()]
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(key), _header_value(v)) for v in (values if isinstance(values, list) else [values]))
    headers.extend(("set-cookie", str(c)) for c in result.get("cookies") or [])
    raw = result.get("body")
    if raw is None:
        body_bytes = b""
    elif not isinstance(raw, str):
        body_bytes = json.dumps(raw).encode("utf-8")
    elif result.get("isBase64Encoded"):
        body_bytes = base64.b64decode(raw)
    else:
        body_bytes = raw.encode("utf-8")
    return status, headers, body_bytes


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def new_request_id() -> str:
    """An id shaped like API Gateway's (``JKJaXmPLvHcESHA=``)."""
    return base64.b64encode(os.urandom(10)).decode()
