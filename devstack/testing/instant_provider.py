"""A test double of a sandbox whose agent finishes at once: it writes a valid result and calls the
control plane's completion route over real HTTP with its run token. Used by the benchmarks to load
the control plane without browsers; never shipped as a provider."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devstack.testing.agent_outputs import done_step, out_files, result_doc
from shared.sandbox.base import SandboxFileNotFound, SandboxInfo, SandboxNotFound, SandboxProvider, SandboxRequest


class InstantProvider(SandboxProvider):
    name = "instant"
    id_prefix = "inst"

    def __init__(self, result: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self._result = result or (lambda spec: {"ok": True})
        self._files: dict[str, dict[str, bytes]] = {}
        self._alive: dict[str, SandboxInfo] = {}
        self._lock = threading.Lock()
        self._n = 0
        self.started = 0

    def start(self, request: SandboxRequest) -> SandboxInfo:
        with self._lock:
            self._n += 1
            sandbox_id = f"{self.id_prefix}_{self._n:08d}"
            self.started += 1
        info = SandboxInfo(sandbox_id, request.run_id, self.name, datetime.now(UTC), dict(request.metadata))
        result, files = self.outputs(request)
        with self._lock:
            self._files[sandbox_id] = files
            self._alive[sandbox_id] = info
        # Like an agent process: report back after start() has returned.
        threading.Thread(target=self._complete, args=(request, result), daemon=True).start()
        return info

    def outputs(self, request: SandboxRequest) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The agent contract's result and out-dir files for one run (subclasses write others)."""
        result = result_doc(self._result(request.run_spec), summary="instant")
        return result, out_files(result, [done_step(request.run_spec.get("start_url"))])

    def _complete(self, request: SandboxRequest, result: dict[str, Any]) -> None:
        url = f"{request.control_url}/internal/runs/{request.run_id}/complete"
        body = json.dumps({"status": result["status"], "steps": 1}).encode()
        headers = {"Authorization": f"Bearer {request.run_token}", "Content-Type": "application/json"}
        # The run may not be marked running yet when we are this fast (409): retry for up to ~30 s,
        # as a loaded control plane can take seconds to record the start.
        for _ in range(300):
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=10):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code != 409:
                    return
            except (urllib.error.URLError, OSError):  # the stack stopped first: like an agent, give up
                return
            threading.Event().wait(0.1)

    def list_files(self, sandbox_id: str, subdir: str = "") -> list[str]:
        files = self._files.get(sandbox_id)
        if files is None:
            raise SandboxNotFound(sandbox_id)
        return sorted(p for p in files if p.startswith(subdir))

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        files = self._files.get(sandbox_id)
        if files is None:
            raise SandboxNotFound(sandbox_id)
        if path not in files:
            raise SandboxFileNotFound(path)
        return files[path]

    def kill(self, sandbox_id: str) -> bool:
        with self._lock:
            return self._alive.pop(sandbox_id, None) is not None

    def list_running(self) -> list[SandboxInfo]:
        with self._lock:
            return list(self._alive.values())
