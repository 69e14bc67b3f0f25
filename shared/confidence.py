"""The confidence signal: the model's own value tempered by what the control plane saw."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signals:
    model_confidence: float | None  # what the agent's `done` said, 0..1
    schema_valid: bool  # the result validates against output_schema (checked again by us)
    schema_repairs: int  # times the model had to fix its result to satisfy the schema
    step_errors: int  # tool errors seen during the run (bad refs, timeouts)
    blocked_requests: int  # navigations refused by the domain policy
    replay: bool = False


def score(signals: Signals) -> tuple[float, str]:
    """Return (score in 0..1, a short reason naming what lowered it)."""
    if not signals.schema_valid:
        return 0.0, "result does not satisfy the output schema"
    base = 0.9 if signals.replay else (signals.model_confidence if signals.model_confidence is not None else 0.5)
    base = min(1.0, max(0.0, base))
    notes = ["replayed recorded steps" if signals.replay else f"model reported {base:.2f}"]
    penalty = 0.0
    if signals.schema_repairs:
        penalty += 0.1 * signals.schema_repairs
        notes.append(f"{signals.schema_repairs} schema repair(s)")
    if signals.step_errors:
        penalty += min(0.25, 0.05 * signals.step_errors)
        notes.append(f"{signals.step_errors} step error(s)")
    if signals.blocked_requests:
        penalty += 0.05
        notes.append(f"{signals.blocked_requests} blocked request(s)")
    value = round(max(0.0, base - penalty), 3)
    return value, "; ".join(notes)
