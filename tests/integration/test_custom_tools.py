"""Custom tools (shared/runs/custom_tools.py) against moto with an injected clock: the call waits in
waiting_for_tool, the result resumes the run once, a call past tool_timeout_s comes back as expired
with the run running again, and the wait is paused time."""

from __future__ import annotations

import pytest

from shared.errors import Conflict, Unprocessable
from shared.models.common import RunStatus
from shared.models.runs import ToolResult
from shared.runs import custom_tools
from tests.integration.test_orchestration_steps import env, started  # noqa: F401  (fixture)

TOOL = {"name": "lookup", "description": "d", "parameters": {"type": "object", "properties": {}}}


def _called(env, **kw):  # noqa: F811
    svc, provider, org_id = env
    run_id, _ = started(svc, provider, org_id, tools=[TOOL], max_duration_s=60, **kw)
    return svc, org_id, run_id, custom_tools.call(svc, org_id, run_id, "lookup", {"q": 1})


def test_a_result_resumes_the_run_and_is_taken_once(env) -> None:  # noqa: F811
    svc, org_id, run_id, call = _called(env)
    run = svc.runs.get(org_id, run_id, consistent=True)
    assert run.status == RunStatus.waiting_for_tool and run.tool_call["arguments"] == {"q": 1}
    svc.clock.advance(40)
    with pytest.raises(Unprocessable):
        custom_tools.submit(svc, org_id, run_id, ToolResult(call_id=call["id"], output="x" * 40_000))
    custom_tools.submit(svc, org_id, run_id, ToolResult(call_id=call["id"], output={"ok": True}))
    with pytest.raises(Conflict):
        custom_tools.submit(svc, org_id, run_id, ToolResult(call_id=call["id"], output={"ok": True}))
    taken = custom_tools.take_result(svc, org_id, run_id, call["id"])
    assert taken["status"] == "answered" and taken["output"] == {"ok": True}
    assert taken["paused_s"] == pytest.approx(40)


def test_no_result_by_the_timeout_comes_back_expired_and_the_run_goes_on(env) -> None:  # noqa: F811
    svc, org_id, run_id, call = _called(env, tool_timeout_s=5)
    svc.clock.advance(6)
    assert custom_tools.take_result(svc, org_id, run_id, call["id"])["status"] == "expired"
    assert svc.runs.get(org_id, run_id, consistent=True).status == RunStatus.running
    with pytest.raises(Conflict):
        custom_tools.submit(svc, org_id, run_id, ToolResult(call_id=call["id"], output="late"))


def test_an_unknown_tool_is_refused(env) -> None:  # noqa: F811
    svc, org_id, run_id, _ = _called(env)
    custom_tools.submit(svc, org_id, run_id, ToolResult(call_id=_["id"], error="boom"))
    with pytest.raises(Conflict):
        custom_tools.call(svc, org_id, run_id, "click", {})
