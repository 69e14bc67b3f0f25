"""The run's wall-clock budget (max_duration_s), on the monotonic clock."""

from __future__ import annotations

import time


class Deadline:
    def __init__(self, seconds: float, start: float | None = None) -> None:
        self.seconds = seconds
        self.start = time.monotonic() if start is None else start
        self.at = self.start + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def cap(self, seconds: float) -> float:
        """``seconds`` bounded by the time left (never below 1 ms: Playwright reads 0 as 'no timeout')."""
        return max(0.001, min(seconds, self.remaining()))

    def cap_ms(self, seconds: float) -> float:
        return self.cap(seconds) * 1000.0
