"""GET /v1/usage: usage records of the runs that finished in a window, with totals over the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.billing.pricing import usd
from shared.db.billing import time_key
from shared.errors import Unprocessable
from shared.models.billing import UsageRecord, UsageReport, UsageTotals
from shared.services import Services


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def window(now: datetime, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) in UTC. ``end`` defaults to now; ``start`` to the first instant of the UTC month
    holding the window's last instant (so ``to=2026-02-01T00:00:00Z`` alone means January).
    Timestamps without a zone are UTC."""
    end = _utc(end) if end is not None else _utc(now)
    if start is None:
        last = end - timedelta(microseconds=1)
        start = last.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = _utc(start)
    if start > end:
        raise Unprocessable(
            f"from ({start.isoformat()}) is after to ({end.isoformat()})",
            code="invalid_window",
            details=[{"loc": ["query", "from"], "msg": "must not be after `to`"}],
        )
    return start, end


def usage_report(
    svc: Services,
    org_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    project_id: str | None,
    limit: int,
    cursor: str | None,
) -> UsageReport:
    start, end = window(svc.clock.now(), start, end)
    lo, hi = time_key(start), time_key(end)
    items, next_cursor = svc.billing.usage_page(org_id, project_id, lo, hi, limit=limit, cursor=cursor)
    sums = svc.billing.usage_totals(org_id, project_id, lo, hi)
    totals = UsageTotals(
        runs=sums["runs"],
        input_tokens=sums["input_tokens"],
        output_tokens=sums["output_tokens"],
        llm_calls=sums["llm_calls"],
        sandbox_seconds=sums["sandbox_ms"] / 1000,
        cost_micros=sums["cost_micros"],
        cost_usd=usd(sums["cost_micros"]),
        charged_micros=sums["charged_micros"],
        unpaid_micros=sums["unpaid_micros"],
    )
    return UsageReport(
        start=start,
        end=end,
        project_id=project_id,
        totals=totals,
        data=[UsageRecord.model_validate(i) for i in items],
        next_cursor=next_cursor,
    )
