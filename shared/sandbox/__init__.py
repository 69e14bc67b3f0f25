"""Sandbox providers: where a run's browser agent lives (E2B in the cloud, bubblewrap locally)."""

from shared.sandbox.base import (
    SandboxError,
    SandboxInfo,
    SandboxNotFound,
    SandboxProvider,
    SandboxRequest,
    SandboxStartError,
)

__all__ = [
    "SandboxError",
    "SandboxInfo",
    "SandboxNotFound",
    "SandboxProvider",
    "SandboxRequest",
    "SandboxStartError",
]
