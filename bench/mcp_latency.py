"""MCP benchmark: what an MCP tool call costs over the plain API call it stands for, through the local
stack's gateway, with the official mcp client.

    .venv/bin/python bench/mcp_latency.py [--calls 100]

(Not bench/mcp.py: a script's folder is first on sys.path, and that name would hide the mcp package.)

Figures (one client, sequential calls interleaved variant by variant, after a warm-up):
- GET /v1/runs/{id} (the plain API) vs the get_run tool over streamable HTTP at /mcp (2026-07-28
  client, and a 2025-11-25 handshake-era ClientSession) vs get_run over stdio through `openhelm mcp`
  (which makes that same GET);
- GET /v1/sessions/{id} vs the get_session tool (HTTP);
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


def interleave_sync(n: int, *fns: Callable[[], Any]) -> list[list[float]]:
    """n rounds of one call of each fn in turn: milliseconds per call, per fn."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            out[i].append((time.perf_counter() - t) * 1000)
    return out


async def interleave(n: int, *fns: Callable[[], Awaitable[Any]]) -> list[list[float]]:
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            await fn()
            out[i].append((time.perf_counter() - t) * 1000)
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

        # The instant agent finishes it within moments; a finished run reads the same every time.
        deadline = time.monotonic() + 30
        while http.get(f"/v1/runs/{run_id}").json()["status"] != "succeeded" and time.monotonic() < deadline:
            time.sleep(0.05)

        # A session to read (its sandbox need not be up: GET and get_session read the same record).
        created = http.post("/v1/sessions", json={})
        session_id = created.json()["id"] if created.status_code == 201 else None

        # 1. The API handler alone, in this process (no gateway, no client), before any other load.
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
        handler = interleave_sync(
            n,
            lambda: handle(json.loads(json.dumps(get_event)), None),
            lambda: handle(json.loads(json.dumps(mcp_event)), None),
        )

        # 2. Through the gateway: the plain GET and get_run over each transport, interleaved call by call
        #    so a change in the machine's load hits every variant alike. 3. POST vs create_run, last (it
        #    starts runs, whose orchestration then shares the machine).
        async def through_gateway() -> tuple[list[list[float]], list[list[float]]]:
            console = Path(sys.executable).parent / "openhelm"
            params = StdioServerParameters(
                command=str(console), args=["mcp"], env={"OPENHELM_API_KEY": key, "OPENHELM_BASE_URL": stack.url}
            )
            async with (
                httpx2.AsyncClient(base_url=stack.url, headers=auth, timeout=30) as plain,
                httpx2.AsyncClient(headers=auth, timeout=30) as c1,
                httpx2.AsyncClient(headers=auth, timeout=30) as c2,
                Client(streamable_http_client(stack.url + "/mcp", http_client=c1)) as modern,
                streamable_http_client(stack.url + "/mcp", http_client=c2) as legacy_streams,
                ClientSession(*legacy_streams) as legacy,
                stdio_client(params) as stdio_streams,
                ClientSession(*stdio_streams) as stdio,
            ):
                await legacy.initialize()
                await stdio.initialize()

                async def get() -> None:
                    (await plain.get(f"/v1/runs/{run_id}")).raise_for_status()

                async def post() -> None:
                    (await plain.post("/v1/runs", json=body)).raise_for_status()

                def tool(client: Any, name: str, args: dict[str, Any]) -> Callable[[], Awaitable[None]]:
                    async def call_it() -> None:
                        res = await client.call_tool(name, args)
                        assert not res.is_error, res.content

                    return call_it

                gets = [get] + [tool(c, "get_run", {"run_id": run_id}) for c in (modern, legacy, stdio)]
                if session_id:

                    async def get_session() -> None:
                        (await plain.get(f"/v1/sessions/{session_id}")).raise_for_status()

                    gets += [get_session, tool(modern, "get_session", {"session_id": session_id})]
                await interleave(10, *gets)  # warm every path
                reads = await interleave(n, *gets)
                writes = await interleave(n, post, tool(modern, "create_run", body))
                return reads, writes

        reads, writes = anyio.run(through_gateway)
        figures("GET /v1/runs/{id} (plain API)", reads[0])
        figures("get_run tool, streamable HTTP (2026-07-28 client)", reads[1])
        figures("get_run tool, streamable HTTP (handshake-era)", reads[2])
        figures("get_run tool, stdio via openhelm mcp", reads[3])
        for label, ms in (("HTTP 2026-07-28", reads[1]), ("HTTP handshake-era", reads[2]), ("stdio", reads[3])):
            line(f"get_run over {label} minus GET, p50", pct(ms, 50) - pct(reads[0], 50), "ms")
        if session_id:
            figures("GET /v1/sessions/{id} (plain API)", reads[4])
            figures("get_session tool, streamable HTTP", reads[5])
            line("get_session minus GET session, p50", pct(reads[5], 50) - pct(reads[4], 50), "ms")
        figures("POST /v1/runs (plain API)", writes[0])
        figures("create_run tool, streamable HTTP", writes[1])
        line("create_run minus POST, p50", pct(writes[1], 50) - pct(writes[0], 50), "ms")
        figures("API handler, GET /v1/runs/{id} event", handler[0])
        figures("API handler, /mcp tools/call get_run event", handler[1])
        line("handler: /mcp get_run minus GET, p50", pct(handler[1], 50) - pct(handler[0], 50), "ms")
        factory.override(None)


if __name__ == "__main__":
    main()
