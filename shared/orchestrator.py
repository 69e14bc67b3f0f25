"""Starts and stops run executions on the run state machine (Step Functions)."""

from __future__ import annotations

import json
from typing import Any

from shared.errors import ServiceUnavailable
from shared.logging import get_logger

log = get_logger("orchestrator")


class Orchestrator:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self.client = client
        self.state_machine_arn = state_machine_arn

    def execution_arn(self, run_id: str) -> str:
        # arn:aws:states:region:acct:stateMachine:Name -> arn:aws:states:region:acct:execution:Name:run_id
        parts = self.state_machine_arn.split(":")
        return ":".join([*parts[:5], "execution", parts[6], run_id])

    def start(self, run_id: str, org_id: str) -> str:
        """Start the run's execution, named by the run id: a retry with the same input is a no-op."""
        try:
            out = self.client.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=run_id,
                input=json.dumps({"run_id": run_id, "org_id": org_id}),
            )
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code == "ExecutionAlreadyExists":
                return self.execution_arn(run_id)
            raise ServiceUnavailable("could not start the run", code="orchestration_unavailable") from exc
        return str(out["executionArn"])

    def stop(self, run_id: str, cause: str) -> None:
        """Best effort: the run record is already terminal; a stopped execution also kills its sandbox."""
        try:
            self.client.stop_execution(executionArn=self.execution_arn(run_id), error="CANCELLED", cause=cause)
        except Exception as exc:
            log.warning("stop_execution_failed", run_id=run_id, error=str(exc))
