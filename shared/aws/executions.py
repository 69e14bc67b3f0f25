"""Run executions on the run state machine (Step Functions): start one, answer its waiting task."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import ServiceUnavailable
from shared.logging import get_logger

log = get_logger(__name__)
# The task already ended (duplicate callback, timeout, finished execution).
_TASK_GONE = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")


class RunExecutions:
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
        except (BotoCoreError, ClientError) as exc:
            if _code(exc) == "ExecutionAlreadyExists":
                return self.execution_arn(run_id)
            raise ServiceUnavailable("could not start the run", code="orchestration_unavailable") from exc
        return str(out["executionArn"])

    def succeed_task(self, task_token: str, output: dict[str, Any]) -> bool:
        """Complete a waiting task; False if the task already ended (duplicate callback, timeout)."""
        try:
            self.client.send_task_success(taskToken=task_token, output=json.dumps(output, default=str))
        except (BotoCoreError, ClientError) as exc:
            if _code(exc) in _TASK_GONE:
                return False
            raise ServiceUnavailable("orchestration unavailable", code="orchestration_unavailable") from exc
        return True

    def fail_task(self, task_token: str, error: str, cause: str) -> bool:
        try:
            self.client.send_task_failure(taskToken=task_token, error=error, cause=cause[:32000])
        except (BotoCoreError, ClientError) as exc:
            if _code(exc) in _TASK_GONE:
                return False
            log.warning("send_task_failure_failed", error=str(exc))
            return False
        return True

    def heartbeat(self, task_token: str) -> None:
        try:
            self.client.send_task_heartbeat(taskToken=task_token)
        except (
            BotoCoreError,
            ClientError,
        ) as exc:  # best effort: a missed heartbeat only matters if all of them are missed
            log.debug("heartbeat_failed", error=str(exc))


def _code(exc: BotoCoreError | ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""
