"""Pricing math, money formatting and the billing settings: integers only, each part rounded up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.billing.pricing import cost_of, max_cost, micros_of_usd, usd
from shared.billing.report import window
from shared.config import Settings
from shared.db.billing import time_key
from shared.errors import Unprocessable
from shared.models.billing import Pricing, TokenPrice

PRICING = Pricing(
    run_fee_micros=5_000,
    input_per_mtok_micros=400_000,
    output_per_mtok_micros=1_600_000,
    sandbox_second_micros=50,
    models={"big": TokenPrice(input_per_mtok_micros=2_000_000, output_per_mtok_micros=8_000_000)},
)


def test_a_run_costs_fee_plus_tokens_plus_sandbox_time() -> None:
    cost = cost_of(PRICING, "gpt-4.1-mini", input_tokens=1000, output_tokens=200, sandbox_ms=30_000)
    assert (cost.run_fee, cost.input, cost.output, cost.sandbox) == (5_000, 400, 320, 1_500)
    assert cost.total == 7_220
    assert cost.breakdown().model_dump() == {
        "run_fee_micros": 5_000,
        "input_micros": 400,
        "output_micros": 320,
        "sandbox_micros": 1_500,
    }


def test_each_part_rounds_up_to_a_whole_micro_dollar() -> None:
    cost = cost_of(PRICING, None, input_tokens=1, output_tokens=1, sandbox_ms=1)
    assert (cost.input, cost.output, cost.sandbox) == (1, 2, 1)  # 0.4, 1.6 and 0.05 micros
    assert cost_of(PRICING, None, input_tokens=0, output_tokens=0, sandbox_ms=0).total == 5_000


def test_models_have_their_own_token_prices_and_replays_pay_no_tokens() -> None:
    big = cost_of(PRICING, "big", input_tokens=1_000_000, output_tokens=1_000_000, sandbox_ms=0)
    assert (big.input, big.output) == (2_000_000, 8_000_000)
    replay = cost_of(PRICING, "replay", input_tokens=5_000, output_tokens=5_000, sandbox_ms=2_000)
    assert (replay.input, replay.output, replay.sandbox) == (0, 0, 100)


def test_a_run_that_never_started_pays_no_fee() -> None:
    assert cost_of(PRICING, None, input_tokens=0, output_tokens=0, sandbox_ms=0, started=False).total == 0


def test_max_cost_prices_the_whole_budget() -> None:
    cost = max_cost(PRICING, "gpt-4.1-mini", max_input_tokens=500_000, max_output_tokens=50_000, max_duration_s=600)
    assert cost.total == 5_000 + 200_000 + 80_000 + 30_000


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0.00"),
        (5_000, "0.005"),
        (1, "0.000001"),
        (100_000_000, "100.00"),
        (1_234_500, "1.2345"),
        (-1_500_000, "-1.50"),
    ],
)
def test_usd_strings(micros: int, text: str) -> None:
    assert usd(micros) == text
    assert micros_of_usd(text) == micros


def test_usd_amounts_finer_than_a_micro_dollar_are_refused() -> None:
    with pytest.raises(ValueError):
        micros_of_usd("0.0000001")
    with pytest.raises(ValueError):
        micros_of_usd("ten")


def test_pricing_and_start_balance_come_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "OPENHELM_PRICING_JSON": '{"run_fee_micros": 0, "models": {"big": '
            '{"input_per_mtok_micros": 1, "output_per_mtok_micros": 2}}}',
            "OPENHELM_DEV_START_BALANCE_USD": "12.5",
        }
    )
    assert s.pricing.run_fee_micros == 0
    assert s.pricing.sandbox_second_micros == Pricing().sandbox_second_micros  # unset fields keep defaults
    assert s.pricing.token_price("big").output_per_mtok_micros == 2
    assert s.dev_start_balance_micros == 12_500_000
    assert Settings().dev_start_balance_micros == 100_000_000


@pytest.mark.parametrize(
    "env",
    [
        {"OPENHELM_PRICING_JSON": "{not json"},
        {"OPENHELM_PRICING_JSON": '{"run_fee_micros": -1}'},
        {"OPENHELM_PRICING_JSON": '{"run_fee": 1}'},
        {"OPENHELM_DEV_START_BALANCE_USD": "-1"},
        {"OPENHELM_DEV_START_BALANCE_USD": "0.0000001"},
    ],
)
def test_bad_pricing_fails_at_cold_start(env: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env(env)


def test_time_keys_are_fixed_width_utc_milliseconds() -> None:
    assert time_key(datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)) == "2026-01-31T23:59:59.000Z"
    assert time_key(datetime.fromisoformat("2026-02-01T01:00:00.123999+01:00")) == "2026-02-01T00:00:00.123Z"


def test_the_default_window_is_the_month_of_its_end() -> None:
    now = datetime(2026, 3, 14, 12, tzinfo=UTC)
    assert window(now, None, None) == (datetime(2026, 3, 1, tzinfo=UTC), now)
    feb = datetime(2026, 3, 1, tzinfo=UTC)
    assert window(now, None, feb) == (datetime(2026, 2, 1, tzinfo=UTC), feb)
    naive = window(now, datetime(2026, 1, 1), None)[0]
    assert naive == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(Unprocessable):
        window(now, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
