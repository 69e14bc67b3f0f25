"""Streamable HTTP for the API's ``/mcp`` route, served from the API Gateway event itself.

The SDK's transport is an ASGI app; here it is called directly, with the event's one buffered body as
the request and the messages it sends collected into the gateway response, so no HTTP server runs and
no socket is opened. It runs stateless with JSON responses, which is what a Lambda behind API
Gateway's HTTP API can serve: one POST, one buffered JSON answer, no ``Mcp-Session-Id`` to be sticky
on (the next request may reach another instance) and no SSE stream held open (the gateway buffers
responses and ends every request at 30 s; tools never wait longer than ``MAX_WAIT_S``). A 2026-07-28
client is sessionless by protocol; an older one runs its initialize handshake, each message its own
POST, against the stateless leg (``stateless_http``).

Each request runs on its own event loop (``anyio.run``, well under a millisecond) with a fresh
session manager (one ``run()`` per manager is the SDK's rule); the server and its tools are built once
per process. Tools are plain functions the SDK runs in a worker thread; they read the caller from the
API's context variables (:mod:`shared.api.deps`), which the loop and its threads inherit.

DNS-rebinding protection is off: it guards unauthenticated servers on localhost against web pages;
this endpoint answers only a Bearer API key, which a page cannot make a browser send, and API Gateway
decides the Host it is reached on.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from shared.api import deps
from shared.api.urls import base_url
from shared.mcp.backend import DomainBackend
from shared.mcp.tools import build_server

PATH = "/mcp"
_SECURITY = TransportSecuritySettings(enable_dns_rebinding_protection=False)


def _backend() -> DomainBackend:
    svc = deps.services()
    return DomainBackend(svc, deps.caller(), deps.caller_key(), control_url=base_url(svc))


@lru_cache(maxsize=1)
def server() -> MCPServer:
    return build_server(_backend)


def _scope(event: dict[str, Any]) -> dict[str, Any]:
    http = (event.get("requestContext") or {}).get("http") or {}
    headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in (event.get("headers") or {}).items()]
    domain = (event.get("requestContext") or {}).get("domainName") or "localhost"
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": str(http.get("method") or "POST").upper(),
        "scheme": "https",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": str(event.get("rawQueryString") or "").encode("latin-1"),
        "headers": headers,
        "client": (str(http.get("sourceIp") or "0.0.0.0"), 0),
        "server": (domain, 443),
        "state": {},
    }


async def _serve(event: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    answered = anyio.Event()
    sent_body = False
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()  # the client "disconnects" only once it has its answer
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body") or b"")
            if not message.get("more_body"):
                answered.set()

    manager = StreamableHTTPSessionManager(
        server()._lowlevel_server,  # what MCPServer.streamable_http_app hands its manager
        json_response=True,
        stateless=True,
        security_settings=_SECURITY,
    )
    async with manager.run():
        await manager.handle_request(_scope(event), receive, send)
    return status, headers, b"".join(chunks)


def handle(event: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    """Answer one MCP POST (``event`` as the API guard left it: the body decoded to text)."""
    body = str(event.get("body") or "").encode("utf-8")
    status, raw_headers, payload = anyio.run(_serve, event, body)
    headers: dict[str, str] = {}
    for key, value in raw_headers:
        name = key.decode("latin-1").lower()
        if name != "content-length":  # API Gateway sets its own
            headers[name] = value.decode("latin-1")
    return status, headers, payload.decode("utf-8")
