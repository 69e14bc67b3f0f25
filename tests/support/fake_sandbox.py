"""An in-memory sandbox provider for integration tests of the orchestration steps.

It stands in for the sandbox boundary only (E2B's cloud or bubblewrap): tests put the files an
agent would leave in its out dir and watch what the control plane starts, reads and kills. The
end-to-end tests use the real local provider instead.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.sandbox.base import (
    SandboxFileNotFound,
    SandboxInfo,
    SandboxNotFound,
    SandboxProvider,
    SandboxRequest,
    SandboxStartError,
)


class FakeSandboxProvider(SandboxProvider):
    name = "fake"

    def __init__(self) -> None:
        self.requests: list[SandboxRequest] = []
        self.files: dict[str, dict[str, bytes]] = {}
        self.alive: set[str] = set()
        self.killed: list[str] = []
        self.fail_start: str | None = None
        self.infos: dict[str, SandboxInfo] = {}

    def start(self, request: SandboxRequest) -> SandboxInfo:
        if self.fail_start:
            raise SandboxStartError(self.fail_start)
        self.requests.append(request)
        sandbox_id = f"fake_{len(self.requests)}"
        self.files[sandbox_id] = {}
        self.alive.add(sandbox_id)
        info = SandboxInfo(sandbox_id, request.run_id, self.name, datetime.now(UTC), dict(request.metadata))
        self.infos[sandbox_id] = info
        return info

    def put(self, sandbox_id: str, path: str, data: bytes | str) -> None:
        self.files[sandbox_id][path] = data.encode() if isinstance(data, str) else data

    def list_files(self, sandbox_id: str, subdir: str = "") -> list[str]:
        if sandbox_id not in self.files:
            raise SandboxNotFound(sandbox_id)
        prefix = subdir.rstrip("/") + "/" if subdir else ""
        return sorted(p for p in self.files[sandbox_id] if p.startswith(prefix))

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        if sandbox_id not in self.files:
            raise SandboxNotFound(sandbox_id)
        try:
            return self.files[sandbox_id][path]
        except KeyError as exc:
            raise SandboxFileNotFound(f"{sandbox_id}:{path}") from exc

    def kill(self, sandbox_id: str) -> bool:
        """Like the real providers: the sandbox and its files are gone."""
        self.killed.append(sandbox_id)
        was = sandbox_id in self.alive
        self.alive.discard(sandbox_id)
        self.files.pop(sandbox_id, None)
        return was

    def list_running(self) -> list[SandboxInfo]:
        return [self.infos[s] for s in sorted(self.alive)]
