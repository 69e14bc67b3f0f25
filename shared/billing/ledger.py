"""The balance: operator changes (credit, debit, floor) with their ledger lines, the admission check
at submission and the one charge per finished run.

Every change to money is a ledger line (who, when, how much, why, the balance after) written in the
same transaction as the change, conditional on the exact balance it was computed from: a change
that lost a race reads the balance again and retries.
"""

from __future__ import annotations

from typing import Any

from shared.billing.budget import admission_need
from shared.billing.pricing import usd
from shared.billing.usage import Measured, measure
from shared.db import keys
from shared.db.billing import BalanceChanged, UsageAlreadyRecorded, time_key
from shared.errors import (
    Conflict,
    EventPublishFailed,
    NotFound,
    PaymentRequired,
    ServiceUnavailable,
    Unprocessable,
)
from shared.logging import get_logger
from shared.models.billing import Balance, LedgerEntry, LedgerPage, UsageRecord
from shared.models.run_record import RunRecord
from shared.services import Services

log = get_logger(__name__)
# Attempts of the read-balance / conditional-write loop before giving up (the caller retries). Each
# round at least one of the contending writers wins, so this many concurrent charges of one org
# always get through.
MAX_CHARGE_ATTEMPTS = 25
BILLING_ACTOR = "billing"


def _balance_state(item: dict[str, Any] | None) -> tuple[int, int]:
    if item is None:
        return 0, 0
    return int(item.get("balance_micros", 0)), int(item.get("floor_micros", 0))


def get_balance(svc: Services, org_id: str) -> Balance:
    item = svc.billing.get_balance(org_id)
    balance, floor = _balance_state(item)
    return Balance(
        balance_micros=balance,
        balance_usd=usd(balance),
        floor_micros=floor,
        floor_usd=usd(floor),
        available_micros=max(0, balance - floor),
        unpaid_micros=int((item or {}).get("unpaid_micros", 0)),
        updated_at=(item or {}).get("updated_at"),
    )


def _entry(
    svc: Services,
    org_id: str,
    *,
    kind: str,
    amount: int,
    balance_after: int,
    floor_after: int,
    reason: str,
    actor: str,
    run_id: str | None = None,
) -> dict[str, Any]:
    entry = {
        "id": svc.ids.new("txn"),
        "org_id": org_id,
        "kind": kind,
        "amount_micros": amount,
        "balance_after_micros": balance_after,
        "floor_after_micros": floor_after,
        "reason": reason,
        "actor": actor,
        "created_at": time_key(svc.clock.now()),
    }
    if run_id:
        entry["run_id"] = run_id
    return entry


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500 or any(ord(c) < 32 for c in reason):
        raise Unprocessable("a reason of 1..500 printable characters is required", code="reason_required")
    return reason


def _change(
    svc: Services, org_id: str, kind: str, *, delta: int = 0, floor: int | None = None, reason: str, actor: str
) -> Balance:
    reason = _check_reason(reason)
    for _attempt in range(MAX_CHARGE_ATTEMPTS):
        seen = svc.billing.get_balance(org_id)
        balance, current_floor = _balance_state(seen)
        new_floor = current_floor if floor is None else floor
        entry = _entry(
            svc,
            org_id,
            kind=kind,
            amount=delta,
            balance_after=balance + delta,
            floor_after=new_floor,
            reason=reason,
            actor=actor,
        )
        counters = {"credited_micros": delta} if delta > 0 else {"debited_micros": -delta} if delta < 0 else {}
        try:
            svc.billing.change_balance(
                org_id,
                seen=seen,
                balance=balance + delta,
                floor=new_floor,
                entry=entry,
                counters=counters,
                now_iso=svc.clock.now().isoformat(),
            )
        except BalanceChanged:
            continue
        log.info("balance_changed", org_id=org_id, kind=kind, micros=delta, floor=new_floor, actor=actor, reason=reason)
        return get_balance(svc, org_id)
    raise ServiceUnavailable("the balance changed too often; retry", code="balance_contention")


def _positive(micros: int) -> int:
    if isinstance(micros, bool) or not isinstance(micros, int) or micros <= 0:
        raise Unprocessable("an amount is a positive whole number of micro-dollars", code="invalid_amount")
    return micros


def credit(svc: Services, org_id: str, micros: int, reason: str, actor: str = "operator") -> Balance:
    """Add ``micros`` (> 0) to the org's balance, with a ledger line saying who and why."""
    return _change(svc, org_id, "credit", delta=_positive(micros), reason=reason, actor=actor)


def debit(svc: Services, org_id: str, micros: int, reason: str, actor: str = "operator") -> Balance:
    """Take ``micros`` (> 0) from the org's balance (a correction or refund reversal); it may go
    below the floor, since an operator means it."""
    return _change(svc, org_id, "debit", delta=-_positive(micros), reason=reason, actor=actor)


def set_floor(
    svc: Services, org_id: str, floor_micros: int, reason: str = "floor set", actor: str = "operator"
) -> Balance:
    """Set how low charges may take the balance (0 by default; negative for a credit line)."""
    return _change(svc, org_id, "floor", floor=int(floor_micros), reason=reason, actor=actor)


def ledger(svc: Services, org_id: str, *, limit: int, cursor: str | None) -> LedgerPage:
    items, next_cursor = svc.billing.ledger_page(org_id, limit=limit, cursor=cursor)
    data = [
        LedgerEntry(
            id=i["id"],
            kind=i["kind"],
            amount_micros=int(i["amount_micros"]),
            amount_usd=usd(int(i["amount_micros"])),
            balance_after_micros=int(i["balance_after_micros"]),
            balance_after_usd=usd(int(i["balance_after_micros"])),
            floor_after_micros=int(i["floor_after_micros"]),
            reason=i["reason"],
            actor=i["actor"],
            run_id=i.get("run_id"),
            created_at=i["created_at"],
        )
        for i in items
    ]
    return LedgerPage(data=data, next_cursor=next_cursor)


def ensure_affordable(svc: Services, org_id: str, model: str, limits: dict[str, int], cap_micros: int | None) -> None:
    """The admission check: refuse (402) a run whose maximum cost (within its budgets, at most its
    cap) is more than the balance above the floor. Reads only; the run is charged what it used later."""
    need = admission_need(svc.settings.pricing, model, limits, cap_micros)
    balance, floor = _balance_state(svc.billing.get_balance(org_id))
    available = max(0, balance - floor)
    if available >= need:
        return
    raise PaymentRequired(
        f"this run may cost up to ${usd(need)} (run fee, max_input_tokens {limits['max_input_tokens']}, "
        f"max_output_tokens {limits['max_output_tokens']}, max_duration_s {limits['max_duration_s']} "
        f"with model {model}, at most max_cost_usd); ${usd(available)} is available. "
        "Lower the budgets or add credit.",
        code="insufficient_balance",
        details={
            "needed_micros": need,
            "needed_usd": usd(need),
            "available_micros": available,
            "available_usd": usd(available),
        },
    )


def _record_of(svc: Services, run: RunRecord) -> tuple[UsageRecord, Measured]:
    m = measure(svc.settings.pricing, run, svc.clock.now())
    record = UsageRecord(
        run_id=run.id,
        project_id=run.project_id,
        job_id=run.job_id,
        model=run.model,
        status=run.status.value,
        created_at=run.created_at,
        # A terminal run always has finished_at; the fallback only keeps the key deterministic.
        finished_at=run.finished_at or run.created_at,
        recorded_at=svc.clock.now(),
        input_tokens=m.input_tokens,
        output_tokens=m.output_tokens,
        llm_calls=m.llm_calls,
        sandbox_seconds=m.sandbox_ms / 1000,
        cost_micros=m.billable,
        cost_usd=usd(m.billable),
        charged_micros=0,
        unpaid_micros=m.billable,
        breakdown=m.cost.breakdown(),
        list_cost_micros=m.cost.total,
        max_cost_micros=m.cap_micros,
        capped=m.capped,
        waived_reason=m.waived_reason,
    )
    return record, m


def record_usage(svc: Services, org_id: str, run_id: str) -> UsageRecord | None:
    """Write the finished run's usage record and debit its cost from the balance, exactly once.

    Returns the record when this call wrote it, None when it was already recorded (a retry or a
    concurrent call did it). What the balance cannot cover above its floor is charged down to the
    floor and kept as ``unpaid_micros``. The billed figures are copied onto the run in the same
    transaction, so its envelope shows what was billed. Raises NotFound / Conflict for a missing or
    unfinished run and ServiceUnavailable when the balance keeps changing (the caller retries).
    """
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    if not run.status.is_terminal:
        raise Conflict(f"run {run_id} is {run.status.value}, not finished", code="run_not_finished")
    record, m = _record_of(svc, run)
    return charge(svc, org_id, record, m, subject_sk=keys.run_sk(run_id), what=f"run {run_id} ({run.status.value})")


def charge(
    svc: Services, org_id: str, record: UsageRecord, m: Measured, *, subject_sk: str, what: str
) -> UsageRecord | None:
    """Write ``record`` once and debit its cost, the billed figures copied onto the item at
    (org, ``subject_sk``) in the same transaction (a run, or a session: shared/billing/sessions.py).
    None when the record already exists."""
    run_id = record.run_id
    cost = record.cost_micros
    finished_key = time_key(record.finished_at)
    for _attempt in range(MAX_CHARGE_ATTEMPTS):
        seen = svc.billing.get_balance(org_id)
        balance, floor = _balance_state(seen)
        debit_ = min(cost, max(0, balance - floor))
        record = record.model_copy(update={"charged_micros": debit_, "unpaid_micros": cost - debit_})
        item = svc.billing.usage_item(org_id, record.model_dump(mode="json"), finished_key, m.sandbox_ms)
        billed = {
            "input_tokens": m.input_tokens,
            "output_tokens": m.output_tokens,
            "llm_calls": m.llm_calls,
            "sandbox_ms": m.sandbox_ms,
            "cost_micros": cost,
            "charged_micros": debit_,
            "capped": m.capped,
            "waived_reason": m.waived_reason,
        }
        entry = None
        if debit_:
            entry = _entry(
                svc,
                org_id,
                kind="run_charge",
                amount=-debit_,
                balance_after=balance - debit_,
                floor_after=floor,
                reason=what,
                actor=BILLING_ACTOR,
                run_id=run_id,
            )
        try:
            svc.billing.record_usage(
                org_id,
                item,
                seen=seen,
                balance=balance - debit_,
                floor=floor,
                debit=debit_,
                unpaid=cost - debit_,
                billed=billed,
                entry=entry,
                now_iso=svc.clock.now().isoformat(),
                subject_sk=subject_sk,
            )
        except UsageAlreadyRecorded:
            log.info("usage_already_recorded", run_id=run_id, org_id=org_id)
            return None
        except BalanceChanged:
            continue
        break
    else:
        raise ServiceUnavailable("the balance changed too often to charge this run; retry", code="balance_contention")
    log.info(
        "usage_recorded",
        run_id=run_id,
        org_id=org_id,
        cost_micros=record.cost_micros,
        list_cost_micros=record.list_cost_micros,
        charged_micros=record.charged_micros,
        unpaid_micros=record.unpaid_micros,
        waived_reason=record.waived_reason,
        capped=record.capped,
    )
    _publish(svc, org_id, record)
    return record


def _publish(svc: Services, org_id: str, record: UsageRecord) -> None:
    detail = {
        "run_id": record.run_id,
        "org_id": org_id,
        "project_id": record.project_id,
        "job_id": record.job_id,
        "model": record.model,
        "status": record.status,
        "finished_at": record.finished_at.isoformat(),
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "llm_calls": record.llm_calls,
        "sandbox_seconds": record.sandbox_seconds,
        "cost_micros": record.cost_micros,
        "charged_micros": record.charged_micros,
        "unpaid_micros": record.unpaid_micros,
        "waived_reason": record.waived_reason,
        "capped": record.capped,
    }
    try:
        svc.events.publish("Usage Recorded", detail, resources=[record.run_id])
    except EventPublishFailed as exc:  # the charge is made; an integration may miss this one event
        log.error("usage_recorded_event_failed", run_id=record.run_id, error=exc.message)
