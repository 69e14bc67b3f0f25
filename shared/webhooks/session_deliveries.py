"""A session's webhook deliveries (session.started / session.closed), listed and redelivered the way
a run's are (GET /v1/runs/{id}/deliveries, POST .../redeliver): the same delivery log and state,
keyed by the session's id, and the same webhook-id on a redelivery so receivers deduplicate."""

from __future__ import annotations

from shared.errors import Conflict
from shared.models.sessions import SessionStatus
from shared.models.webhooks import DeliveryList, SessionRedeliveryAccepted
from shared.services import Services
from shared.sessions.envelope import load
from shared.webhooks.delivery import webhook_id
from shared.webhooks.queue import WebhookMessage


def list_session_deliveries(
    svc: Services, org_id: str, session_id: str, limit: int = 50, cursor: str | None = None
) -> DeliveryList:
    """The session's delivery attempts, newest first; 404 for an unknown session (or another org's)."""
    load(svc, org_id, session_id)
    items, next_cursor = svc.webhooks.list_attempts(org_id, session_id, limit, cursor)
    return DeliveryList(data=items, next_cursor=next_cursor)


def latest_event(item: dict) -> str | None:
    """The session's latest event: session.closed once it is closed, session.started once it was ready."""
    if SessionStatus(item["status"]).is_terminal:
        return "session.closed"
    return "session.started" if item.get("ready_at") else None


def redeliver_session(svc: Services, org_id: str, session_id: str) -> SessionRedeliveryAccepted:
    """Send the session's latest event again to all the endpoints that name it (same webhook-id)."""
    item = load(svc, org_id, session_id)
    event_type = latest_event(item)
    if event_type is None:
        raise Conflict(
            f"session {session_id} is {item['status']}; it has no event to redeliver yet",
            code="session_state",
            details={"status": item["status"]},
        )
    svc.webhooks.reset_delivery(org_id, session_id, event_type)
    message = WebhookMessage(org_id=org_id, session_id=session_id, event_type=event_type, redelivery=True)  # type: ignore[arg-type]
    svc.webhook_queue.send(message.model_dump_json(include={"org_id", "session_id", "event_type", "redelivery"}))
    return SessionRedeliveryAccepted(
        session_id=session_id,
        event_type=event_type,  # type: ignore[arg-type]
        webhook_id=webhook_id(session_id, event_type),
    )
