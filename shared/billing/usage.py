"""What a run used and what it costs, from the run record alone: one function for the envelope's
running estimate, the envelope of a finished run and its usage record, so the three never disagree.

Tokens are the LLM gateway's counters on the run; sandbox time is the control plane's: the seconds
Finalize/Cleanup wrote, else from ``started_at`` to ``finished_at`` (to now while the run goes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.billing.pricing import Cost, cost_of, usd
from shared.models.billing import Pricing
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord

# Failures of our own infrastructure, not of the page, the model or the task: nothing is charged.
# A crash of the agent (our code) is AGENT_CRASHED; the page or the model end a run with other codes.
INFRA_FAILURES = {
    "SANDBOX_START_FAILED": "the sandbox could not be started (our infrastructure)",
    "ORCHESTRATION_UNAVAILABLE": "the run could not be started (our infrastructure)",
    "AGENT_CRASHED": "the agent crashed (our code)",
}


@dataclass(frozen=True)
class Measured:
    input_tokens: int
    output_tokens: int
    llm_calls: int
    sandbox_ms: int
    cost: Cost  # what was used, at list prices
    cap_micros: int | None
    waived_reason: str | None

    @property
    def capped(self) -> bool:
        return self.waived_reason is None and self.cap_micros is not None and self.cost.total > self.cap_micros

    @property
    def billable(self) -> int:
        """What the run is billed: the list cost, at most the cap, nothing when waived."""
        if self.waived_reason is not None:
            return 0
        return min(self.cost.total, self.cap_micros) if self.cap_micros is not None else self.cost.total


def sandbox_ms(run: RunRecord, now: datetime) -> int:
    """Sandbox time: as Finalize/Cleanup counted it, else started → finished (→ now while running)."""
    seconds = (run.usage or {}).get("sandbox_seconds")
    if seconds is not None and run.status.is_terminal:
        return max(0, round(float(seconds) * 1000))
    started = run.started_at
    if started is None:
        return 0
    end = run.finished_at or now
    return max(0, round((end - started).total_seconds() * 1000))


def _counter(run: RunRecord, name: str) -> int:
    counted = getattr(run, f"usage_{name}")  # the LLM gateway's counters on the run record
    if counted is None:
        counted = (run.usage or {}).get(name, 0)
    return int(counted or 0)


def waived_reason(run: RunRecord) -> str | None:
    if run.status != RunStatus.failed or run.error is None:
        return None
    error = run.error
    # A page that eats the sandbox's memory crashes the agent too, but that is the page's doing, not
    # our code's (Finalize and the agent name memory in such a crash's message): it is charged.
    if error.code == "AGENT_CRASHED" and "out of memory" in error.message.lower():
        return None
    return INFRA_FAILURES.get(error.code)


def measure(pricing: Pricing, run: RunRecord, now: datetime) -> Measured:
    ms = sandbox_ms(run, now)
    input_tokens, output_tokens = _counter(run, "input_tokens"), _counter(run, "output_tokens")
    cost = cost_of(
        pricing,
        run.model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        sandbox_ms=ms,
        started=bool(run.started_at),
    )
    cap = run.max_cost_micros
    return Measured(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        llm_calls=_counter(run, "llm_calls"),
        sandbox_ms=ms,
        cost=cost,
        cap_micros=int(cap) if cap is not None else None,
        waived_reason=waived_reason(run),
    )


def envelope_usage(pricing: Pricing, run: RunRecord, now: datetime) -> dict[str, Any] | None:
    """The run envelope's ``usage``: the usage record's figures once billed, else the estimate so far.
    None for a run that has neither started nor been billed."""
    billed = run.billed_usage
    if billed:
        return {
            "input_tokens": int(billed["input_tokens"]),
            "output_tokens": int(billed["output_tokens"]),
            "llm_calls": int(billed["llm_calls"]),
            "sandbox_seconds": int(billed["sandbox_ms"]) / 1000,
            "cost_micros": int(billed["cost_micros"]),
            "cost_usd": usd(int(billed["cost_micros"])),
            "cost_status": "billed",
            "charged_micros": int(billed["charged_micros"]),
            "capped": bool(billed.get("capped")),
            "waived_reason": billed.get("waived_reason"),
        }
    if not run.status.is_terminal and not run.started_at and run.usage_llm_calls is None:
        return None
    m = measure(pricing, run, now)
    return {
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
        "llm_calls": m.llm_calls,
        "sandbox_seconds": m.sandbox_ms / 1000,
        "cost_micros": m.billable,
        "cost_usd": usd(m.billable),
        "cost_status": "estimate",
        "charged_micros": None,
        "capped": m.capped,
        "waived_reason": m.waived_reason,
    }


def priced_steps(pricing: Pricing, run: RunRecord) -> list[dict[str, Any]] | None:
    """The run's steps, each with the tokens and cost of the LLM call that chose it. The agent names
    the call (``llm_call``, its ordinal); the figures are the gateway's own log of that call, so a
    sandbox can point at a call but not change what it cost. Steps chosen by one call share it."""
    steps = run.steps
    calls = run.llm_call_log or []
    if not steps or not calls:
        return steps
    out = []
    for step in steps:
        n = step.get("llm_call")
        if isinstance(n, int) and 1 <= n <= len(calls):
            input_tokens, output_tokens = (int(x) for x in calls[n - 1])
            cost = cost_of(
                pricing,
                run.model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                sandbox_ms=0,
                started=False,
            ).total
            step = {
                **step,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost_micros": cost,
                "cost_usd": usd(cost),
            }
        out.append(step)
    return out
