"""Tunables of the agent that are not part of the run spec (defaults suit production)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from openhelm_agent.observation import DEFAULT_MAX_CHARS


class AgentOptions(BaseModel):
    chromium_path: str = "/usr/bin/chromium"
    browser_proxy: str | None = None
    # Default: f"{control_url}/internal/llm/v1" (the control plane's LLM gateway).
    llm_base_url: str | None = None
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    # One model attempt: minutes, like the gateway's OPENHELM_LLM_TIMEOUT_S (a reasoning or self-hosted
    # model on a large page is slow, and an abandoned attempt still occupies a one-slot server);
    # always cut to the run's time left.
    llm_timeout_s: float = Field(default=600.0, gt=0)
    observation_max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=1000)
    action_timeout_s: float = Field(default=10.0, gt=0)
    navigation_timeout_s: float = Field(default=30.0, gt=0)
    # Ask the upstream for constrained output (``response_format`` with a JSON schema of the tool
    # calls, done.result bound to the output schema) instead of ``tools``. Off by default: only some
    # servers enforce it (llama.cpp, vLLM, OpenAI), others reject or ignore the field.
    constrained_output: bool = False
    keep_turns: int = Field(default=20, ge=1)
    progress_timeout_s: float = Field(default=2.0, gt=0)
    complete_attempts: int = Field(default=3, ge=1)
    # The sandbox's memory limit, when the provider sets one: named when a page dies of it.
    memory_limit_mb: int | None = Field(default=None, ge=1)
