"""``openhelm mcp``: the MCP server over stdio for desktop assistants, calling the public HTTP API.

The same tool registry as the API's ``/mcp`` (shared/mcp/tools.py) over a backend that makes the
plain API calls (``POST /v1/runs?wait=``, ``GET /v1/runs/{id}``, ``GET /v1/runs``, ``POST
/v1/runs/{id}/cancel``, ``/v1/sessions``) with the key from ``OPENHELM_API_KEY`` (never an argument:
the process list shows those) at ``OPENHELM_BASE_URL``. stdout carries the protocol; logs go to stderr.

HTTP with ``httpx2``, the fork of httpx (same API) that the mcp SDK itself depends on: nothing to
add. A ``get_run`` wait polls with backoff and ends by its bound; every request is bounded by
``REQUEST_TIMEOUT_S`` (API Gateway answers within 30 s).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx2

from shared.config import MAX_WAIT_S
from shared.mcp.backend import ToolFailure
from shared.mcp.summary import TERMINAL
from shared.version import VERSION

DEFAULT_BASE_URL = "http://127.0.0.1:8787"  # `make dev`
REQUEST_TIMEOUT_S = 35.0
POLL_S = (0.5, 1.0, 2.0)  # between polls of a get_run/get_session wait: quick at first, then every 2 s
SESSION_SETTLING = {"starting", "busy"}  # shared.sessions.waiting.SETTLING, as the API spells them


class ApiBackend:
    """The runs API over HTTP: what shared.mcp.backend.DomainBackend does in-process, by the public API."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        client: httpx2.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx2.Client(timeout=REQUEST_TIMEOUT_S)
        self.client.headers.update({"Authorization": f"Bearer {api_key}", "User-Agent": f"openhelm-mcp/{VERSION}"})
        self._sleep = sleep
        self._monotonic = monotonic

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            r = self.client.request(method, self.base_url + path, **kw)
        except httpx2.HTTPError as exc:
            raise ToolFailure(503, "api_unreachable", f"{self.base_url} did not answer: {exc}") from exc
        try:
            body = r.json()
        except ValueError:
            body = None
        if r.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):  # the API's envelope
                code, message = error.get("code") or "error", error.get("message") or ""
                raise ToolFailure(r.status_code, code, message, error.get("details"))
            message = body.get("message") if isinstance(body, dict) else r.text[:200]  # API Gateway's own body
            raise ToolFailure(r.status_code, "http_error", str(message or r.reason_phrase))
        if not isinstance(body, dict):
            raise ToolFailure(502, "bad_response", f"{method} {path} answered {r.status_code} without a JSON object")
        return body

    def _run_path(self, run_id: str) -> str:
        return f"/v1/runs/{quote(run_id, safe='')}"

    def create_run(self, body: dict[str, Any], idempotency_key: str | None, wait_s: int) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        params = {"wait": min(wait_s, MAX_WAIT_S)} if wait_s else None
        answer = self._call("POST", "/v1/runs", json=body, headers=headers, params=params)
        if "task_id" in answer:  # 202: accepted, still going; the summary wants the envelope
            return self._call("GET", self._run_path(answer["task_id"]))
        return answer

    def get_run(self, run_id: str, wait_s: int = 0) -> dict[str, Any]:
        return self._poll(self._run_path(run_id), wait_s, lambda run: run["status"] in TERMINAL)

    def _poll(self, path: str, wait_s: int, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """GET ``path`` until ``done`` says so or ``wait_s`` (at most MAX_WAIT_S) pass, with backoff."""
        deadline = self._monotonic() + min(wait_s, MAX_WAIT_S)
        polls = 0
        while True:
            got = self._call("GET", path)
            remaining = deadline - self._monotonic()
            if done(got) or remaining <= 0:
                return got
            self._sleep(min(POLL_S[min(polls, len(POLL_S) - 1)], remaining))
            polls += 1

    def list_runs(self, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if status:
            params["status"] = status
        return self._call("GET", "/v1/runs", params=params)

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        return self._call("POST", self._run_path(run_id) + "/cancel")

    def answer_input(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", self._run_path(run_id) + "/input", json=body)

    def send_tool_result(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", self._run_path(run_id) + "/tool-results", json=body)

    def _session_path(self, session_id: str) -> str:
        return f"/v1/sessions/{quote(session_id, safe='')}"

    def create_session(self, body: dict[str, Any], wait_s: int = 0) -> dict[str, Any]:
        started = self._monotonic()
        session = self._call("POST", "/v1/sessions", json=body)
        if not wait_s or session["status"] not in SESSION_SETTLING:
            return session
        return self.get_session(session["id"], max(0, round(wait_s - (self._monotonic() - started))))

    def get_session(self, session_id: str, wait_s: int = 0) -> dict[str, Any]:
        return self._poll(self._session_path(session_id), wait_s, lambda s: s["status"] not in SESSION_SETTLING)

    def list_sessions(self, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if status:
            params["status"] = status
        return self._call("GET", "/v1/sessions", params=params)

    def run_session_task(
        self, session_id: str, body: dict[str, Any], idempotency_key: str | None, wait_s: int
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        accepted = self._call("POST", self._session_path(session_id) + "/tasks", json=body, headers=headers)
        return self.get_run(accepted["task_id"], wait_s)

    def session_action(self, session_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", self._session_path(session_id) + "/actions", json=body)

    def control_session(self, session_id: str, verb: str) -> dict[str, Any]:
        return self._call("POST", self._session_path(session_id) + "/" + quote(verb, safe=""))

    def close_session(self, session_id: str) -> dict[str, Any]:
        return self._call("DELETE", self._session_path(session_id))


def run_stdio(env: Mapping[str, str], base_url: str | None = None) -> int:
    """Serve MCP on stdin/stdout until the client closes it. Returns an exit code."""
    from shared.logging import get_logger
    from shared.mcp.tools import build_server

    log = get_logger("devstack.mcp_stdio")
    key = env.get("OPENHELM_API_KEY", "").strip()
    if not key:
        sys.stderr.write("openhelm mcp: set OPENHELM_API_KEY to an API key (oh_live_... or oh_test_...)\n")
        return 2
    url = base_url or env.get("OPENHELM_BASE_URL") or DEFAULT_BASE_URL
    backend = ApiBackend(url, key)
    log.info("mcp_stdio_serving", base_url=url)
    try:
        build_server(lambda: backend).run("stdio")
    finally:
        backend.client.close()
    return 0
