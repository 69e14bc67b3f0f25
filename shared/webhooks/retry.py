"""Backoff between delivery attempts: the configured schedule with ±20 % jitter."""

from __future__ import annotations

import random
from collections.abc import Sequence

JITTER = 0.2
# SQS refuses a visibility timeout above 12 hours.
MAX_DELAY_S = 43200


def max_attempts(schedule: Sequence[int]) -> int:
    """Attempts in all: the first one plus one after each delay of the schedule."""
    return len(schedule) + 1


def retry_delay_s(attempt: int, schedule: Sequence[int], rng: random.Random | None = None) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (1-based) before the next one.

    The schedule grows roughly exponentially (5 s … 12 h by default); beyond its end the last delay
    repeats. Jitter spreads retries of many messages that failed together."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    if not schedule:
        raise ValueError("empty retry schedule")
    base = schedule[min(attempt, len(schedule)) - 1]
    factor = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return max(1, min(MAX_DELAY_S, round(base * factor)))
