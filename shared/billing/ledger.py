"""The balance: credits, the admission check at submission and the one charge per finished run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.billing.pricing import Cost, cost_of, max_cost, usd
from shared.db.billing import BalanceChanged, BalanceGuard, UsageAlreadyRecorded, time_key
from shared.errors import Conflict, NotFound, OpenHelmError, PaymentRequired, ServiceUnavailable
from shared.logging import get_logger
from shared.models.billing import Balance, UsageRecord
from shared.models.common import RunStatus
from shared.services import Services

log = get_logger("billing")
# Attempts of the read-balance / conditional-write loop before giving up (the caller retries).
MAX_CHARGE_ATTEMPTS = 25


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


def credit(svc: Services, org_id: str, micros: int, reason: str) -> Balance:
    """Add ``micros`` (> 0) to the org's balance, with a ledger line saying why (ops and tests; no API)."""
    if isinstance(micros, bool) or not isinstance(micros, int) or micros <= 0:
        raise ValueError("a credit is a positive whole number of micro-dollars")
    if not reason or len(reason) > 500:
        raise ValueError("a credit needs a reason of 1..500 characters")
    now = svc.clock.now()
    entry = {
        "id": svc.ids.new("crd"),
        "org_id": org_id,
        "amount_micros": micros,
        "reason": reason,
        "created_at": time_key(now),
    }
    svc.billing.credit(org_id, micros, entry, now.isoformat())
    log.info("balance_credited", org_id=org_id, credit_id=entry["id"], micros=micros, reason=reason)
    return get_balance(svc, org_id)


def set_floor(svc: Services, org_id: str, floor_micros: int) -> Balance:
    """Set how low charges may take the balance (0 by default; negative for a credit line)."""
    svc.billing.set_floor(org_id, int(floor_micros), svc.clock.now().isoformat())
    return get_balance(svc, org_id)


def ensure_affordable(svc: Services, org_id: str, model: str, limits: dict[str, int]) -> None:
    """The admission check: refuse (402) a run whose maximum cost within its budgets is more than
    the balance above the floor. Reads only; a run admitted here is charged what it used later."""
    need = max_cost(
        svc.settings.pricing,
        model,
        max_input_tokens=limits["max_input_tokens"],
        max_output_tokens=limits["max_output_tokens"],
        max_duration_s=limits["max_duration_s"],
    ).total
    balance, floor = _balance_state(svc.billing.get_balance(org_id))
    available = max(0, balance - floor)
    if available >= need:
        return
    raise PaymentRequired(
        f"this run may cost up to ${usd(need)} (run fee, max_input_tokens {limits['max_input_tokens']}, "
        f"max_output_tokens {limits['max_output_tokens']}, max_duration_s {limits['max_duration_s']} "
        f"with model {model}); ${usd(available)} is available. Lower the budgets or add credit.",
        code="insufficient_balance",
        details={
            "needed_micros": need,
            "needed_usd": usd(need),
            "available_micros": available,
            "available_usd": usd(available),
        },
    )


def _sandbox_ms(run: dict[str, Any]) -> int:
    """Sandbox time as the control plane counted it (finalize/cleanup); else from started/finished."""
    seconds = (run.get("usage") or {}).get("sandbox_seconds")
    if seconds is None:
        seconds = 0.0
        if run.get("started_at") and run.get("finished_at"):
            delta = datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])
            seconds = max(0.0, delta.total_seconds())
    return max(0, round(float(seconds) * 1000))


def _tokens(run: dict[str, Any], name: str) -> int:
    counted = run.get(f"usage_{name}")  # the LLM gateway's counters on the run record
    if counted is None:
        counted = (run.get("usage") or {}).get(name, 0)
    return int(counted or 0)


def _record_of(svc: Services, run: dict[str, Any]) -> tuple[UsageRecord, Cost, int]:
    sandbox_ms = _sandbox_ms(run)
    input_tokens, output_tokens = _tokens(run, "input_tokens"), _tokens(run, "output_tokens")
    cost = cost_of(
        svc.settings.pricing,
        run.get("model"),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        sandbox_ms=sandbox_ms,
        started=bool(run.get("started_at")),
    )
    record = UsageRecord(
        run_id=run["id"],
        project_id=run["project_id"],
        job_id=run.get("job_id"),
        model=run.get("model"),
        status=run["status"],
        created_at=run.get("created_at"),
        # A terminal run always has finished_at; the fallback only keeps the key deterministic.
        finished_at=run.get("finished_at") or run["created_at"],
        recorded_at=svc.clock.now(),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        llm_calls=_tokens(run, "llm_calls"),
        sandbox_seconds=sandbox_ms / 1000,
        cost_micros=cost.total,
        cost_usd=usd(cost.total),
        charged_micros=0,
        unpaid_micros=cost.total,
        breakdown=cost.breakdown(),
    )
    return record, cost, sandbox_ms


def _debit(balance_item: dict[str, Any] | None, cost: int) -> tuple[int, BalanceGuard]:
    """How much to take from the balance (never below the floor) and the state that decision needs."""
    if balance_item is None:
        return 0, BalanceGuard(exists=False)
    balance, floor = _balance_state(balance_item)
    if balance - floor >= cost:
        return cost, BalanceGuard(exists=True, floor=floor, at_least=floor + cost)
    return max(0, balance - floor), BalanceGuard(exists=True, floor=floor, exactly=balance)


def record_usage(svc: Services, org_id: str, run_id: str) -> UsageRecord | None:
    """Write the finished run's usage record and debit its cost from the balance, exactly once.

    Returns the record when this call wrote it, None when it was already recorded (a retry or a
    concurrent call did it). What the balance cannot cover above its floor is charged down to the
    floor and kept as ``unpaid_micros``. Raises NotFound / Conflict for a missing or unfinished run
    and ServiceUnavailable when the balance keeps changing (the caller retries).
    """
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    if not RunStatus(run["status"]).is_terminal:
        raise Conflict(f"run {run_id} is {run['status']}, not finished", code="run_not_finished")
    record, cost, sandbox_ms = _record_of(svc, run)
    finished_key = time_key(record.finished_at)
    for _attempt in range(MAX_CHARGE_ATTEMPTS):
        debit, guard = _debit(svc.billing.get_balance(org_id), cost.total)
        record = record.model_copy(update={"charged_micros": debit, "unpaid_micros": cost.total - debit})
        item = svc.billing.usage_item(org_id, record.model_dump(mode="json"), finished_key, sandbox_ms)
        try:
            svc.billing.record_usage(
                org_id, item, debit=debit, unpaid=cost.total - debit, guard=guard, now_iso=svc.clock.now().isoformat()
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
        charged_micros=record.charged_micros,
        unpaid_micros=record.unpaid_micros,
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
    }
    try:
        svc.events.publish("Usage Recorded", detail, resources=[record.run_id])
    except OpenHelmError as exc:  # the charge is made; an integration may miss this one event
        log.error("usage_recorded_event_failed", run_id=record.run_id, error=exc.message)
