"""Bounded polling for tests, of state that has no notification to wait on (a run's status, an
execution, a process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(probe: Callable[[], T | None], what: str = "condition", timeout: float = 60, interval: float = 0.1) -> T:
    """``probe()`` until it returns something truthy (returned); AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout}s")
        tick.wait(interval)
