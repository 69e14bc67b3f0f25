"""Where a session's files sit in its sandbox's out dir (the agent's serve.py writes them)."""

from __future__ import annotations

from shared.models.run_record import RunRecord

# Direct actions' steps and screenshots.
SESSION_DIR = "session/"


def task_dir(run: RunRecord) -> str:
    """The out-dir prefix of a run's files: its own folder for a session's task, the root otherwise."""
    return f"tasks/{run.id}/" if run.session_id else ""


def is_session_id(value: str | None) -> bool:
    return bool(value) and str(value).startswith("ses_")
