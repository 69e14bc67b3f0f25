"""/mcp: the MCP server over streamable HTTP (stateless, JSON responses), for the caller's API key.

The route authenticates like every other (shared/api/app.py ``authenticate``; the key's scope is
applied per tool) and hands the event to :mod:`shared.mcp.http`. A GET (the SSE stream of stateful
servers) or DELETE (ending a session) answers 405: there is no stream and no session to end.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.api.deps import event

router = APIGatewayHttpRouter()
PATH = "/mcp"  # shared.mcp.http.PATH, kept here so the API's route table needs no MCP import


@router.post(PATH, summary="MCP (streamable HTTP)", tags=["MCP"], include_in_schema=False)
def mcp_endpoint() -> Response[Any]:
    # Cold start: the mcp SDK and its dependencies take ~1 s to import; only /mcp requests pay it.
    from shared.mcp import http

    status, headers, body = http.handle(event())
    content_type = headers.pop("content-type", "application/json")
    return Response(status_code=status, content_type=content_type, body=body, headers=headers)
