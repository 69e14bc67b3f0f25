"""The CLI's live progress line: a spinner with status, step count, current action and URL.

On a terminal the line is redrawn in place (10 times a second, from a thread, with the latest state
the poller saw) and left as a summary when the run ends; elsewhere (a pipe, a CI log) one plain line
is written each time the status or the step changes. It writes to stderr: stdout is the result's.
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import TextIO

from openhelm_sdk.models import Run, RunStatus

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
MARK = {RunStatus.SUCCEEDED: "✓", RunStatus.FAILED: "✗", RunStatus.CANCELLED: "⊘"}
# For a terminal that cannot show those (no UTF-8 locale).
ASCII_FRAMES = "|/-\\"
ASCII_MARK = {RunStatus.SUCCEEDED: "+", RunStatus.FAILED: "x", RunStatus.CANCELLED: "-"}


def describe(run: Run, elapsed: float, sep: str = " · ") -> str:
    """``running · step 3 · click · https://example.com/pricing · 12s``"""
    parts = [run.status.value]
    progress = run.progress
    step = progress.step if progress else 0
    if step or run.status not in (RunStatus.QUEUED, RunStatus.STARTING):
        parts.append(f"step {step}" + (f"/{run.max_steps}" if run.max_steps else ""))
    if progress and progress.last_action:
        parts.append(progress.last_action)
    if progress and progress.last_url:
        parts.append(progress.last_url)
    parts.append(f"{elapsed:.0f}s")
    return sep.join(parts)


class ProgressLine:
    def __init__(self, stream: TextIO, *, tty: bool | None = None, clock=time.monotonic) -> None:
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._clock = clock
        self._started = clock()
        self._run: Run | None = None
        self._last_plain: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._utf8 = "utf" in (getattr(stream, "encoding", None) or "utf-8").lower()
        self._frames = FRAMES if self._utf8 else ASCII_FRAMES
        self._marks = MARK if self._utf8 else ASCII_MARK
        self._sep = " · " if self._utf8 else " - "

    def __enter__(self) -> ProgressLine:
        if self._tty:
            self._thread = threading.Thread(target=self._spin, name="openhelm-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._tty and self._run is not None:
                self._draw(self._marks.get(self._run.status, "."), end="\n")

    def update(self, run: Run) -> None:
        with self._lock:
            self._run = run
            if not self._tty:
                key = (run.status.value, run.progress.step if run.progress else 0)
                if key != self._last_plain:
                    self._last_plain = key
                    self._stream.write(describe(run, self._clock() - self._started, self._sep) + "\n")
                    self._stream.flush()

    def _spin(self) -> None:
        frame = 0
        while not self._stop.wait(0.1):
            with self._lock:
                if self._run is not None:
                    self._draw(self._frames[frame % len(self._frames)])
            frame += 1

    def _draw(self, mark: str, end: str = "") -> None:
        assert self._run is not None
        width = shutil.get_terminal_size((100, 20)).columns
        text = f"{mark} {describe(self._run, self._clock() - self._started, self._sep)}"
        if len(text) > width - 1:  # one line, or \r would not return to its start
            text = text[: width - 4] + "..."
        self._stream.write("\r\x1b[2K" + text + end)
        self._stream.flush()
