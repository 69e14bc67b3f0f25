"""The CLI's progress line off a terminal (a CI log, a pipe): one line per change, readable in ASCII."""

from __future__ import annotations

import io

from openhelm_sdk._progress import ProgressLine
from openhelm_sdk.models import Run

BASE = {
    "id": "run_1",
    "prompt": "List the pricing tiers",
    "model": "m",
    "project_id": "prj_1",
    "max_duration_s": 300,
    "max_steps": 50,
    "max_input_tokens": 1000,
    "max_output_tokens": 100,
    "created_at": "2026-12-02T03:00:00Z",
}


def run(status: str, step: int = 0, action: str | None = None, url: str | None = None) -> Run:
    return Run.model_validate(
        {**BASE, "status": status, "progress": {"step": step, "last_action": action, "last_url": url}}
    )


def test_off_a_terminal_each_change_is_one_plain_line() -> None:
    out = io.StringIO()
    now = iter(range(100))
    with ProgressLine(out, tty=False, clock=lambda: float(next(now))) as line:
        for state in (
            run("queued"),
            run("running", 1, "navigate", "https://example.com/"),
            run("running", 1, "navigate", "https://example.com/"),  # no change: no line
            run("running", 2, "click", "https://example.com/pricing"),
            run("succeeded", 3, "done", "https://example.com/pricing"),
        ):
            line.update(state)
    assert out.getvalue().splitlines() == [
        "queued · 1s",
        "running · step 1/50 · navigate · https://example.com/ · 2s",
        "running · step 2/50 · click · https://example.com/pricing · 3s",
        "succeeded · step 3/50 · done · https://example.com/pricing · 4s",
    ]


def test_a_terminal_without_utf8_gets_ascii() -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    with ProgressLine(out, tty=True) as line:
        line.update(run("succeeded", 3, "done", "https://example.com/"))
    out.flush()
    text = raw.getvalue().decode("ascii")
    assert text.endswith("+ succeeded - step 3/50 - done - https://example.com/ - 0s\n")
