"""Finalize: after the agent's callback, read its outputs, re-validate the result, score confidence,
record usage and write the terminal run. (Every failure path ends in Cleanup instead: cleanup.py.)"""

from __future__ import annotations

import signal
from typing import Any

from jsonschema import validators

from shared.billing import budget
from shared.confidence import Signals, score
from shared.db.runs import stored_attributes
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.models.runs import Confidence, RunError, Usage
from shared.orchestration.budget import ResultTooLarge, fit_run_item
from shared.orchestration.outputs import AgentOutputs, evidence_item, read_outputs
from shared.runs.lifecycle import finish_run
from shared.services import Services
from shared.sessions.paths import task_dir

log = get_logger(__name__)
AGENT_CODES = frozenset(
    {
        "AGENT_MAX_STEPS",
        "AGENT_TIMEOUT",
        "LLM_ERROR",
        "BUDGET_EXCEEDED",
        "SCHEMA_UNSATISFIED",
        "AGENT_CRASHED",
        "INPUT_TIMEOUT",
    }
)


def _schema_errors(schema: dict[str, Any] | None, value: Any) -> list[str]:
    if schema is None:
        return []
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    return [e.message for e in cls(schema).iter_errors(value)][:5]


def usage_of(svc: Services, run: RunRecord) -> dict[str, Any]:
    """Usage as the control plane counted it: tokens from the LLM gateway, time from our clock, up to
    the agent's end (``sandbox_ended_at``: completion, exit report or last sign of life) when known,
    else up to now."""
    seconds = 0.0
    # A session's task: the session is billed its sandbox's whole life once, at its close.
    if run.started_at and not run.session_id:
        end = run.sandbox_ended_at or svc.clock.now()
        # Time spent waiting for a person's answer is not the agent's (shared/runs/human_input.py).
        seconds = max(0.0, (end - run.started_at).total_seconds() - run.paused_total_s(end))
    return Usage(
        input_tokens=run.input_tokens,
        output_tokens=run.output_tokens,
        llm_calls=run.llm_calls,
        sandbox_seconds=round(seconds, 3),
    ).model_dump()


def _evidence(outputs: AgentOutputs) -> list[dict[str, Any]]:
    return [evidence_item(outputs, index, path) for index, path in sorted(outputs.screenshots.items())]


def finalize(svc: Services, run_id: str, org_id: str, callback: dict[str, Any] | None) -> dict[str, Any]:
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None:
        return {"status": "missing"}
    if run.status.is_terminal:
        return {"status": run.status.value}
    sandbox_id = run.sandbox_id
    # The sandbox stays alive: the evidence function copies its files to S3 and then kills it
    # (shared/evidence.py); the reaper kills it if that never happens.
    outputs = read_outputs(svc.sandbox, sandbox_id, task_dir(run)) if sandbox_id else AgentOutputs(result=None)
    fields, status = _terminal_fields(run, outputs, _exit_of(callback))
    if sandbox_id and fields.get("error", {}).get("code") == "AGENT_CRASHED":
        _name_memory(svc, sandbox_id, fields)
    fields["usage"] = usage_of(svc, run)
    stored = stored_attributes(run)
    try:
        fields = fit_run_item(stored, fields, outputs.problems.append)
    except ResultTooLarge as exc:
        fields = {k: v for k, v in fields.items() if k not in ("result", "confidence")}
        fields["error"] = RunError(code="RESULT_TOO_LARGE", message=str(exc)).model_dump()
        fields, status = fit_run_item(stored, fields, outputs.problems.append), RunStatus.failed
    item = finish_run(svc, org_id, run_id, status, fields)
    log.info("run_finalized", run_id=run_id, status=status.value, problems=outputs.problems)
    return {"status": (item or run).status.value}


def _name_memory(svc: Services, sandbox_id: str, fields: dict[str, Any]) -> None:
    """A crash in a sandbox whose processes the kernel ended for want of memory says so."""
    try:
        kills = svc.sandbox.oom_kills(sandbox_id)
    except Exception as exc:  # the cause is a nicety; the run ends either way
        log.info("oom_kills_unavailable", sandbox_id=sandbox_id, error=str(exc))
        return
    if kills:
        error = fields["error"]
        error["message"] = (
            f"out of memory: the sandbox reached its memory limit and the kernel ended {kills} of its "
            f"processes; {error['message']}"
        )[:1000]


def _exit_of(callback: dict[str, Any] | None) -> dict[str, Any] | None:
    """The exit report when the run was woken by one (shared/callbacks.py), else None."""
    if isinstance(callback, dict) and callback.get("status") == "exited" and isinstance(callback.get("exit"), dict):
        return callback["exit"]
    return None


def _exit_text(exit_info: dict[str, Any]) -> str:
    if exit_info.get("timed_out"):
        return "the sandbox's lifetime (max_duration_s + grace) ran out and it was stopped"
    if exit_info.get("sandbox_killed"):
        return "the sandbox was killed (E2B reported it) before the agent reported a result"
    sig = exit_info.get("signal")
    code = exit_info.get("exit_code")
    if isinstance(sig, int):
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        how = f"was killed by {name}" + (" (out of memory, or killed from outside)" if sig == signal.SIGKILL else "")
    elif isinstance(code, int) and code > 128 and code - 128 < 65:
        return _exit_text({**exit_info, "signal": code - 128, "exit_code": None})
    else:
        how = f"exited with code {code}"
    return f"the agent process {how} without reporting a result (seen by the {exit_info.get('reporter', 'sandbox')})"


def _terminal_fields(
    run: RunRecord, outputs: AgentOutputs, exit_info: dict[str, Any] | None = None
) -> tuple[dict[str, Any], RunStatus]:
    fields: dict[str, Any] = {
        "steps": [s.model_dump(mode="json") for s in outputs.steps],
        "network": [n.model_dump(mode="json") for n in outputs.network],
        "evidence": _evidence(outputs),
    }
    res = outputs.result
    if res is None:
        if exit_info is not None:
            code = "AGENT_TIMEOUT" if exit_info.get("timed_out") else "AGENT_CRASHED"
            fields["error"] = RunError(code=code, message=_exit_text(exit_info))
            return _dump(fields), RunStatus.failed
        detail = "; ".join(outputs.problems) or "no result.json"
        fields["error"] = RunError(code="AGENT_CRASHED", message=f"the agent left no readable result ({detail})")
        return _dump(fields), RunStatus.failed
    if res.get("status") != "succeeded":
        code = res.get("error_code") if res.get("error_code") in AGENT_CODES else "AGENT_CRASHED"
        code = budget.error_code(run, code)
        message = str(res.get("error_message") or "the agent failed")[:1000]
        fields["error"] = RunError(code=code, message=message)
        # Stopped by its cost cap: the last schema-valid result the agent had is still worth having.
        kept = res.get("result")
        if code == budget.BUDGET_EXCEEDED and kept is not None and not _schema_errors(run.output_schema, kept):
            fields["result"] = kept
        return _dump(fields), RunStatus.failed
    errors = _schema_errors(run.output_schema, res.get("result"))
    signals = Signals(
        model_confidence=_float(res.get("confidence")),
        schema_valid=not errors,
        schema_repairs=int(res.get("schema_repairs") or 0),
        # a refused `done` is counted once, as a schema repair, not again as a step error
        step_errors=sum(1 for s in outputs.steps if s.error and s.action != "done"),
        blocked_requests=sum(1 for n in outputs.network if n.blocked),
        replay=run.model == "replay",
    )
    value, reason = score(signals)
    fields["confidence"] = Confidence(score=value, reason=reason)
    if errors:
        fields["error"] = RunError(code="SCHEMA_UNSATISFIED", message="; ".join(errors)[:1000])
        return _dump(fields), RunStatus.failed
    fields["result"] = res.get("result")
    return _dump(fields), RunStatus.succeeded


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _dump(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v) for k, v in fields.items()}
