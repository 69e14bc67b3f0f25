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
    else:
        out["next"] = "poll with get_run (or wait_s), or stop it with cancel_run"
    return out


def summarize_page(page: dict[str, Any]) -> dict[str, Any]:
    """A page of runs: one short line of fields per run, and the cursor of the next page."""
    return {
        "runs": [summarize(run, with_result=False) for run in page.get("data") or []],
        "next_cursor": page.get("next_cursor"),
    }
