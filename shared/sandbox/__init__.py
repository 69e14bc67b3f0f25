"""Sandbox providers: where a run's browser agent lives (E2B in the cloud, bubblewrap locally)."""

from shared.sandbox.base import (
    SandboxError,
    SandboxFileNotFound,
    SandboxInfo,
    SandboxNotFound,
    SandboxProvider,
    SandboxRequest,
    SandboxStartError,
    UnsafePath,
)

__all__ = [
    "SandboxError",
    "SandboxFileNotFound",
    "SandboxInfo",
    "SandboxNotFound",
    "SandboxProvider",
    "SandboxRequest",
    "SandboxStartError",
    "UnsafePath",
]
