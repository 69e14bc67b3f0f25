"""OpenHelm's browser agent: runs one run spec inside a sandbox (see docs/agent-contract.md).

``python -m openhelm_agent`` reads its inputs from the environment; ``run_agent`` is the same run
in-process. Only ``policy`` is meant for reuse outside the sandbox (stdlib only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["AgentOptions", "RunResult", "RunSpec", "run_agent"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from openhelm_agent.evidence import RunResult
    from openhelm_agent.options import AgentOptions
    from openhelm_agent.run import run_agent
    from openhelm_agent.spec import RunSpec


def __getattr__(name: str) -> Any:
    # Lazy, so `import openhelm_agent.policy` (the control plane) pulls in nothing else.
    if name == "run_agent":
        from openhelm_agent.run import run_agent

        return run_agent
    if name == "AgentOptions":
        from openhelm_agent.options import AgentOptions

        return AgentOptions
    if name == "RunSpec":
        from openhelm_agent.spec import RunSpec

        return RunSpec
    if name == "RunResult":
        from openhelm_agent.evidence import RunResult

        return RunResult
    raise AttributeError(name)
