"""A session as the API shows it: the record read for the caller's org, the envelope (usage so far,
presigned screenshot URLs, the idle deadline) and the 409 that names the status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.billing.pricing import usd
from shared.billing.sessions import session_cost, session_tokens
from shared.errors import Conflict, NotFound
from shared.ids import is_id
from shared.models.sessions import Session, SessionList, SessionStatus
from shared.services import Services
from shared.sessions.lifecycle import LIVE, sandbox_seconds

_S = SessionStatus


def load(svc: Services, org_id: str, session_id: str) -> dict[str, Any]:
    """The session record; NotFound (``session_not_found``) if the org has none of that id."""
    item = svc.sessions.get(org_id, session_id, consistent=True) if is_id(session_id, "ses") else None
    if item is None:
        raise NotFound(f"no session {session_id}", code="session_not_found")
    return item


def wrong_state(item: dict[str, Any], doing: str) -> Conflict:
    return Conflict(
        f"session {item['id']} is {item['status']}; cannot {doing}",
        code="session_state",
        details={"status": item["status"]},
    )


def envelope(svc: Services, item: dict[str, Any]) -> Session:
    now = svc.clock.now()
    ttl = svc.settings.evidence_url_ttl_s
    store = svc.evidence_store
    steps = [
        {**s, "screenshot_url": store.presigned_url(s["screenshot_key"], ttl) if s.get("screenshot_key") else None}
        for s in item.get("steps") or []
    ]
    usage = item.get("usage")
    billed = item.get("billed_usage")
    if SessionStatus(item["status"]) in LIVE:
        usage = {"sandbox_seconds": sandbox_seconds(item, now)}
    if billed:  # the one usage record, charged after the close
        usage = {
            "sandbox_seconds": int(billed["sandbox_ms"]) / 1000,
            "cost_micros": int(billed["cost_micros"]),
            "cost_usd": usd(int(billed["cost_micros"])),
            "cost_status": "billed",
            "waived_reason": billed.get("waived_reason"),
        }
    elif usage is not None:
        ms = round(float(usage.get("sandbox_seconds") or 0) * 1000)
        cost = 0 if usage.get("waived_reason") else session_cost(svc, item, ms).total
        usage = {**usage, "cost_micros": cost, "cost_usd": usd(cost)}
    if usage is not None:
        tokens_in, tokens_out = session_tokens(item)
        usage = {**usage, "input_tokens": tokens_in, "output_tokens": tokens_out}
    idle_at = None
    if item.get("last_active_at") and SessionStatus(item["status"]) in (_S.ready, _S.paused, _S.manual):
        idle_at = datetime.fromisoformat(item["last_active_at"]) + timedelta(seconds=int(item["idle_timeout_s"]))
    shot = item.get("screenshot_key")
    return Session.model_validate(
        {
            **item,
            "steps": steps,
            "usage": usage,
            "idle_expires_at": idle_at,
            "screenshot_url": store.presigned_url(shot, ttl) if shot else None,
        }
    )


def get_session(svc: Services, org_id: str, session_id: str) -> Session:
    return envelope(svc, load(svc, org_id, session_id))


def list_sessions(
    svc: Services, org_id: str, *, limit: int, cursor: str | None, status: SessionStatus | None
) -> SessionList:
    items, next_cursor = svc.sessions.list(org_id, limit=limit, cursor=cursor, status=status)
    return SessionList(data=[envelope(svc, i) for i in items], next_cursor=next_cursor)
