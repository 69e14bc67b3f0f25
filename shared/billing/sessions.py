"""A session's one usage record: its sandbox's whole life, idle time included, charged once after
it closes (its tasks are runs, each billed its tokens and run fee by ledger.record_usage, with no
sandbox time of their own: nothing is billed twice)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.billing.ledger import charge
from shared.billing.pricing import Cost, cost_of, usd
from shared.billing.usage import Measured
from shared.db import keys
from shared.errors import Conflict, NotFound
from shared.models.billing import UsageRecord
from shared.models.sessions import SessionStatus
from shared.services import Services


def session_tokens(item: Mapping[str, Any]) -> tuple[int, int]:
    """The tokens of the session's own model calls (a direct extract with a schema; its tasks' are theirs)."""
    return int(item.get("llm_input_tokens") or 0), int(item.get("llm_output_tokens") or 0)


def session_cost(svc: Services, item: Mapping[str, Any], sandbox_ms: int) -> Cost:
    """The session's own cost: its sandbox's whole life and its own tokens, at the default model's price."""
    tokens_in, tokens_out = session_tokens(item)
    return cost_of(
        svc.settings.pricing,
        svc.settings.default_model,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        sandbox_ms=sandbox_ms,
        started=False,
    )


def record_session_usage(svc: Services, org_id: str, session_id: str) -> UsageRecord | None:
    """Write the closed session's usage record and debit it, exactly once (None when already done).
    A session that failed through our infrastructure before its first task is recorded at zero."""
    item = svc.sessions.get(org_id, session_id, consistent=True)
    if item is None:
        raise NotFound(f"no session {session_id}", code="session_not_found")
    if not SessionStatus(item["status"]).is_terminal:
        raise Conflict(f"session {session_id} is {item['status']}, not closed", code="session_not_closed")
    usage = item.get("usage") or {}
    ms = round(float(usage.get("sandbox_seconds") or 0) * 1000)
    tokens_in, tokens_out = session_tokens(item)
    cost = session_cost(svc, item, ms)
    waived = usage.get("waived_reason")
    m = Measured(
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        llm_calls=int(item.get("llm_calls") or 0),
        sandbox_ms=ms,
        cost=cost,
        cap_micros=None,
        waived_reason=waived,
    )
    billable = m.billable
    record = UsageRecord(
        run_id=session_id,
        project_id=item["project_id"],
        status=item["status"],
        created_at=item.get("created_at"),
        finished_at=datetime.fromisoformat(item.get("closed_at") or item["created_at"]),
        recorded_at=svc.clock.now(),
        sandbox_seconds=ms / 1000,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_micros=billable,
        cost_usd=usd(billable),
        charged_micros=0,
        unpaid_micros=billable,
        breakdown=cost.breakdown(),
        list_cost_micros=cost.total,
        waived_reason=waived,
    )
    return charge(
        svc, org_id, record, m, subject_sk=keys.session_sk(session_id), what=f"session {session_id} ({item['status']})"
    )
