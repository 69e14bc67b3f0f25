"""Session test doubles and helpers shared by the sessions tests (integration, MCP, routing, webhooks):
a sandbox provider that starts nothing and records what it was asked, and the create / ready calls
through the real API handler."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from shared.api import deps
from shared.clock import FakeClock
from shared.sandbox.base import SandboxInfo, SandboxProvider, SandboxRequest, SandboxStartError
from shared.services import Services
from tests.support.apigw import call, http_event
from tests.support.aws import make_services


class RecordingProvider(SandboxProvider):
    """Starts nothing; remembers requests and commands; ``fail`` makes start refuse."""

    name = "recording"

    def __init__(self) -> None:
        self.requests: list[SandboxRequest] = []
        self.commands: list[dict[str, Any]] = []
        self.killed: list[str] = []
        self.fail = False

    def start(self, request: SandboxRequest) -> SandboxInfo:
        if self.fail:
            raise SandboxStartError("no capacity left")
        self.requests.append(request)
        return SandboxInfo(f"rec_{len(self.requests)}", request.run_id, self.name, datetime.now(UTC), request.metadata)

    def send_command(self, sandbox_id: str, command: dict[str, Any]) -> None:
        self.commands.append(command)

    def list_files(self, sandbox_id: str, subdir: str = "") -> list[str]:
        return []

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        from shared.sandbox.base import SandboxFileNotFound

        raise SandboxFileNotFound(path)

    def kill(self, sandbox_id: str) -> bool:
        self.killed.append(sandbox_id)
        return True

    def list_running(self) -> list[SandboxInfo]:
        return []


def create(key: str, body: dict | None = None) -> Any:
    return call(http_event("POST", "/v1/sessions", body=body or {"start_url": "https://example.com/"}, key=key))


def ready(svc: Services, provider: RecordingProvider, session_id: str) -> Any:
    request = next(r for r in provider.requests if r.run_id == session_id)
    return call(
        http_event(
            "POST",
            f"/internal/sessions/{session_id}/ready",
            body={"url": "https://example.com/", "title": "Example"},
            headers={"authorization": f"Bearer {request.run_token}"},
        )
    )


@contextmanager
def api_services(clock: FakeClock) -> Iterator[Services]:
    """Services on moto with the given clock, which the API handler serves meanwhile."""
    services = make_services(clock=clock, OPENHELM_RUN_TOKEN_SECRET="x" * 40)
    deps.override(services)
    try:
        yield services
    finally:
        deps.override(None)
