"""Billing models: the pricing configuration, the balance and usage records (GET /v1/balance, /v1/usage).

Money is integer micro-dollars (1 USD = 1,000,000 micros) everywhere; responses also carry the
amount as a decimal string in USD (``"0.318"``), never as a float.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from shared.models.common import Model

MICROS_PER_USD = 1_000_000


class TokenPrice(Model):
    """Token prices of one model, in micro-dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok_micros: int = Field(ge=0, description="Micro-dollars per 1,000,000 input tokens.")
    output_per_mtok_micros: int = Field(ge=0, description="Micro-dollars per 1,000,000 output tokens.")


# Models that make no LLM calls: their tokens cost nothing unless `models` prices them.
NO_LLM_MODELS = frozenset({"replay"})
FREE_TOKENS = TokenPrice(input_per_mtok_micros=0, output_per_mtok_micros=0)


class Pricing(Model):
    """What a run costs. Set as JSON in ``OPENHELM_PRICING_JSON``; every field is optional there.

    Cost of a run = run fee (waived when the run never started a sandbox) + input tokens x input
    price + output tokens x output price + sandbox seconds x sandbox price; each part is rounded
    up to a whole micro-dollar.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_fee_micros: int = Field(5_000, ge=0, description="Fee per run that started a sandbox ($0.005).")
    input_per_mtok_micros: int = Field(
        400_000, ge=0, description="Default micro-dollars per 1,000,000 input tokens ($0.40)."
    )
    output_per_mtok_micros: int = Field(
        1_600_000, ge=0, description="Default micro-dollars per 1,000,000 output tokens ($1.60)."
    )
    sandbox_second_micros: int = Field(50, ge=0, description="Micro-dollars per sandbox second ($0.18 an hour).")
    models: dict[str, TokenPrice] = Field(
        default_factory=dict, description="Token prices by model name; other models pay the defaults above."
    )

    def token_price(self, model: str | None) -> TokenPrice:
        if model and model in self.models:
            return self.models[model]
        if model in NO_LLM_MODELS:
            return FREE_TOKENS
        return TokenPrice(
            input_per_mtok_micros=self.input_per_mtok_micros, output_per_mtok_micros=self.output_per_mtok_micros
        )


class Balance(Model):
    """The org's prepaid balance. Runs are admitted only while it covers their maximum cost."""

    object: str = "balance"
    balance_micros: int = Field(description="Balance in micro-dollars (1 USD = 1,000,000).")
    balance_usd: str = Field(description='The balance in USD as a decimal string, e.g. `"99.68"`.')
    floor_micros: int = Field(description="Charges never take the balance below this floor.")
    floor_usd: str = Field(description="The floor in USD as a decimal string.")
    available_micros: int = Field(description="balance - floor: what new runs may spend (0 when below the floor).")
    unpaid_micros: int = Field(
        0, description="Usage that the balance could not cover (charged up to the floor, the rest recorded)."
    )
    currency: Literal["USD"] = "USD"
    updated_at: datetime | None = None


class CostBreakdown(Model):
    run_fee_micros: int = Field(0, description="The per-run fee (0 when the run never started a sandbox).")
    input_micros: int = Field(0, description="Input tokens x the model's input price.")
    output_micros: int = Field(0, description="Output tokens x the model's output price.")
    sandbox_micros: int = Field(0, description="Sandbox seconds x the sandbox price.")


class UsageRecord(Model):
    """One finished run's usage and what it cost; written exactly once per run.

    ``breakdown`` prices what the run used; ``cost_micros`` is what the run is billed: that sum, at
    most the run's ``max_cost_micros``, and 0 when ``waived_reason`` says our infrastructure failed it.
    """

    object: str = "usage_record"
    run_id: str
    project_id: str
    job_id: str | None = None
    model: str | None = None
    status: str = Field(description="The run's terminal status.")
    created_at: datetime | None = Field(None, description="When the run was created.")
    finished_at: datetime = Field(description="When the run finished; usage windows select on this time.")
    recorded_at: datetime = Field(description="When this record was written and the balance charged.")
    input_tokens: int = Field(0, description="LLM input tokens, as counted by the control plane's LLM gateway.")
    output_tokens: int = Field(0, description="LLM output tokens, as counted by the LLM gateway.")
    llm_calls: int = 0
    sandbox_seconds: float = Field(0.0, description="Sandbox time from start to end, by the control plane's clock.")
    cost_micros: int = Field(description="What the run is billed, in micro-dollars (after the cap and any waiver).")
    cost_usd: str = Field(description="cost_micros in USD as a decimal string.")
    charged_micros: int = Field(description="What was debited from the balance.")
    unpaid_micros: int = Field(0, description="cost - charged: the part the balance could not cover above its floor.")
    breakdown: CostBreakdown = Field(description="What the run used, at list prices (before the cap and any waiver).")
    list_cost_micros: int | None = Field(None, description="The sum of `breakdown`.")
    max_cost_micros: int | None = Field(None, description="The run's cost cap (`max_cost_usd`).")
    capped: bool = Field(False, description="True when the run used more than its cap and was billed the cap.")
    waived_reason: str | None = Field(
        None,
        description="Why nothing was charged: the run failed through our infrastructure "
        "(SANDBOX_START_FAILED, ORCHESTRATION_UNAVAILABLE, AGENT_CRASHED).",
    )


class UsageTotals(Model):
    """Sums over every usage record in the window (all pages), not only the returned page."""

    runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0
    sandbox_seconds: float = 0.0
    cost_micros: int = 0
    cost_usd: str = "0.00"
    charged_micros: int = 0
    unpaid_micros: int = 0


class UsageReport(Model):
    """Usage of the runs that finished in [start, end), newest first, with totals over the window."""

    object: str = "usage"
    start: datetime = Field(description="Window start (inclusive), by the runs' finished time.")
    end: datetime = Field(description="Window end (exclusive).")
    project_id: str | None = None
    totals: UsageTotals
    data: list[UsageRecord]
    next_cursor: str | None = Field(None, description="Pass as `cursor` (with the same window) for the next page.")


LedgerKind = Literal["credit", "debit", "run_charge", "floor"]


class LedgerEntry(Model):
    """One change to an org's money, written in the same transaction as the balance change."""

    object: str = "balance_transaction"
    id: str
    kind: LedgerKind = Field(description="credit / debit (by an operator), run_charge (a run's usage), floor.")
    amount_micros: int = Field(description="Signed change of the balance (0 for a floor change).")
    amount_usd: str
    balance_after_micros: int = Field(description="The balance once this change was applied.")
    balance_after_usd: str
    floor_after_micros: int = Field(description="The floor once this change was applied.")
    reason: str
    actor: str = Field(description="Who made the change: `operator:<name>`, `key:<key id>` or `billing`.")
    run_id: str | None = Field(None, description="The run charged (run_charge only).")
    created_at: datetime


class LedgerPage(Model):
    """The org's balance transactions, newest first."""

    object: str = "list"
    data: list[LedgerEntry]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null at the end.")
