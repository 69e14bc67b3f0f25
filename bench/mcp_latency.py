"""MCP benchmark: what an MCP tool call costs over the plain API call it stands for, through the local
stack's gateway, with the official mcp client.

    .venv/bin/python bench/mcp_latency.py [--calls 100]

(Not bench/mcp.py: a script's folder is first on sys.path, and that name would hide the mcp package.)

Figures (one client, sequential calls, after a warm-up):
- GET /v1/runs/{id} (the plain API) vs the get_run tool over streamable HTTP at /mcp (2026-07-28
  client, and a 2025-11-25 handshake-era ClientSession) vs get_run over stdio through `openhelm mcp`
  (which makes that same GET);
- POST /v1/runs vs the create_run tool (HTTP);
- in-process, the API handler alone: an /mcp tools/call event vs the GET event (what the MCP layer
  adds inside the Lambda, without the gateway or the client);
- the first /mcp request of a fresh interpreter (the lazy import of the mcp SDK).

Runs finish through the real state machine with the instant test agent
(devstack/testing/instant_provider.py), so no browser or model is involved.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from common import ROOT, line, local_stack, median, pct

FIRST_MCP_SNIPPET = (
    "import sys,time; sys.path.insert(0, 'functions/api'); import api_handler; t=time.perf_counter(); "
    "import shared.mcp.http; print(time.perf_counter()-t)"
)


def figures(label: str, ms: list[float]) -> None:
    line(f"{label} p50", pct(ms, 50), "ms")
    line(f"{label} p99", pct(ms, 99), "ms")


def timed_sync(n: int, fn: Callable[[], Any]) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


async def timed(n: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    n = args.calls

    import anyio
    import httpx2
    from mcp import Client, ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client

    cold = []
    for _ in range(5):
        res = subprocess.run(
            [sys.executable, "-c", FIRST_MCP_SNIPPET], cwd=ROOT, capture_output=True, text=True, check=True
        )
        cold.append(float(res.stdout.strip().splitlines()[-1]) * 1000)
    line("import of the mcp layer on the first /mcp (median of 5)", median(cold), "ms", f"min {min(cold):.0f}")

    from devstack.testing.instant_provider import InstantProvider
    from shared.models.orgs import OrgLimits
    from shared.orgs import bootstrap_org
    from shared.sandbox import factory

    with local_stack() as stack:
        factory.override(InstantProvider())
        limits = OrgLimits(rate_per_minute=10**7, rate_burst=10**6, max_concurrent_runs=10**6)
        _, key = bootstrap_org("bench-mcp", limits=limits, start_balance_micros=10**12)
        auth = {"Authorization": f"Bearer {key}"}
        http = httpx2.Client(base_url=stack.url, headers=auth, timeout=30)
        body = {"prompt": "Count the links on the page"}
        run_id = http.post("/v1/runs", json=body).json()["task_id"]

        # -- the plain API
        timed_sync(10, lambda: http.get(f"/v1/runs/{run_id}"))
        get_ms = timed_sync(n, lambda: http.get(f"/v1/runs/{run_id}").raise_for_status())
        post_ms = timed_sync(n, lambda: http.post("/v1/runs", json=body).raise_for_status())

        async def over_http() -> dict[str, list[float]]:
            out: dict[str, list[float]] = {}
            async with (
                httpx2.AsyncClient(headers=auth, timeout=30) as client,
                Client(streamable_http_client(stack.url + "/mcp", http_client=client)) as mcp,
            ):

                async def get() -> None:
                    res = await mcp.call_tool("get_run", {"run_id": run_id})
                    assert not res.is_error, res.content

                async def create() -> None:
                    res = await mcp.call_tool("create_run", body)
                    assert not res.is_error, res.content

                await timed(10, get)
                out["get"] = await timed(n, get)
                out["create"] = await timed(n, create)
            async with (
                httpx2.AsyncClient(headers=auth, timeout=30) as client,
                streamable_http_client(stack.url + "/mcp", http_client=client) as streams,
                ClientSession(*streams) as session,
            ):
                await session.initialize()

                async def legacy_get() -> None:
                    res = await session.call_tool("get_run", {"run_id": run_id})
                    assert not res.is_error, res.content

                await timed(10, legacy_get)
                out["legacy_get"] = await timed(n, legacy_get)
            return out

        async def over_stdio() -> list[float]:
            console = Path(sys.executable).parent / "openhelm"
            params = StdioServerParameters(
                command=str(console), args=["mcp"], env={"OPENHELM_API_KEY": key, "OPENHELM_BASE_URL": stack.url}
            )
            async with stdio_client(params) as streams, ClientSession(*streams) as session:
                await session.initialize()

                async def get() -> None:
                    res = await session.call_tool("get_run", {"run_id": run_id})
                    assert not res.is_error, res.content

                await timed(10, get)
                return await timed(n, get)

        mcp_http = anyio.run(over_http)
        stdio_ms = anyio.run(over_stdio)

        figures("GET /v1/runs/{id} (plain API)", get_ms)
        figures("get_run tool, streamable HTTP (2026-07-28 client)", mcp_http["get"])
        figures("get_run tool, streamable HTTP (handshake-era)", mcp_http["legacy_get"])
        figures("get_run tool, stdio via openhelm mcp", stdio_ms)
        figures("POST /v1/runs (plain API)", post_ms)
        figures("create_run tool, streamable HTTP", mcp_http["create"])
        line("get_run over HTTP minus GET, p50", pct(mcp_http["get"], 50) - pct(get_ms, 50), "ms")
        line("get_run over stdio minus GET, p50", pct(stdio_ms, 50) - pct(get_ms, 50), "ms")

        # -- the API handler alone, in this process (the gateway and the client left out)
        from shared.api.app import handle
        from tests.support.apigw import http_event

        get_event = http_event("GET", f"/v1/runs/{run_id}", key=key)
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_run"}}
        call["params"]["arguments"] = {"run_id": run_id}
        mcp_event = http_event(
            "POST",
            "/mcp",
            body=json.dumps(call),
            key=key,
            headers={"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"},
        )
        timed_sync(10, lambda: handle(json.loads(json.dumps(mcp_event)), None))
        handler_get = timed_sync(n, lambda: handle(json.loads(json.dumps(get_event)), None))
        handler_mcp = timed_sync(n, lambda: handle(json.loads(json.dumps(mcp_event)), None))
        figures("API handler, GET /v1/runs/{id} event", handler_get)
        figures("API handler, /mcp tools/call get_run event", handler_mcp)
        factory.override(None)


if __name__ == "__main__":
    main()
