"""The MCP server end to end with the official mcp client: streamable HTTP at /mcp on the local
stack's gateway (a 2026-07-28 client and a handshake-era ClientSession) and stdio through `openhelm
mcp` (a subprocess calling the public API), each with a run the scripted model completes in Chromium."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from devstack.testing.fake_openai import ToolCall, find_ref

pytestmark = pytest.mark.e2e

SCHEMA = {
    "type": "object",
    "properties": {"tiers": {"type": "array", "items": {"type": "object"}, "minItems": 1}},
    "required": ["tiers"],
}
TIERS = [{"name": "Deckhand"}, {"name": "Crew"}, {"name": "Fleet"}]
DEADLINE_S = 90


def script_pricing_run(llm: Any) -> None:
    llm.reset(
        lambda body: ToolCall("click", {"ref": find_ref(body, r"link Pricing")}),
        ToolCall("done", {"result": {"tiers": TIERS}, "confidence": 0.9, "summary": "three tiers"}),
    )


@pytest.fixture
def key(stack: Any) -> str:
    from shared.orgs import bootstrap_org

    return bootstrap_org(f"e2e-mcp-{time.monotonic_ns()}")[1]


def run(main: Callable[[], Awaitable[None]]) -> None:
    anyio.run(main)


async def call(client: Client | ClientSession, name: str, args: dict[str, Any]) -> dict[str, Any]:
    res = await client.call_tool(name, args)
    assert not res.is_error, res.content
    assert isinstance(res.structured_content, dict)
    return res.structured_content


async def until_finished(client: Client | ClientSession, run_id: str) -> dict[str, Any]:
    """get_run with its bounded wait, again until the run is finished (each call answers within 25 s)."""
    with anyio.fail_after(DEADLINE_S):
        while True:
            summary = await call(client, "get_run", {"run_id": run_id, "wait_s": 10})
            if summary["finished"]:
                return summary


def http_client(key: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(40))


def test_http_a_run_created_and_polled_through_mcp_is_the_api_s_run(stack, api, llm, site, key) -> None:
    script_pricing_run(llm)
    args = {"prompt": "List the pricing tiers", "start_url": site + "/", "output_schema": SCHEMA, "wait_s": 5}

    async def main() -> None:
        async with http_client(key) as http, Client(streamable_http_client(stack.url + "/mcp", http_client=http)) as c:
            assert c.protocol_version == "2026-07-28"  # the sessionless protocol, no handshake
            tools = [t.name for t in (await c.list_tools()).tools]
            assert tools[:4] == ["create_run", "get_run", "list_runs", "cancel_run"]
            assert "run_session_task" in tools and "close_session" in tools
            created = await call(c, "create_run", args)
            assert created["run_id"].startswith("run_")
            done = created if created["finished"] else await until_finished(c, created["run_id"])
            assert done["status"] == "succeeded", done
            assert done["result"] == {"tiers": TIERS} and done["confidence"] == 0.9 and done["steps"] >= 2
            listed = await call(c, "list_runs", {"status": "succeeded"})
            assert [r["run_id"] for r in listed["runs"]] == [done["run_id"]]
            # the plain API shows the same run (and, for this key, only it)
            envelope = api_get(stack, key, done["envelope"])
            assert envelope["status"] == "succeeded" and envelope["result"] == done["result"]

    run(main)


def api_get(stack: Any, key: str, path: str) -> dict[str, Any]:
    return httpx2.get(stack.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=30).json()


def test_http_handshake_client_cancels_and_is_told_why_a_second_cancel_fails(stack, llm, site, key) -> None:
    llm.reset()  # the run is cancelled before the model matters

    async def main() -> None:
        async with (
            http_client(key) as http,
            streamable_http_client(stack.url + "/mcp", http_client=http) as streams,
            ClientSession(*streams) as session,
        ):
            hello = await session.initialize()  # the 2025-11-25 handshake, served statelessly
            assert hello.server_info.name == "openhelm" and hello.protocol_version == "2025-11-25"
            created = await call(session, "create_run", {"prompt": "List the pricing tiers", "start_url": site})
            cancelled = await call(session, "cancel_run", {"run_id": created["run_id"]})
            assert cancelled["status"] == "cancelled" and cancelled["error"]["code"] == "CANCELLED"
            again = await session.call_tool("cancel_run", {"run_id": created["run_id"]})
            assert again.is_error and "run_not_cancellable (409)" in again.content[0].text
            assert api_get(stack, key, cancelled["envelope"])["status"] == "cancelled"

    run(main)


def test_http_without_the_key_is_refused(stack) -> None:
    r = httpx2.post(stack.url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"


def openhelm_mcp(stack: Any, key: str) -> StdioServerParameters:
    console = Path(sys.executable).parent / "openhelm"  # the project's console script
    return StdioServerParameters(
        command=str(console), args=["mcp"], env={"OPENHELM_API_KEY": key, "OPENHELM_BASE_URL": stack.url}
    )


def test_stdio_openhelm_mcp_runs_a_task_through_the_public_api(stack, api, llm, site, key) -> None:
    script_pricing_run(llm)
    args = {"prompt": "List the pricing tiers", "start_url": site + "/", "output_schema": SCHEMA}

    async def main() -> None:
        async with stdio_client(openhelm_mcp(stack, key)) as streams, ClientSession(*streams) as session:
            await session.initialize()
            assert len((await session.list_tools()).tools) == 13  # runs, then sessions
            created = await call(session, "create_run", {**args, "idempotency_key": "stdio-1"})
            replayed = await call(session, "create_run", {**args, "idempotency_key": "stdio-1"})
            assert replayed["run_id"] == created["run_id"]
            done = await until_finished(session, created["run_id"])
            assert done["status"] == "succeeded" and done["result"] == {"tiers": TIERS}
            missing = await session.call_tool("get_run", {"run_id": "run_nope"})
            assert missing.is_error and "(404)" in missing.content[0].text

    run(main)
    # what the subprocess did is what the API recorded
    run_list = api_get(stack, key, "/v1/runs")["data"]
    assert [r["status"] for r in run_list] == ["succeeded"]


def test_http_a_session_opened_through_mcp_acts_runs_a_task_and_closes(stack, api, llm, site, key) -> None:
    script_pricing_run(llm)

    async def main() -> None:
        async with http_client(key) as http, Client(streamable_http_client(stack.url + "/mcp", http_client=http)) as c:
            opened = await call(c, "create_session", {"start_url": site + "/"})
            sid = opened["session_id"]
            with anyio.fail_after(DEADLINE_S):  # get_session's bounded wait, again while it starts
                while (got := await call(c, "get_session", {"session_id": sid, "wait_s": 10}))["status"] == "starting":
                    pass
            assert got["status"] == "ready", got
            seen = await call(c, "session_action", {"session_id": sid, "action": "evaluate", "expression": "1 + 2"})
            assert seen["ok"] is True and seen["result"] == {"value": 3}
            task = await call(
                c, "run_session_task", {"session_id": sid, "prompt": "List the pricing tiers", "output_schema": SCHEMA}
            )
            assert task["session_id"] == sid
            done = await until_finished(c, task["run_id"])
            assert done["status"] == "succeeded" and done["result"] == {"tiers": TIERS}
            closed = await call(c, "close_session", {"session_id": sid})
            assert closed["status"] == "closed" and closed["close_reason"] == "terminated"
            assert api_get(stack, key, f"/v1/sessions/{sid}")["tasks"] == [task["run_id"]]

    run(main)


def test_stdio_create_session_waits_until_the_browser_is_up_then_closes(stack, site, key) -> None:
    async def main() -> None:
        async with stdio_client(openhelm_mcp(stack, key)) as streams, ClientSession(*streams) as session:
            await session.initialize()
            with anyio.fail_after(DEADLINE_S):
                opened = await call(session, "create_session", {"start_url": site + "/", "wait_s": 25})
                sid = opened["session_id"]
                while opened["status"] == "starting":  # a loaded machine: more than one bound
                    opened = await call(session, "get_session", {"session_id": sid, "wait_s": 25})
            assert opened["status"] == "ready" and opened["current_url"].startswith(site), opened
            closed = await call(session, "close_session", {"session_id": sid})
            assert closed["status"] == "closed"

    run(main)
    assert api_get(stack, key, "/v1/sessions")["data"][0]["status"] == "closed"
