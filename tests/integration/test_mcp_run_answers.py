"""answer_input and send_tool_result through /mcp (the real API handler, moto, an injected clock): a
run that asks shows its question in the summary, the answer or result resumes it, refusals are tool
errors naming code and status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.api import deps
from shared.api_keys import create_key
from shared.runs import custom_tools, human_input
from shared.services import Services
from tests.integration.test_mcp_api import tool
from tests.integration.test_orchestration_steps import env, started  # noqa: F401  (fixture)
from tests.support.fake_sandbox import FakeSandboxProvider

CODE_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string", "pattern": "^[0-9]{6}$"}},
    "required": ["code"],
}
TOOL = {"name": "lookup", "description": "d", "parameters": {"type": "object", "properties": {}}}
Served = tuple[Services, FakeSandboxProvider, str, str]


@pytest.fixture
def served(env: tuple[Services, FakeSandboxProvider, str]) -> Iterator[Served]:  # noqa: F811
    svc, provider, org_id = env
    deps.override(svc)
    yield svc, provider, org_id, create_key(svc, org_id, name="assistant").key
    deps.override(None)


def error_text(res: dict) -> str:
    assert res["isError"] is True, res
    return res["content"][0]["text"]


def test_a_question_shows_in_get_run_and_its_answer_resumes_the_run(served: Served) -> None:
    svc, provider, org_id, key = served
    run_id, _ = started(svc, provider, org_id, human_input=True, max_duration_s=60)
    request = human_input.ask(svc, org_id, run_id, "Enter the code we texted you", CODE_SCHEMA)

    asked = tool(key, "get_run", {"run_id": run_id})["structuredContent"]
    assert asked["status"] == "needs_input" and "answer_input" in asked["next"]
    assert asked["input_request"]["id"] == request["id"]
    assert asked["input_request"]["question"] == "Enter the code we texted you"
    assert asked["input_request"]["schema"] == CODE_SCHEMA

    bad = tool(key, "answer_input", {"run_id": run_id, "request_id": request["id"], "answer": {"code": "12ab"}})
    assert "(422)" in error_text(bad) and "12ab" not in error_text(bad)
    other = tool(key, "answer_input", {"run_id": run_id, "request_id": "inp_other", "answer": {"code": "123456"}})
    assert "(409)" in error_text(other)

    args = {"run_id": run_id, "request_id": request["id"], "answer": {"code": "123456"}}
    resumed = tool(key, "answer_input", args)["structuredContent"]
    assert resumed["status"] == "running" and "input_request" not in resumed
    assert human_input.take_answer(svc, org_id, run_id, request["id"])["answer"] == {"code": "123456"}
    assert "(409)" in error_text(tool(key, "answer_input", args))  # answered once


def test_a_tool_call_shows_in_get_run_and_its_result_resumes_the_run(served: Served) -> None:
    svc, provider, org_id, key = served
    run_id, _ = started(svc, provider, org_id, tools=[TOOL], max_duration_s=60)
    call = custom_tools.call(svc, org_id, run_id, "lookup", {"q": 1})

    waiting = tool(key, "get_run", {"run_id": run_id})["structuredContent"]
    assert waiting["status"] == "waiting_for_tool" and "send_tool_result" in waiting["next"]
    assert waiting["tool_call"]["id"] == call["id"] and waiting["tool_call"]["arguments"] == {"q": 1}
    listed = tool(key, "list_runs", {"status": "waiting_for_tool"})["structuredContent"]["runs"]
    assert [r["run_id"] for r in listed] == [run_id]

    both = tool(key, "send_tool_result", {"run_id": run_id, "call_id": call["id"], "output": 1, "error": "x"})
    assert "validation_failed (422)" in error_text(both)
    done = tool(key, "send_tool_result", {"run_id": run_id, "call_id": call["id"], "output": {"ok": True}})
    assert done["structuredContent"]["status"] == "running"
    assert custom_tools.take_result(svc, org_id, run_id, call["id"])["output"] == {"ok": True}
