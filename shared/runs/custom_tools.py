"""Custom tools the caller runs: the agent calls one, the run waits in ``waiting_for_tool`` with
``tool_call``; the caller's ``POST /v1/runs/{id}/tool-results`` resumes it and the agent takes the
result through the same kind of bounded long poll as an answer (shared/runs/human_input.py), which
a push through the sandbox provider can replace (:func:`take_result` is the one hand-over).

No result by ``tool_timeout_s``: the poll says so, the run is running again and the agent gets a
timeout error as the tool's result (the run does not fail for it). The time waited is paused time,
like an answer's (it does not count against max_duration_s nor bill sandbox seconds), within the
run's allowance: a call when the allowance is used up is refused and the agent is told.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import Conflict, EventPublishFailed, NotFound, ServiceUnavailable, Unprocessable
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.models.runs import MAX_TOOL_OUTPUT_BYTES, ToolResult
from shared.runs import sandbox_pause
from shared.runs.envelope import run_summary
from shared.runs.human_input import TOOL_WAITS
from shared.runs.lifecycle import move
from shared.services import Services
from shared.webhooks.queue import enqueue

log = get_logger(__name__)
MAX_ARGUMENTS_BYTES = 32_768


def call(svc: Services, org_id: str, run_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """running -> waiting_for_tool with the call; the tool call. Conflict if the run is not running,
    has no such tool or no waiting time left."""
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    if name not in {t["name"] for t in run.tools or []}:
        raise Conflict(f"the run has no tool {name!r}", code="tool_unknown")
    if len(json.dumps(arguments)) > MAX_ARGUMENTS_BYTES:
        raise Unprocessable("the arguments are too large", code="tool_arguments_too_large")
    timeout = run.tool_timeout_s or 120
    left = TOOL_WAITS * timeout - run.paused_s
    if left < 1:
        raise Conflict("the run has no waiting time left for tool calls", code="tool_wait_exhausted")
    now = svc.clock.now()
    tool_call = {
        "id": svc.ids.new("call"),
        "name": name,
        "arguments": arguments,
        "called_at": now.isoformat(),
        "expires_at": (now + timedelta(seconds=min(timeout, left))).isoformat(),
    }
    try:
        item = move(
            svc,
            org_id,
            run_id,
            frm=[RunStatus.running],
            to=RunStatus.waiting_for_tool,
            fields={"tool_call": tool_call, "tool_result": None, "paused_since": now.isoformat()},
        )
    except ConditionalCheckFailed as exc:
        raise Conflict("the run is not running", code="run_not_active") from exc
    detail = {**run_summary(item), "tool_call_id": tool_call["id"], "tool": name}
    try:
        svc.events.publish("Run Tool Call", detail, resources=[run_id])
    except EventPublishFailed as exc:
        log.error("run_tool_call_event_failed", run_id=run_id, error=exc.message)
    try:
        enqueue(svc, org_id, run_id, "run.tool_call", occurrence=tool_call["id"])
    except ServiceUnavailable as exc:
        log.error("run_tool_call_webhook_failed", run_id=run_id, error=exc.message)
    log.info("tool_called", run_id=run_id, call_id=tool_call["id"], tool=name)
    return tool_call


def submit(svc: Services, org_id: str, run_id: str, body: ToolResult) -> RunRecord:
    """The caller's result for the open call: the run is running again. 409 for a call id that is
    not the open one; 422 for an output over the cap."""
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    open_call = run.tool_call or {}
    now = svc.clock.now()
    if run.status != RunStatus.waiting_for_tool or open_call.get("id") != body.call_id:
        raise Conflict("no open tool call with this id", code="tool_call_stale")
    if now >= datetime.fromisoformat(open_call["expires_at"]):
        raise Conflict("the tool call timed out", code="tool_call_stale")
    if body.output is not None and len(json.dumps(body.output)) > MAX_TOOL_OUTPUT_BYTES:
        raise Unprocessable(
            f"the output is larger than {MAX_TOOL_OUTPUT_BYTES} bytes",
            code="tool_output_too_large",
            details=[{"loc": ["body", "output"], "msg": "too large", "type": "tool_output_too_large"}],
        )
    result = {"call_id": body.call_id, "output": body.output, "error": body.error}
    return _resume(svc, run, now, result)


def _resume(svc: Services, run: RunRecord, now: datetime, result: dict[str, Any]) -> RunRecord:
    paused_s = run.paused_total_s(now)
    waited = paused_s - run.paused_s
    fields = {
        "tool_call": None,
        "paused_since": None,
        "paused_s": paused_s,
        "tool_result": result,
    }
    try:
        item = move(svc, run.org_id, run.id, frm=[RunStatus.waiting_for_tool], to=RunStatus.running, fields=fields)
    except ConditionalCheckFailed as exc:
        raise Conflict("no open tool call with this id", code="tool_call_stale") from exc
    sandbox_pause.resume_if_paused(svc, item, now)
    log.info("tool_resumed", run_id=run.id, call_id=result["call_id"], waited_s=round(waited, 3))
    return item


def take_result(svc: Services, org_id: str, run_id: str, call_id: str) -> dict[str, Any]:
    """One look for the result of ``call_id``: {"status": "answered", "output" | "error", "paused_s"},
    {"status": "waiting"} or {"status": "expired", "paused_s"} (the run is running again; the agent
    tells the model the tool timed out). Beats the task heartbeat while it waits."""
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    result = run.tool_result or {}
    if result.get("call_id") == call_id and run.status == RunStatus.running:
        status = "expired" if result.get("timed_out") else "answered"
        return {
            "status": status,
            "output": result.get("output"),
            "error": result.get("error"),
            "paused_s": run.paused_s,
        }
    open_call = run.tool_call or {}
    if run.status != RunStatus.waiting_for_tool or open_call.get("id") != call_id:
        raise Conflict("no open tool call with this id", code="run_not_active")
    now = svc.clock.now()
    if now >= datetime.fromisoformat(open_call["expires_at"]):
        item = _resume(svc, run, now, {"call_id": call_id, "timed_out": True})
        return {"status": "expired", "paused_s": item.paused_s}
    if run.task_token:
        svc.orchestrator.heartbeat(run.task_token)
    sandbox_pause.maybe_pause(svc, run, now)
    return {"status": "waiting", "expires_at": open_call["expires_at"]}
