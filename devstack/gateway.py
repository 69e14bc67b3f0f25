"""A local stand-in for API Gateway HTTP APIs (payload format 2.0).

moto has no HTTP API data plane, and the API function must see the very events it sees behind
API Gateway, so this gateway builds them: a ``ThreadingHTTPServer`` on 127.0.0.1 turns each
request into a payload-2.0 event for the function whose ``HttpApi`` event route matches, invokes
it in-process (the same handler import as every other invoke path), and maps the response back
with API Gateway's rules, including its inference for results without ``statusCode``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from devstack import limits
from devstack.runtime import FunctionRegistry, PayloadTooLarge
from devstack.template import DEFAULT_ACCOUNT_ID, HttpRoute
from shared.logging import get_logger

log = get_logger("devstack.gateway")

MAX_BODY_BYTES = limits.HTTP_API_PAYLOAD_BYTES
# Sized for the load the benchmarks and tests make, with room to spare: bench/api.py and
# bench/pipeline.py run 8 clients by default (--threads), issue 15.4's probe fired 20 POSTs at once and
# tests/devstack/test_devstack_limits.py fires 50. With socketserver's default backlog of 5 a burst
# of 20 concurrent connects overflowed the listen queue and 15-30 % were reset; the 50-client test
# fails with 5 and passes with this. The kernel caps it at net.core.somaxconn (4096 on current Linux).
LISTEN_BACKLOG = 1024
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


class LocalGateway:
    """The HTTP server. ``port=0`` picks a free port; :attr:`url` tells which."""

    def __init__(
        self,
        routes: Iterable[HttpRoute],
        registry: FunctionRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = DEFAULT_ACCOUNT_ID,
        max_body_bytes: int = MAX_BODY_BYTES,
        api_id: str = "local",
        integration_timeout_s: float = limits.HTTP_API_INTEGRATION_TIMEOUT_S,
    ) -> None:
        self.router = Router(routes)
        self.registry = registry
        self.account_id = account_id
        # A function URL's events carry its url id here (HTTP APIs: the API id).
        self.api_id = api_id
        self.max_body_bytes = max_body_bytes
        self.integration_timeout_s = integration_timeout_s
        self._server = _Server((host, port), _handler_class(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def serve(self, routes: Iterable[HttpRoute], registry: FunctionRegistry) -> None:
        """Start serving ``routes`` (the socket is bound in __init__, so the URL is known earlier)."""
        self.router = Router(routes)
        self.registry = registry
        self.start()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="gateway", daemon=True
        )
        self._thread.start()
        log.info("gateway_started", url=self.url, routes=[c.route.route_key for c in self.router.routes])

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(2)
        self._server.server_close()

    # -- one request

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        raw_path, _, raw_query = target.partition("?")
        request_id = new_request_id()
        matched = self.router.match(method, raw_path)
        if matched is None:
            return _message(404, "Not Found", request_id)
        route, params = matched
        fn = self.registry.get(route.function)
        if fn is None or route.payload_format_version != "2.0":
            log.error(
                "route_unsupported",
                route=route.route_key,
                function=route.function,
                payload=route.payload_format_version,
            )
            return _message(500, "Internal Server Error", request_id)
        event = build_event(
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=self._forwarded(headers, source_ip),
            body=body,
            route=route,
            path_parameters=params,
            source_ip=source_ip,
            account_id=self.account_id,
            api_id=self.api_id,
            request_id=request_id,
        )
        try:
            invocation = fn.start(event, request_id=str(_uuid_from(request_id)))
        except PayloadTooLarge as exc:  # past Lambda's 6 MB (a body under 10 MB, base64 or headers)
            log.warning("integration_request_too_large", function=route.function, bytes=exc.size)
            return _message(413, "Request Entity Too Large", request_id)
        # API Gateway waits up to its integration timeout (30 s, or the route's TimeoutInMillis);
        # a function whose own Timeout comes first answers Lambda's timeout error (a 500 here).
        wait_s = min(self.integration_timeout_s, route.timeout_s or self.integration_timeout_s)
        if not invocation.wait(min(wait_s, fn.timeout_s)) and not invocation.expired():
            log.error("integration_timeout", function=route.function, timeout_s=wait_s)
            return _message(503, "Service Unavailable", request_id)
        payload, errored = invocation.outcome()
        if errored:
            return _message(500, "Internal Server Error", request_id)
        try:
            status, out_headers, out_body = map_response(json.loads(payload))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("malformed_lambda_response", function=route.function, error=str(exc))
            return _message(500, "Internal Server Error", request_id)
        return status, [*out_headers, ("apigw-requestid", request_id)], out_body

    def _forwarded(self, headers: list[tuple[str, str]], source_ip: str) -> list[tuple[str, str]]:
        """The headers API Gateway adds: X-Forwarded-For/Port/Proto and a trace id. Handlers that
        build absolute URLs from the request (poll URLs) read them."""
        drop = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"}
        prior = [v for k, v in headers if k.lower() == "x-forwarded-for"]
        trace = f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"
        return [
            *((k, v) for k, v in headers if k.lower() not in drop),
            ("x-forwarded-for", ", ".join([*prior, source_ip])),
            ("x-forwarded-port", str(self.port)),
            ("x-forwarded-proto", "http"),
            ("x-amzn-trace-id", trace),
        ]


def _uuid_from(request_id: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, request_id))


def _message(status: int, message: str, request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"message": message}).encode()
    return status, [("content-type", "application/json"), ("apigw-requestid", request_id)], body


class _BodyTooLarge(Exception):
    pass


class _Server(ThreadingHTTPServer):
    """One thread per connection (socketserver's ThreadingMixIn): the worker pool grows with the
    clients, as API Gateway's does; each request's Lambda invocation runs in a thread of its own
    (devstack/runtime.py), so a slow handler holds one connection, never the accept loop."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def _handler_class(gateway: LocalGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like API Gateway
        # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
        # ~40 ms to every keep-alive response.
        disable_nagle_algorithm = True
        server_version = "openhelm-devstack"
        sys_version = ""

        def _serve(self) -> None:
            started = time.perf_counter()
            try:
                body = self._read_body()
            except _BodyTooLarge:
                self.close_connection = True
                status, headers, out = _message(413, "Request Entity Too Large", new_request_id())
            else:
                try:
                    status, headers, out = gateway.handle(
                        self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                    )
                except Exception:
                    log.exception("gateway_error", method=self.command, path=self.path)
                    status, headers, out = _message(500, "Internal Server Error", new_request_id())
            # Logged before the response goes out, so the line precedes whatever the client does next.
            log.info(
                "http",
                method=self.command,
                path=self.path.partition("?")[0],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("content-length", str(len(out)))
            if self.close_connection:
                self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        def _read_body(self) -> bytes:
            limit = gateway.max_body_bytes
            if "chunked" in self.headers.get("transfer-encoding", "").lower():
                chunks, size = [], 0
                while True:
                    line = self.rfile.readline(65537).split(b";", 1)[0].strip()
                    n = int(line or b"0", 16)
                    if n == 0:
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    size += n
                    if size > limit:
                        raise _BodyTooLarge
                    chunks.append(self.rfile.read(n))
                    self.rfile.readline(3)
            length = int(self.headers.get("content-length") or 0)
            if length > limit:
                raise _BodyTooLarge
            return self.rfile.read(length) if length else b""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one structured line per request is logged in _serve

        def __getattr__(self, name: str) -> Any:
            # Every method goes to the routes, not only those BaseHTTPRequestHandler has a do_X for:
            # without this TRACE, PROPFIND and the like get http.server's HTML 501. An ANY route
            # takes any method, so the function answers (the API: 405 in our envelope, with Allow);
            # a method no route takes answers API Gateway's 404 {"message":"Not Found"}.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

    return Handler
