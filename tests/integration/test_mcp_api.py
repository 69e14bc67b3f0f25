"""/mcp through the real API handler, against moto: JSON-RPC as MCP clients send it, one POST per
message, answered as buffered JSON (the official client over real HTTP is in tests/e2e/test_mcp_e2e.py)."""

from __future__ import annotations

from typing import Any

from shared.orgs import bootstrap_org
from shared.services import Services
from tests.support.apigw import Reply, call, http_event, load_event

ACCEPT = {"accept": "application/json, text/event-stream"}
LEGACY = {**ACCEPT, "mcp-protocol-version": "2025-11-25"}
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def rpc(key: str | None, method: str, params: dict[str, Any] | None = None, headers: dict | None = None) -> Reply:
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params or {}}
    return call(http_event("POST", "/mcp", body=body, key=key, headers=LEGACY if headers is None else headers))


def tool(key: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = rpc(key, "tools/call", {"name": name, "arguments": args})
    assert r.status == 200, r.text
    return r.json["result"]


def runs_of(key: str) -> list[dict[str, Any]]:
    return call(http_event("GET", "/v1/runs", key=key)).json["data"]


def test_the_legacy_handshake_is_stateless_and_lists_the_run_tools(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    r = rpc(key, "initialize", hello, headers=ACCEPT)
    assert r.status == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in r.headers  # nothing to be sticky on: any instance serves the next POST
    assert r.json["result"]["serverInfo"]["name"] == "openhelm"
    # no session: the next message needs no session id
    listed = rpc(key, "tools/list")
    assert listed.status == 200, listed.text
    names = [t["name"] for t in listed.json["result"]["tools"]]
    assert names[:4] == ["create_run", "get_run", "list_runs", "cancel_run"]  # then the session tools


def test_create_run_is_the_api_s_run(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    res = tool(
        key,
        "create_run",
        {"prompt": "Count the links on {{site}}", "inputs": {"site": "https://example.com"}, "output_schema": SCHEMA},
    )
    assert res["isError"] is False
    summary = res["structuredContent"]
    assert summary["status"] == "queued" and summary["finished"] is False
    run = call(http_event("GET", f"/v1/runs/{summary['run_id']}", key=key)).json
    assert run["prompt"] == "Count the links on https://example.com" and run["output_schema"] == SCHEMA
    assert summary["envelope"] == f"/v1/runs/{run['id']}"

    got = tool(key, "get_run", {"run_id": run["id"]})["structuredContent"]
    assert got["run_id"] == run["id"] and got["status"] == "queued"
    page = tool(key, "list_runs", {"limit": 5})["structuredContent"]
    assert [r["run_id"] for r in page["runs"]] == [run["id"]] and page["next_cursor"] is None


def test_the_same_idempotency_key_gives_the_same_run(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    args = {"prompt": "Count the links", "idempotency_key": "mcp-1"}
    first = tool(key, "create_run", args)["structuredContent"]
    again = tool(key, "create_run", args)["structuredContent"]
    assert first["run_id"] == again["run_id"] and len(runs_of(key)) == 1


def test_bad_input_is_a_tool_error_that_says_why_and_creates_nothing(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    res = tool(key, "create_run", {"prompt": "Count the links", "output_schema": {"type": 5}})
    assert res["isError"] is True
    assert "invalid_output_schema (422)" in res["content"][0]["text"]
    res = tool(key, "create_run", {"prompt": "Count the links", "max_steps": 100_000})
    assert res["isError"] is True and "validation_failed (422): max_steps" in res["content"][0]["text"]
    res = tool(key, "create_run", {"prompt": "Count the links", "wait_s": 60})  # past API Gateway's 30 s
    assert res["isError"] is True and "wait_s" in res["content"][0]["text"]
    assert runs_of(key) == []


def test_cancel_then_cancel_again_is_an_error_naming_409(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    run_id = tool(key, "create_run", {"prompt": "Count the links"})["structuredContent"]["run_id"]
    done = tool(key, "cancel_run", {"run_id": run_id})["structuredContent"]
    assert done["status"] == "cancelled" and done["finished"] is True and done["error"]["code"] == "CANCELLED"
    again = tool(key, "cancel_run", {"run_id": run_id})
    assert again["isError"] is True and "run_not_cancellable (409)" in again["content"][0]["text"]


def test_another_org_s_run_is_not_found(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    _, other = bootstrap_org("globex", svc)
    run_id = tool(key, "create_run", {"prompt": "Count the links"})["structuredContent"]["run_id"]
    for name in ("get_run", "cancel_run"):
        res = tool(other, name, {"run_id": run_id})
        assert res["isError"] is True and "(404)" in res["content"][0]["text"]
    assert tool(key, "get_run", {"run_id": run_id})["structuredContent"]["status"] == "queued"


def test_the_bearer_key_is_required_and_its_scope_applies_per_tool(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = rpc(None, "tools/list")
    assert r.status == 401 and r.json["error"]["code"] == "missing_api_key"
    assert rpc("oh_test_not-a-key", "tools/list").status == 401

    reader = call(http_event("POST", "/v1/keys", key=key, body={"name": "assistant", "scopes": ["read"]})).json["key"]
    run_id = tool(key, "create_run", {"prompt": "Count the links"})["structuredContent"]["run_id"]
    assert tool(reader, "get_run", {"run_id": run_id})["structuredContent"]["status"] == "queued"
    assert len(tool(reader, "list_runs", {})["structuredContent"]["runs"]) == 1
    for name, args in (("create_run", {"prompt": "Count the links"}), ("cancel_run", {"run_id": run_id})):
        res = tool(reader, name, args)
        assert res["isError"] is True and "insufficient_scope (403)" in res["content"][0]["text"]
    assert (
        len(runs_of(key)) == 1 and tool(key, "get_run", {"run_id": run_id})["structuredContent"]["status"] == "queued"
    )


def test_no_stream_and_no_session_to_end(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    for method in ("GET", "DELETE"):
        r = call(http_event(method, "/mcp", key=key, headers=ACCEPT))
        assert r.status == 405 and r.headers["allow"] == "POST"


def test_the_sample_event_lists_runs(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    run_id = tool(key, "create_run", {"prompt": "Count the links"})["structuredContent"]["run_id"]
    event = load_event("api/mcp_tools_call.json")
    event["headers"]["authorization"] = f"Bearer {key}"
    r = call(event)
    assert r.status == 200, r.text
    assert [s["run_id"] for s in r.json["result"]["structuredContent"]["runs"]] == [run_id]
