"""EventBridge target for `Run Succeeded | Run Failed | Run Cancelled`: record the run's usage and
charge the org's balance, exactly once (see shared/billing); and for `Session Closed`: the
session's one usage record, its sandbox's whole life (shared/billing/sessions.py).

Errors propagate on purpose, so Lambda's asynchronous retries (and the rule's dead-letter queue)
deliver the event again; a usage record that already exists is success.
"""

from __future__ import annotations

from typing import Any

from shared.billing import record_usage
from shared.billing.sessions import record_session_usage
from shared.logging import bind_context, clear_context, get_logger
from shared.services import get_services

log = get_logger("functions.billing")  # one name locally and on Lambda (where __name__ is the bare module)
FINISHED = frozenset({"Run Succeeded", "Run Failed", "Run Cancelled"})
SESSION_CLOSED = "Session Closed"


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    clear_context()
    detail_type = event.get("detail-type")
    if detail_type == SESSION_CLOSED:
        detail = event["detail"]
        bind_context(session_id=detail["session_id"], org_id=detail["org_id"])
        session_record = record_session_usage(get_services(), detail["org_id"], detail["session_id"])
        return {"session_id": detail["session_id"], "recorded": session_record is not None}
    if detail_type is not None and detail_type not in FINISHED:
        log.warning("billing_event_ignored", detail_type=detail_type)
        return {"recorded": False, "ignored": detail_type}
    detail = event.get("detail", event)
    run_id, org_id = detail["run_id"], detail["org_id"]
    bind_context(run_id=run_id, org_id=org_id)
    record = record_usage(get_services(), org_id, run_id)
    if record is None:
        return {"run_id": run_id, "recorded": False, "already_recorded": True}
    return {
        "run_id": run_id,
        "recorded": True,
        "cost_micros": record.cost_micros,
        "unpaid_micros": record.unpaid_micros,
    }
