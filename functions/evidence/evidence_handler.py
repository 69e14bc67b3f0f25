"""Evidence function: on a run-finished event, copy the run's screenshots and step records from its
sandbox to S3, write the manifest, kill the sandbox and emit ``Evidence Ready`` (shared/evidence.py).

Triggered asynchronously by the EventBridge rule; an exception makes Lambda retry the event.
"""

from __future__ import annotations

from typing import Any

from shared.evidence import collect
from shared.logging import bind_context, clear_context
from shared.services import get_services


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    clear_context()
    detail = event.get("detail") or {}
    run_id, org_id = detail["run_id"], detail["org_id"]
    bind_context(run_id=run_id, org_id=org_id)
    outcome = collect(get_services(), org_id, run_id)
    return {"status": outcome.status, "files": outcome.files}
