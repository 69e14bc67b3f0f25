"""Events on the EventBridge bus (source ``openhelm``). Details carry ids and a summary, never secrets."""

from __future__ import annotations

import json
from typing import Any

from shared.errors import ServiceUnavailable
from shared.logging import get_logger

SOURCE = "openhelm"
log = get_logger("events")


class EventPublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self.client = client
        self.bus_name = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None) -> None:
        entry = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str, separators=(",", ":")),
            "EventBusName": self.bus_name,
            "Resources": resources or [],
        }
        try:
            out = self.client.put_events(Entries=[entry])
        except Exception as exc:  # botocore errors: the caller decides whether this is fatal
            raise ServiceUnavailable("event bus unavailable", code="events_unavailable") from exc
        if out.get("FailedEntryCount"):
            failed = out["Entries"][0]
            raise ServiceUnavailable(
                f"event not accepted: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}",
                code="events_unavailable",
            )
        log.debug("event_published", detail_type=detail_type)


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
