"""Pricing math and money formatting: integers only (micro-dollars), rounding each part up."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from shared.models.billing import MICROS_PER_USD, CostBreakdown, Pricing


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Cost:
    run_fee: int = 0
    input: int = 0
    output: int = 0
    sandbox: int = 0

    @property
    def total(self) -> int:
        return self.run_fee + self.input + self.output + self.sandbox

    def breakdown(self) -> CostBreakdown:
        return CostBreakdown(
            run_fee_micros=self.run_fee, input_micros=self.input, output_micros=self.output, sandbox_micros=self.sandbox
        )


def cost_of(
    pricing: Pricing,
    model: str | None,
    *,
    input_tokens: int,
    output_tokens: int,
    sandbox_ms: int,
    started: bool = True,
) -> Cost:
    """What a run costs; ``started`` is False for runs that never started a sandbox (no fee)."""
    price = pricing.token_price(model)
    return Cost(
        run_fee=pricing.run_fee_micros if started else 0,
        input=_ceil_div(max(0, input_tokens) * price.input_per_mtok_micros, 1_000_000),
        output=_ceil_div(max(0, output_tokens) * price.output_per_mtok_micros, 1_000_000),
        sandbox=_ceil_div(max(0, sandbox_ms) * pricing.sandbox_second_micros, 1000),
    )


def max_cost(
    pricing: Pricing, model: str | None, *, max_input_tokens: int, max_output_tokens: int, max_duration_s: int
) -> Cost:
    """The most a run can cost within its budgets (the admission check at submission)."""
    return cost_of(
        pricing,
        model,
        input_tokens=max_input_tokens,
        output_tokens=max_output_tokens,
        sandbox_ms=max_duration_s * 1000,
    )


def usd(micros: int) -> str:
    """Micro-dollars as a USD decimal string: at least 2 decimals, at most 6 (``5000`` → ``"0.005"``)."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    digits = f"{frac:06d}".rstrip("0")
    return f"{sign}{whole}.{digits.ljust(2, '0')}"


def micros_of_usd(value: str | int | Decimal) -> int:
    """A USD amount (``"12.5"``) as micro-dollars; ValueError if not a number or finer than a micro-dollar."""
    try:
        amount = Decimal(str(value)) * MICROS_PER_USD
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a USD amount") from exc
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of micro-dollars")
    return int(amount)
