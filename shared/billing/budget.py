"""One cap in dollars per run (``max_cost_usd``), enforced by the control plane.

- At submission the cap bounds the most a run can cost (:func:`admission_need`, the 402 figure) and,
  through the sandbox price, its wall-clock time (:func:`time_limit`): deadline = min(max_duration_s,
  the moment sandbox time alone would reach the cap).
- Before every LLM call the gateway asks :func:`admit_llm_call`: the cost so far (fee, tokens, sandbox
  time until now) plus the call's worst case (its prompt at most one token per byte of the request,
  plus ``max_tokens`` of output, both at the model's prices) must stay within the cap; ``max_tokens``
  is lowered to what the cap still pays for, and a call that cannot fit is refused (402
  ``budget_exceeded``, which the agent ends as ``BUDGET_EXCEEDED``).
- Whatever happens, the charge is min(cost, cap) (:mod:`shared.billing.usage`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from shared.billing.pricing import max_cost, usd
from shared.billing.usage import measure
from shared.errors import PaymentRequired, Unprocessable
from shared.models.billing import MICROS_PER_USD, Pricing
from shared.models.orgs import Org
from shared.models.run_record import RunRecord
from shared.services import Services

# Tokens a chat template adds per message beyond its text (role markers, separators); generous.
TOKENS_PER_MESSAGE = 8
# A call the cap cannot pay at least this many output tokens for is refused rather than truncated
# into a reply too short to hold a tool call.
MIN_REPLY_TOKENS = 64
BUDGET_EXCEEDED = "BUDGET_EXCEEDED"


def resolve_cap(org: Org, requested: Decimal | None) -> int:
    """The run's cap in micro-dollars: as asked (at most the org's) or the org's."""
    cap = org.limits.max_cost_micros
    if requested is None:
        return cap
    asked = int(requested * MICROS_PER_USD)
    if asked > cap:
        raise Unprocessable(
            f"max_cost_usd above the org's limits (at most {usd(cap)})",
            code="limit_exceeded",
            details=[{"loc": ["max_cost_usd"], "msg": f"at most {usd(cap)} for this org", "limit": usd(cap)}],
        )
    return asked


def time_limit(pricing: Pricing, max_duration_s: int, cap_micros: int) -> tuple[int, bool]:
    """(seconds the run may last, whether the cap rather than max_duration_s sets it). Raises 422 when
    the cap does not even cover the run fee and one second of sandbox."""
    room = cap_micros - pricing.run_fee_micros
    if pricing.sandbox_second_micros <= 0:
        if room < 0:
            raise _cap_too_low(pricing)
        return max_duration_s, False
    seconds = room // pricing.sandbox_second_micros
    if seconds < 1:
        raise _cap_too_low(pricing)
    return (seconds, True) if seconds < max_duration_s else (max_duration_s, False)


def _cap_too_low(pricing: Pricing) -> Unprocessable:
    least = pricing.run_fee_micros + pricing.sandbox_second_micros
    return Unprocessable(
        f"max_cost_usd is below the least a run costs ({usd(least)}: the run fee and one sandbox second)",
        code="max_cost_too_low",
        details=[{"loc": ["max_cost_usd"], "msg": f"at least {usd(least)}"}],
    )


def admission_need(pricing: Pricing, model: str, limits: dict[str, int], cap_micros: int | None) -> int:
    """The most a run can cost: within its budgets, and never more than its cap."""
    need = max_cost(
        pricing,
        model,
        max_input_tokens=limits["max_input_tokens"],
        max_output_tokens=limits["max_output_tokens"],
        max_duration_s=limits["max_duration_s"],
    ).total
    return need if cap_micros is None else min(need, cap_micros)


def prompt_token_bound(request: dict[str, Any]) -> int:
    """An upper bound of a chat request's prompt tokens: a BPE token is at least one byte of the text,
    and the request's JSON holds all of it (escaping only adds bytes)."""
    raw = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
    messages = request.get("messages")
    count = len(messages) if isinstance(messages, list) else 1
    return len(raw) + TOKENS_PER_MESSAGE * count


def admit_llm_call(svc: Services, run: RunRecord, body: dict[str, Any]) -> dict[str, Any]:
    """The request to forward, with ``max_tokens`` lowered to what the run's cap still pays for; 402
    ``budget_exceeded`` when even a short reply would cross the cap. Runs without a cap pass as is."""
    cap = run.max_cost_micros
    if cap is None:
        return body
    pricing = svc.settings.pricing
    spent = measure(pricing, run, svc.clock.now()).cost.total
    price = pricing.token_price(run.model)
    prompt_cost = -(-prompt_token_bound(body) * price.input_per_mtok_micros // 1_000_000)
    room = int(cap) - spent - prompt_cost
    if price.output_per_mtok_micros > 0:
        affordable = max(0, room) * 1_000_000 // price.output_per_mtok_micros
    else:
        affordable = 1 << 31 if room >= 0 else 0
    field = "max_completion_tokens" if isinstance(body.get("max_completion_tokens"), int) else "max_tokens"
    asked = body.get(field) if isinstance(body.get(field), int) else None
    used_out = run.output_tokens
    budget_left = max(1, run.max_output_tokens - used_out)
    allowed = min(affordable, budget_left, asked or (1 << 31))
    if room < 0 or allowed < min(MIN_REPLY_TOKENS, asked or MIN_REPLY_TOKENS):
        raise PaymentRequired(
            f"the run's max_cost_usd ({usd(int(cap))}) would be crossed: {usd(spent)} spent, this call may "
            f"cost {usd(prompt_cost)} of prompt and more of reply",
            code="budget_exceeded",
            details={"max_cost_micros": int(cap), "spent_micros": spent, "prompt_bound_micros": prompt_cost},
        )
    if asked is None and affordable >= budget_left:
        # The cap does not bind: leave the reply length to the model. Sending the token budget
        # (50,000 by default) would be refused by models whose own output limit is lower.
        return body
    return {**body, field: allowed}


def error_code(run: RunRecord, code: str) -> str:
    """A run stopped by the clock when the cap set its deadline ran out of money, not of time."""
    if code == "AGENT_TIMEOUT" and run.deadline_by_cost:
        return BUDGET_EXCEEDED
    return code
