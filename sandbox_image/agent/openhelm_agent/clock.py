"""The run's wall-clock budget (max_duration_s), on the monotonic clock."""

from __future__ import annotations

import time

# Kept back from the budget for what follows the deadline: closing the page, result.json and the
# completion callback, so the run *ends* (as the control plane sees it) within max_duration_s.
FINISH_RESERVE_S = 0.5
# A deadline_at this much earlier than our own start + max_duration_s is not believed: the sandbox's
# clock is off, and a skewed clock must not take a run's time away.
MAX_TRUSTED_SKEW_S = 30.0


class Deadline:
    def __init__(
        self,
        seconds: float,
        start: float | None = None,
        *,
        deadline_at: float | None = None,
        reserve_s: float = 0.0,
        wall: float | None = None,
    ) -> None:
        """``seconds`` from ``start`` (monotonic), or earlier: ``deadline_at`` (Unix time, the control
        plane's) when it is plausible; minus ``reserve_s`` (at most a tenth of the budget)."""
        self.seconds = seconds
        self.start = time.monotonic() if start is None else start
        self.at = self.start + seconds
        if deadline_at is not None:
            now_wall = time.time() if wall is None else wall
            by_wall = time.monotonic() + (deadline_at - now_wall)
            if self.at - MAX_TRUSTED_SKEW_S <= by_wall < self.at:
                self.at = by_wall
        self.at -= min(reserve_s, seconds / 10)

    def extend(self, seconds: float) -> None:
        """Push the deadline back: time spent waiting for a person does not count."""
        if seconds > 0:
            self.at += seconds

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
