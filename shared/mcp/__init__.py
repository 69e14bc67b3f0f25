"""The MCP server: tools over the runs API for assistants that speak the Model Context Protocol.

A thin layer, never a second implementation of runs:

* :mod:`shared.mcp.backend` — what a tool may ask (create, get, list, cancel a run) and the in-process
  backend the API's ``/mcp`` route uses: the same calls into :mod:`shared.runs.service` as the
  ``/v1/runs`` routes, for the API key's org and scope;
* :mod:`shared.mcp.summary` — the short answers tools give (ids, status, progress, result);
* :mod:`shared.mcp.tools` — the tool registry (one toolset per resource) and the server built from it
  with the official ``mcp`` SDK;
* :mod:`shared.mcp.http` — streamable HTTP from an API Gateway event, stateless with JSON responses.

``openhelm mcp`` (devstack/mcp_stdio.py) serves the same registry over stdio with a backend that calls
the public HTTP API. Only :mod:`shared.mcp.tools` and :mod:`shared.mcp.http` import the SDK; the API
imports them on the first ``/mcp`` request only (cold start).
"""
