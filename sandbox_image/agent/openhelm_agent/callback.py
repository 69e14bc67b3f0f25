"""Calls to the control plane: best-effort progress and the completion callback (stdlib urllib)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from openhelm_agent.log import get_logger

log = get_logger("openhelm_agent.callback")
MAX_PROGRESS_URL = 4096
# Set by the sandbox's supervisor (supervise.py): the pipe on which the agent says its completion was
# accepted, so the supervisor does not report the agent's exit as a crash.
COMPLETION_FD_ENV = "OPENHELM_COMPLETION_FD"


def tell_supervisor() -> None:
    """Tell the supervisor (if any) that the control plane accepted the completion. Once; never raises."""
    raw = os.environ.pop(COMPLETION_FD_ENV, "")
    if not raw.isdigit():
        return
    fd = int(raw)
    with contextlib.suppress(OSError):
        os.write(fd, b"completed\n")
    with contextlib.suppress(OSError):
        os.close(fd)


def post_json(url: str, token: str, payload: dict[str, Any], timeout: float) -> int:
    """POST ``payload`` as JSON with the Bearer token; return the HTTP status (raises on network errors)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, default=str).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def request_json(
    url: str, token: str, payload: dict[str, Any] | None, timeout: float
) -> tuple[int, dict[str, Any] | None]:
    """POST ``payload`` (GET when None) with the Bearer token; (HTTP status, decoded JSON body or None)."""
    request = urllib.request.Request(
        url,
        data=None if payload is None else json.dumps(payload, default=str).encode("utf-8"),
        method="GET" if payload is None else "POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code), None
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return status, body if isinstance(body, dict) else None


class InputUnavailable(Exception):
    """The question could not be asked, or the run stopped while it waited (cancelled)."""


class ControlPlaneClient:
    """Progress posts go through one background thread so a slow control plane never slows a step."""

    def __init__(
        self,
        control_url: str,
        token: str,
        run_id: str,
        *,
        progress_timeout_s: float = 2.0,
        complete_timeout_s: float = 10.0,
        complete_attempts: int = 3,
    ) -> None:
        base = control_url.rstrip("/")
        self._progress_url = f"{base}/internal/runs/{quote(run_id, safe='')}/progress"
        self._complete_url = f"{base}/internal/runs/{quote(run_id, safe='')}/complete"
        self._input_url = f"{base}/internal/runs/{quote(run_id, safe='')}/input"
        self._token = token
        self._progress_timeout = progress_timeout_s
        self._complete_timeout = complete_timeout_s
        self._complete_attempts = max(1, complete_attempts)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=100)
        self._worker = threading.Thread(target=self._drain, name="openhelm-progress", daemon=True)
        self._worker.start()

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                status = post_json(self._progress_url, self._token, item, self._progress_timeout)
                if status >= 300:
                    log.info("progress rejected", extra={"status": status, "step": item.get("step")})
            except (OSError, ValueError, http.client.HTTPException) as exc:
                log.info("progress not delivered", extra={"error": type(exc).__name__})

    def progress(self, step: int, url: str, action: str) -> None:
        """Queue a progress post; dropped (never blocks) if the queue is full."""
        try:
            self._queue.put_nowait({"step": step, "url": url[:MAX_PROGRESS_URL], "action": action[:40]})
        except queue.Full:
            log.info("progress dropped", extra={"step": step})

    def ask(self, question: str, schema: dict[str, Any] | None) -> dict[str, Any]:
        """Put the question to the caller (the run goes to needs_input); the input request
        {id, expires_at, ...}. InputUnavailable if the control plane refuses it."""
        status, body = request_json(
            self._input_url + "-request", self._token, {"question": question, "schema": schema}, self._complete_timeout
        )
        if status >= 300 or body is None or "id" not in body:
            raise InputUnavailable(f"the question was refused (HTTP {status})")
        return body

    def wait_answer(self, request_id: str, *, poll_s: int = 20, give_up_after_s: float = 4000) -> dict[str, Any]:
        """Long-poll (bounded polls of ``poll_s``) until the answer or the input deadline:
        {"status": "answered", "answer": ..., "paused_s"} or {"status": "expired", "paused_s"}.
        The answer is a secret: never logged here. A push from the sandbox provider can replace
        this poll later (the control plane hands answers over in one place)."""
        url = f"{self._input_url}?request_id={quote(request_id, safe='')}&wait={poll_s}"
        return self._poll(url, poll_s, give_up_after_s)

    def _poll(self, url: str, poll_s: int, give_up_after_s: float) -> dict[str, Any]:
        give_up = time.monotonic() + give_up_after_s
        delay = 0.5
        while time.monotonic() < give_up:
            try:
                status, body = request_json(url, self._token, None, poll_s + 8)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                log.info("input poll failed", extra={"error": type(exc).__name__})
                time.sleep(delay)
                delay = min(delay * 2, 10)
                continue
            if status == 409 or status == 404:
                raise InputUnavailable("the run stopped while it waited for input")
            if status < 300 and body and body.get("status") in ("answered", "expired"):
                return body
            if status >= 300:
                time.sleep(delay)
                delay = min(delay * 2, 10)
        return {"status": "expired"}

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Hand a custom tool call to the caller (the run goes to waiting_for_tool); the call {id, ...}.
        InputUnavailable if the control plane refuses it."""
        status, body = request_json(
            self._input_url.rsplit("/", 1)[0] + "/tool-call",
            self._token,
            {"name": name, "arguments": arguments},
            self._complete_timeout,
        )
        if status >= 300 or body is None or "id" not in body:
            raise InputUnavailable(f"the tool call was refused (HTTP {status})")
        return body

    def wait_tool_result(self, call_id: str, *, poll_s: int = 20, give_up_after_s: float = 1000) -> dict[str, Any]:
        """Long-poll for the tool's result, like :meth:`wait_answer`."""
        url = f"{self._input_url.rsplit('/', 1)[0]}/tool-result?call_id={quote(call_id, safe='')}&wait={poll_s}"
        return self._poll(url, poll_s, give_up_after_s)

    def close(self, wait_s: float = 3.0) -> None:
        """Stop the progress thread, letting queued posts go out for at most ``wait_s`` seconds."""
        try:
            self._queue.put(None, timeout=wait_s)
        except queue.Full:
            return
        self._worker.join(timeout=wait_s)

    def complete(self, result: dict[str, Any]) -> bool:
        """POST the completion (the result.json content), retrying a few times; True if accepted."""
        self.close()
        delay = 0.5
        for attempt in range(1, self._complete_attempts + 1):
            try:
                status = post_json(self._complete_url, self._token, result, self._complete_timeout)
                if status < 300:
                    tell_supervisor()
                    return True
                log.warning("completion rejected", extra={"status": status, "attempt": attempt})
                if status < 500 and status != 429:
                    return False
            except (OSError, ValueError, http.client.HTTPException) as exc:
                log.warning("completion not delivered", extra={"error": str(exc), "attempt": attempt})
            if attempt < self._complete_attempts:
                time.sleep(delay)
                delay *= 2
        return False
