"""What goes on the event bus: the detail of Run * events. Putting events there is
:mod:`shared.aws.event_bus`."""

from __future__ import annotations

from typing import Any


def run_summary(run: dict[str, Any]) -> dict[str, Any]:
    """The detail of Run * events: ids and status, never inputs or results (they may hold secrets)."""
    return {
        "run_id": run["id"],
        "org_id": run.get("org_id"),
        "project_id": run.get("project_id"),
        "job_id": run.get("job_id"),
        "status": run.get("status"),
        "model": run.get("model"),
        "created_at": run.get("created_at"),
        "finished_at": run.get("finished_at"),
        "error_code": (run.get("error") or {}).get("code"),
        "metadata": run.get("metadata") or {},
    }
