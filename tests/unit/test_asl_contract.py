"""The run state machine and its code agree: each Task state's step has the state's name (in
snake_case) in the handler and in a module of shared/orchestration of that name, and every error
name a Retry or Catch matches is one Step Functions defines or one our code raises or sends
(documented in shared/errors.py)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

from functions.run_steps import run_steps_handler
from shared import errors
from shared.orchestration import errors as step_errors

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "run.asl.json").read_text())


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _tasks() -> dict[str, dict[str, Any]]:
    return {name: state for name, state in ASL["States"].items() if state["Type"] == "Task"}


def test_every_task_state_its_step_and_its_module_share_one_name() -> None:
    steps = {name: state["Parameters"]["Payload"]["step"] for name, state in _tasks().items()}
    assert steps == {name: _snake(name) for name in steps}
    assert set(run_steps_handler.STEPS) == set(steps.values())
    for step in steps.values():
        assert callable(getattr(importlib.import_module(f"shared.orchestration.{step}"), step))


def test_every_error_name_the_state_machine_matches_is_defined_where_the_errors_are() -> None:
    ours = {
        name
        for module in (errors, step_errors)
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, Exception)
    } | set(step_errors.ERROR_CODES)
    matched = {
        name
        for state in _tasks().values()
        for rule in [*state.get("Retry", []), *state.get("Catch", [])]
        for name in rule["ErrorEquals"]
    }
    unknown = {n for n in matched if not n.startswith(("States.", "Lambda.")) and n not in ours}
    assert unknown == set()
    assert "ServiceUnavailable" in matched and "ServiceUnavailable" in (errors.__doc__ or "")
