"""A local stand-in for API Gateway HTTP APIs (payload format 2.0).

moto has no HTTP API data plane, and the API function must see the very events it sees behind
API Gateway, so this gateway builds them: a ``ThreadingHTTPServer`` on 127.0.0.1 turns each
request into a payload-2.0 event for the function whose ``HttpApi`` event route matches, invokes
it in-process (the same handler import as every other invoke path), and maps the response back
with API Gateway's rules, including its inference for results without ``statusCode``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devstack import limits
from devstack.http_api_payload import Router, build_event, map_response, new_request_id
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
