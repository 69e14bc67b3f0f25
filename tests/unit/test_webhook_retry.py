from __future__ import annotations

import random

import pytest

from shared.config import Settings
from shared.webhooks.retry import MAX_DELAY_S, max_attempts, retry_delay_s


def test_default_schedule_spans_a_day_and_fits_sqs_visibility() -> None:
    schedule = Settings().webhook_retry_schedule_s
    assert sum(schedule) >= 86400
    assert all(1 <= d <= MAX_DELAY_S for d in schedule)
    assert list(schedule) == sorted(schedule)
    assert max_attempts(schedule) == len(schedule) + 1


def test_schedule_from_environment_and_bounds() -> None:
    assert Settings.from_env({"OPENHELM_WEBHOOK_RETRY_SCHEDULE_S": "1, 2,3"}).webhook_retry_schedule_s == (1, 2, 3)
    with pytest.raises(ValueError):
        Settings.from_env({"OPENHELM_WEBHOOK_RETRY_SCHEDULE_S": "5,50000"})
    with pytest.raises(ValueError):
        Settings.from_env({"OPENHELM_WEBHOOK_RETRY_SCHEDULE_S": "5,x"})


def test_delay_follows_the_schedule_within_jitter() -> None:
    schedule = (10, 100, 1000)
    rng = random.Random(7)
    for attempt, base in ((1, 10), (2, 100), (3, 1000), (4, 1000), (9, 1000)):
        for _ in range(50):
            assert 0.8 * base - 1 <= retry_delay_s(attempt, schedule, rng) <= 1.2 * base + 1


def test_jitter_spreads_delays_and_is_capped() -> None:
    rng = random.Random(1)
    delays = {retry_delay_s(1, (1000,), rng) for _ in range(100)}
    assert len(delays) > 10
    assert retry_delay_s(1, (43200,), random.Random(3)) <= MAX_DELAY_S
    assert retry_delay_s(1, (1,), random.Random(3)) >= 1


class _Edge(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def uniform(self, a: float, b: float) -> float:
        return a if self.value < 0 else b


def test_jitter_is_plus_minus_twenty_percent() -> None:
    assert retry_delay_s(1, (100,), _Edge(-1)) == 80
    assert retry_delay_s(1, (100,), _Edge(1)) == 120
    with pytest.raises(ValueError):
        retry_delay_s(0, (100,))
