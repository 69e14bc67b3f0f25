"""The sandbox provider interface. See docs/agent-contract.md for what runs inside.

A provider creates an isolated sandbox for one run, writes the run spec into it, starts the agent
(``python -m openhelm_agent``) in the background and returns at once. The agent reports back over
HTTP to the control plane (progress, LLM gateway, completion); the control plane then reads the
agent's out dir through the provider and kills the sandbox. Every provider must make ``kill`` safe
to call twice and on a sandbox that already ended.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class SandboxError(Exception):
    """Base class of provider errors."""


class SandboxStartError(SandboxError):
    """The sandbox or the agent could not be started (maps to SANDBOX_START_FAILED)."""


class SandboxNotFound(SandboxError):
    """No such sandbox (never existed, killed, or expired)."""


class SandboxFileNotFound(SandboxError, FileNotFoundError):
    """The sandbox exists but the file is not in its out dir (catchable as either base)."""


class UnsafePath(SandboxError, ValueError):
    """A path given to list_files/read_file would leave the out dir (``..``, absolute, symlink)."""


@dataclass(frozen=True)
class SandboxRequest:
    run_id: str
    org_id: str
    # Hard lifetime of the sandbox; the provider kills it after this many seconds whatever happens.
    timeout_s: int
    # The run spec (docs/agent-contract.md), written to the sandbox as JSON before the agent starts.
    run_spec: dict[str, Any]
    # Base URL of the control plane as seen from inside the sandbox (callback + LLM gateway).
    control_url: str
    # The per-run token: the agent's only credential.
    run_token: str
    # OpenAI-compatible base URL of the LLM gateway as seen from inside the sandbox (its function
    # URL + /v1); the agent's OPENHELM_LLM_URL. Empty: the agent's default under control_url.
    llm_url: str = ""
    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()
    # Extra environment for the agent process (never AWS or model-provider credentials).
    envs: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    # The run's per-domain secrets in clear ([{match, fields: {name: value}}], shared/secrets.py):
    # written into the sandbox with the run spec (:func:`spec_document`), never into its envs or logs.
    secrets: list[dict[str, Any]] = field(default_factory=list, repr=False)
    # Files placed in the sandbox before the agent starts (POST /v1/files, the run's file_ids).
    files: list[SandboxFile] = field(default_factory=list, repr=False)
    # The browser profile's Playwright storage_state the agent's context starts with (cookies: repr-free).
    storage_state: dict[str, Any] | None = field(default=None, repr=False)
    # A session's sandbox: the agent runs in serve mode and reads commands from a mailbox the
    # provider writes (send_command); the run spec is then a session spec (docs/sessions.md).
    mailbox: bool = False
    # A run's or session sandbox's live-view secret (shared/viewer/live.py): the agent's frame endpoint
    # (openhelm_agent/live.py) serves only frame tokens made with it. Empty: no live view.
    live_secret: str = field(default="", repr=False)


# The port of the agent's live-view frame endpoint inside a sandbox that has a network (E2B).
LIVE_PORT = 8790
# SandboxInfo.metadata key ("1") of a sandbox whose agent serves the live view: asked for with a
# ``live_secret`` and started cold. A warm sandbox handed a run has none (its agent was started
# before the run's secret existed), so that run has no live_url rather than a broken one.
LIVE_VIEW_KEY = "live_view"


@dataclass(frozen=True)
class SandboxFile:
    name: str  # a plain file name (shared/models/files.py FileName): no separators, not . or ..
    data: bytes = field(repr=False)
    content_type: str = "application/octet-stream"


def spec_document(request: SandboxRequest, files_dir: str = "") -> bytes:
    """The run spec file a provider writes into the sandbox: the spec, with the run's secrets and
    where its files are (``files_dir``: their directory as the agent sees it)."""
    spec = dict(request.run_spec)
    if request.secrets:
        spec["secrets"] = request.secrets
    if request.storage_state is not None:
        spec["storage_state"] = request.storage_state
    if request.files:
        spec["files"] = [
            {
                "name": f.name,
                "path": f"{files_dir.rstrip('/')}/{f.name}",
                "size": len(f.data),
                "content_type": f.content_type,
            }
            for f in request.files
        ]
    return json.dumps(spec).encode()


@dataclass(frozen=True)
class SandboxInfo:
    sandbox_id: str
    run_id: str
    provider: str
    started_at: datetime
    metadata: dict[str, str] = field(default_factory=dict)


class SandboxProvider(abc.ABC):
    """Creates, inspects and kills run sandboxes."""

    name: str = "abstract"

    @abc.abstractmethod
    def start(self, request: SandboxRequest) -> SandboxInfo:
        """Create the sandbox, write the spec, start the agent in the background; return at once.

        Raises SandboxStartError when anything fails; no sandbox is left running in that case.
        """

    @abc.abstractmethod
    def list_files(self, sandbox_id: str, subdir: str = "") -> list[str]:
        """Paths (relative to the agent's out dir, '/'-separated) of the files under ``subdir``."""

    @abc.abstractmethod
    def read_file(self, sandbox_id: str, path: str) -> bytes:
        """Bytes of a file in the agent's out dir (path relative to it).

        SandboxNotFound if the sandbox is gone, SandboxFileNotFound if the file is missing,
        UnsafePath if the path would leave the out dir.
        """

    @abc.abstractmethod
    def kill(self, sandbox_id: str) -> bool:
        """Kill the sandbox; True if it was running. Never raises for an unknown or dead sandbox."""

    @abc.abstractmethod
    def list_running(self) -> list[SandboxInfo]:
        """Sandboxes of this deployment that are still alive (for the reaper)."""

    def send_command(self, sandbox_id: str, command: dict[str, Any]) -> None:
        """Push one command into a session sandbox's mailbox (``command["id"]`` names it; ids sort in
        sending order). SandboxNotFound if the sandbox is gone."""
        raise SandboxError(f"the {self.name} provider has no session mailbox")

    def put_files(self, sandbox_id: str, subdir: str, files: Sequence[SandboxFile]) -> str:
        """Place files into a live session sandbox, under ``subdir`` (a safe name) of a directory the
        agent can read; that directory's path as the agent sees it. SandboxNotFound if it is gone."""
        raise SandboxError(f"the {self.name} provider cannot place files into a running sandbox")

    def remove_command(self, sandbox_id: str, command_id: str) -> None:
        """Remove a command from the mailbox once the agent has it (a task's holds its secrets).
        Never raises; a no-op where the provider cannot."""
        return None

    def read_reply(self, sandbox_id: str, command_id: str) -> dict[str, Any] | None:
        """The agent's reply to a command (``replies/<id>.json`` in the out dir), None while missing."""
        try:
            raw = self.read_file(sandbox_id, f"replies/{command_id}.json")
        except SandboxFileNotFound:
            return None
        try:
            reply = json.loads(raw)
        except ValueError:  # being replaced right now: the next read has it
            return None
        return reply if isinstance(reply, dict) else None

    def live_endpoint(self, sandbox_id: str) -> str | None:
        """The base URL (``scheme://host[:port]``) at which a viewer's browser reaches the live-view
        frame endpoint of a session sandbox started with a ``live_secret``: E2B's public host of the
        port, the local provider's one loopback port. None where the provider exposes none.
        SandboxNotFound if the sandbox is gone."""
        return None

    def extend(self, sandbox_id: str, timeout_s: int) -> None:
        """Keep the sandbox alive ``timeout_s`` more seconds from now, where the provider has a
        lifetime of its own to move (E2B's set_timeout); a no-op otherwise."""
        return None

    # Longest life a sandbox of this provider may have: bounds a session's max_duration_s.
    max_lifetime_s: int = 24 * 3600
    # Whether ``extend`` moves the sandbox's end (a session's sandbox then starts with a short life
    # and is kept alive by its activity, so the provider itself ends an idle one).
    extendable: bool = False

    # Whether ``pause`` keeps the sandbox's memory while it stops charging (E2B). A run's long wait
    # for an answer or a tool result pauses it (shared/runs/sandbox_pause.py).
    supports_pause: bool = False

    def pause(self, sandbox_id: str) -> bool:
        """Freeze the sandbox with its memory; True if it is now paused by this call. A no-op (False)
        where the provider cannot: the local provider's bubblewrap sandbox costs nothing idle, and
        SIGSTOP would only break the agent's open long poll for no saving."""
        return False

    def resume(self, sandbox_id: str, timeout_s: int) -> None:
        """Let a paused sandbox go on where it stopped, alive ``timeout_s`` more seconds (a no-op
        where ``pause`` is one)."""
        return None

    def oom_kills(self, sandbox_id: str) -> int:
        """How many of the sandbox's processes the kernel ended for want of memory, where the
        provider can tell (0 otherwise): Finalize names memory as the cause of a crash."""
        return 0
