"""Error codes the agent can end a run with (docs/agent-contract.md) and the exception that carries one."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    AGENT_MAX_STEPS = "AGENT_MAX_STEPS"
    AGENT_TIMEOUT = "AGENT_TIMEOUT"
    LLM_ERROR = "LLM_ERROR"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    SCHEMA_UNSATISFIED = "SCHEMA_UNSATISFIED"
    AGENT_CRASHED = "AGENT_CRASHED"
    INPUT_TIMEOUT = "INPUT_TIMEOUT"


class AgentFailure(Exception):
    """Ends the run as failed with ``code``; ``message`` goes to result.json (keep it secret-free)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
