"""Exceptions a step raises to steer the state machine: the Lambda reports the class name as the
error type, which the ASL Retry and Catch blocks match on."""

from __future__ import annotations


class StepError(Exception):
    code = "AGENT_CRASHED"


class SandboxStartFailed(StepError):
    code = "SANDBOX_START_FAILED"


class RunCancelled(StepError):
    code = "CANCELLED"


# Error type (as Step Functions reports it) -> the run's error code.
ERROR_CODES = {
    "SandboxStartFailed": "SANDBOX_START_FAILED",
    "RunCancelled": "CANCELLED",
    "CANCELLED": "CANCELLED",
    "States.Timeout": "AGENT_TIMEOUT",
    "States.HeartbeatTimeout": "AGENT_CRASHED",
    # Codes sent as the error of SendTaskFailure (cancel, reaper) stand for themselves.
    "AGENT_CRASHED": "AGENT_CRASHED",
    "AGENT_TIMEOUT": "AGENT_TIMEOUT",
    "BUDGET_EXCEEDED": "BUDGET_EXCEEDED",
    "INPUT_TIMEOUT": "INPUT_TIMEOUT",
}
