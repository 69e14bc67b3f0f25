"""Every API request that reaches the sandbox provider is routed, by template.yaml's HttpApi events, to
a function that carries SandboxLayer (the E2B SDK); reads stay on the API function.

In AWS, ``svc.sandbox`` imports the E2B SDK: a function without SandboxLayer fails there, while the
local stack (one process, every layer on sys.path) would not notice. So the session routes are driven
through the real API handler with ``Services.sandbox`` spied on, and each request that touched it is
matched against the template's routes the way API Gateway matches them (devstack's Router)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.http_api_payload import Router
from devstack.template import load_template
from shared.api import deps
from shared.clock import FakeClock
from shared.services import Services
from tests.support.apigw import call, http_event
from tests.support.aws import make_services
from tests.support.sessions import RecordingProvider, create, ready

ROOT = Path(__file__).resolve().parents[2]


class AnsweringProvider(RecordingProvider):
    """Every command is answered at once, as a live agent would."""

    def read_reply(self, sandbox_id: str, command_id: str) -> dict[str, Any] | None:
        return {"id": command_id, "ok": True}


@pytest.fixture
def svc(moto_aws: None, clock: FakeClock) -> Iterator[Services]:
    services = make_services(clock=clock, OPENHELM_RUN_TOKEN_SECRET="x" * 40)
    services.sandbox_provider = AnsweringProvider()
    deps.override(services)
    yield services
    deps.override(None)


@pytest.fixture
def touched(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """(method, path) of each request during which ``svc.sandbox`` was read."""
    seen: set[tuple[str, str]] = set()
    original = Services.sandbox

    def spied(self: Services) -> Any:
        http = deps.event()["requestContext"]["http"]
        seen.add((http["method"], http["path"]))
        return original.fget(self)  # type: ignore[attr-defined]

    monkeypatch.setattr(Services, "sandbox", property(spied))
    return seen


def _served_by() -> tuple[Router, dict[str, list[str]]]:
    tpl = load_template(ROOT / "template.yaml", {"RunTokenSecret": "x" * 32}, cache_dir=False)
    names = {lid: r["Properties"]["LayerName"] for lid, r in tpl.resources.items() if "LayerName" in r["Properties"]}
    layers = {
        lid: [names[ref["Ref"]] for ref in r["Properties"].get("Layers", []) if "Ref" in ref]
        for lid, r in tpl.resources.items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    return Router(tpl.http_routes), layers


def test_requests_that_reach_the_sandbox_go_to_a_function_with_the_sandbox_layer(
    svc: Services, touched: set[tuple[str, str]], org_key: tuple[str, str]
) -> None:
    _, key = org_key
    provider = svc.sandbox_provider
    assert isinstance(provider, RecordingProvider)
    sid = create(key).json["id"]
    ready(svc, provider, sid)
    requests = [
        ("GET", f"/v1/sessions/{sid}", None),
        ("GET", "/v1/sessions", None),
        ("POST", f"/v1/sessions/{sid}/actions", {"action": "screenshot"}),
        ("POST", f"/v1/sessions/{sid}/tasks", {"prompt": "Read the page title"}),
        ("POST", f"/v1/sessions/{sid}/pause", None),
        ("POST", f"/v1/sessions/{sid}/resume", None),
        ("POST", f"/v1/sessions/{sid}/stop", None),
        ("DELETE", f"/v1/sessions/{sid}", None),
    ]
    for method, path, body in requests:
        assert call(http_event(method, path, body=body, key=key)).status in (200, 202), (method, path)
    # A second session whose agent reports its exit: the session fails and its sandbox is killed.
    other = create(key).json["id"]
    token = next(r for r in provider.requests if r.run_id == other).run_token
    exit_event = http_event(
        "POST",
        f"/internal/runs/{other}/exit",
        body={"reporter": "supervisor", "exit_code": 1},
        headers={"authorization": f"Bearer {token}"},
    )
    assert call(exit_event).status == 202
    assert provider.killed == ["rec_1", "rec_2"]
    # MCP's session tools reach the sandbox in-process: /mcp must be served with SandboxLayer too.
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "create_session", "arguments": {}}}
    headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}
    reply = call(http_event("POST", "/mcp", body=rpc, key=key, headers=headers))
    assert reply.status == 200 and not reply.json["result"].get("isError"), reply.text

    router, layers = _served_by()
    expected_touching = {
        ("POST", "/v1/sessions"),
        ("POST", f"/internal/sessions/{sid}/ready"),
        *((m, p) for m, p, _ in requests if m != "GET"),
        ("POST", f"/internal/runs/{other}/exit"),
        ("POST", "/mcp"),
    }
    assert touched == expected_touching  # the reads never build a provider
    for method, path in touched:
        matched = router.match(method, path)
        assert matched is not None, (method, path)
        function = matched[0].function
        assert "SandboxLayer" in layers[function], f"{method} {path} is served by {function}, without SandboxLayer"
    for method, path, _ in requests:
        if method == "GET":
            matched = router.match(method, path)
            assert matched is not None and matched[0].function == "ApiFunction", (method, path)
