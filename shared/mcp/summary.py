"""The short answers MCP tools give: a run's id, status and progress, and once it ends its result.

An assistant's context is small and every token of a tool answer is read by a model: a summary keeps
what decides the next call (poll again, read the result, cancel) and leaves the steps, network log
and evidence to ``GET /v1/runs/{id}``, whose URL it names.
"""

from __future__ import annotations

from typing import Any

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
PROMPT_CHARS = 200


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize(run: dict[str, Any], *, with_result: bool = True) -> dict[str, Any]:
    """A run envelope (JSON) in a few fields; ``with_result`` adds the result of a finished run."""
    status = run["status"]
    progress = run.get("progress") or {}
    usage = run.get("usage") or {}
    out: dict[str, Any] = {
        "run_id": run["id"],
        "status": status,
        "finished": status in TERMINAL,
        "prompt": _clip(run.get("prompt") or "", PROMPT_CHARS),
        "created_at": run.get("created_at"),
        "steps": len(run["steps"]) if run.get("steps") is not None else progress.get("step", 0),
        "last_url": progress.get("last_url"),
        "cost_usd": usage.get("cost_usd"),
        "envelope": f"/v1/runs/{run['id']}",
    }
    if status in TERMINAL:
        out["finished_at"] = run.get("finished_at")
        if run.get("error"):
            out["error"] = run["error"]
        if with_result:
            out["result"] = run.get("result")
            confidence = run.get("confidence")
            if confidence:
                out["confidence"] = confidence.get("score")
                out["confidence_reason"] = confidence.get("reason")
        if run.get("evidence") is not None:
            out["screenshots"] = len(run["evidence"])
    elif status == "needs_input" and run.get("input_request"):
        ask = run["input_request"]
        out["input_request"] = {k: ask.get(k) for k in ("id", "question", "schema", "expires_at")}
        out["next"] = "answer it with answer_input (request_id = input_request.id), or cancel_run"
    elif status == "waiting_for_tool" and run.get("tool_call"):
        call = run["tool_call"]
        out["tool_call"] = {k: call.get(k) for k in ("id", "name", "arguments", "expires_at")}
        out["next"] = "run the tool and give its result with send_tool_result (call_id = tool_call.id)"
    else:
        out["next"] = "poll with get_run (or wait_s), or stop it with cancel_run"
    return out


def summarize_page(page: dict[str, Any]) -> dict[str, Any]:
    """A page of runs: one short line of fields per run, and the cursor of the next page."""
    return {
        "runs": [summarize(run, with_result=False) for run in page.get("data") or []],
        "next_cursor": page.get("next_cursor"),
    }


SESSION_CLOSED = frozenset({"closed", "failed", "expired"})
RESULT_CHARS = 4000


def summarize_session(session: dict[str, Any]) -> dict[str, Any]:
    """A session envelope (JSON) in a few fields: its state, what its browser shows, its task."""
    status = session["status"]
    out: dict[str, Any] = {
        "session_id": session["id"],
        "status": status,
        "live": status not in SESSION_CLOSED,
        "current_url": session.get("current_url"),
        "current_title": session.get("current_title"),
        "current_task": session.get("current_task"),
        "tasks": len(session.get("tasks") or []),
        "actions": len(session.get("steps") or []),
        "expires_at": session.get("expires_at"),
        "idle_expires_at": session.get("idle_expires_at"),
        "envelope": f"/v1/sessions/{session['id']}",
    }
    if status in SESSION_CLOSED:
        out["close_reason"] = session.get("close_reason")
        if session.get("error"):
            out["error"] = session["error"]
        usage = session.get("usage") or {}
        out["cost_usd"] = usage.get("cost_usd")
    elif status == "starting":
        out["next"] = (
            "get_session with wait_s (it answers once ready) until status is ready, then run_session_task or "
            "session_action"
        )
    elif status == "busy":
        out["next"] = (
            "poll the task with get_run (or get_session with wait_s: it answers once the session is ready "
            "again); pause, resume or stop it with control_session"
        )
    return out


def summarize_session_page(page: dict[str, Any]) -> dict[str, Any]:
    return {
        "sessions": [summarize_session(s) for s in page.get("data") or []],
        "next_cursor": page.get("next_cursor"),
    }


def summarize_action(answer: dict[str, Any]) -> dict[str, Any]:
    """A direct action's answer: ok, its result (clipped when long text), where the page is now."""
    step = answer.get("step") or {}
    result = answer.get("result")
    if isinstance(result, str):
        result = _clip(result, RESULT_CHARS)
    out: dict[str, Any] = {
        "session_id": answer["session_id"],
        "action": answer["action"],
        "ok": answer["ok"],
        "result": result,
        "url": step.get("url"),
        "title": step.get("title"),
        "screenshot_url": step.get("screenshot_url"),
    }
    if answer.get("error"):
        out["error"] = answer["error"]
    return out
