"""Fires the template's schedules locally (EventBridge Scheduler schedules and scheduled rules).

moto stores schedules but never fires them, so without this a scheduled function (OpenHelm's
reaper) would simply never run on a laptop. Supported: ``rate(N unit)`` and one-shot ``at(...)``;
``cron(...)`` is logged as not fired (a cron parser is more than the local stack needs). Tests do
not wait for the clock: :meth:`LocalScheduler.trigger` fires a schedule now.
"""

from __future__ import annotations

import heapq
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.logging import get_logger

log = get_logger("devstack.scheduler")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass
class Schedule:
    """One schedule and what it delivers to."""

    logical_id: str
    name: str
    expression: str
    targets: list[dict[str, Any]]  # {"Arn": ..., "Input": str | None}
    kind: str  # "scheduler" (AWS::Scheduler::Schedule) or "rule" (AWS::Events::Rule)
    arn: str = ""
    interval_s: float | None = field(default=None, init=False)
    at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        m = _RATE.match(self.expression.strip())
        if m:
            self.interval_s = int(m.group(1)) * _UNIT_S[m.group(2).rstrip("s")]
        elif self.expression.startswith("at("):
            when = datetime.fromisoformat(self.expression[3:-1])
            self.at = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()

    def event(self) -> Any:
        """What a target receives: Scheduler sends the target's Input (``{}`` without one);
        a scheduled rule sends the "Scheduled Event" envelope."""
        if self.kind == "scheduler":
            return {}
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.arn.split(":")[4] if self.arn.count(":") >= 5 else "",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.arn.split(":")[3] if self.arn.count(":") >= 5 else "",
            "resources": [self.arn] if self.arn else [],
            "detail": {},
        }


class LocalScheduler:
    """One thread, one heap of due times; ``deliver(target_arn, event, source)`` does the rest."""

    def __init__(self, deliver: Callable[[str, Any, str], None]) -> None:
        self.deliver = deliver
        self.schedules: dict[str, Schedule] = {}
        self._heap: list[tuple[float, str]] = []
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None

    def add(self, schedule: Schedule) -> None:
        self.schedules[schedule.logical_id] = schedule
        now = time.time()
        if schedule.interval_s:
            due = now + schedule.interval_s  # like EventBridge: the first run is one period away
        elif schedule.at:
            due = schedule.at
        else:
            log.warning("schedule_not_fired_locally", schedule=schedule.logical_id, expression=schedule.expression)
            return
        with self._cv:
            heapq.heappush(self._heap, (due, schedule.logical_id))
            self._cv.notify()
        log.info("schedule_registered", schedule=schedule.logical_id, expression=schedule.expression)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(2)

    def trigger(self, logical_id: str) -> None:
        """Fire a schedule now, off the clock (tests, or a developer who will not wait)."""
        self._fire(self.schedules[logical_id])

    def _fire(self, schedule: Schedule) -> None:
        for target in schedule.targets:
            raw = target.get("Input")
            event = json.loads(raw) if isinstance(raw, str) and raw else schedule.event()
            try:
                self.deliver(target["Arn"], event, f"schedule:{schedule.logical_id}")
            except Exception:
                log.exception("schedule_delivery_failed", schedule=schedule.logical_id, target=target["Arn"])

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._heap or self._heap[0][0] > time.time()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.time()))
                if self._stop:
                    return
                _due, logical_id = heapq.heappop(self._heap)
                schedule = self.schedules[logical_id]
                if schedule.interval_s:
                    heapq.heappush(self._heap, (time.time() + schedule.interval_s, logical_id))
            self._fire(schedule)
