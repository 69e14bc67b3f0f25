"""What MCP tools ask of the runs API, and the in-process backend the API's ``/mcp`` route uses.

Both backends (this one and the HTTP one of ``openhelm mcp``, devstack/mcp_stdio.py) take the body of
``POST /v1/runs`` and answer run envelopes as JSON, so tools and their summaries cannot tell them
apart. Failures are :class:`ToolFailure`, with the API's status, code and message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from shared.auth import require_scope
from shared.errors import OpenHelmError
from shared.models.common import RunStatus
from shared.models.orgs import ApiKeyRecord, Org
from shared.models.runs import CreateRunRequest, InputAnswer, ToolResult
from shared.models.sessions import CreateSessionRequest, SessionAction, SessionStatus, SessionTaskRequest
from shared.runs import custom_tools, human_input
from shared.runs import service as runs
from shared.services import Services
from shared.sessions import actions as session_actions
from shared.sessions import envelope as session_views
from shared.sessions import service as sessions
from shared.sessions import waiting as session_waits

_ACTION: TypeAdapter[Any] = TypeAdapter(SessionAction)


class ToolFailure(Exception):
    """The API refused or failed a call: ``status`` and ``code`` as the HTTP API would answer them."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        text = f"{self.code} ({self.status}): {self.message}"
        if self.details:
            text += f" details={self.details}"
        return text


class RunsBackend(Protocol):
    """The runs API as tools see it. Every method answers run envelopes as JSON (``Run`` dumped)."""

    def create_run(self, body: dict[str, Any], idempotency_key: str | None, wait_s: int) -> dict[str, Any]: ...

    def get_run(self, run_id: str, wait_s: int = 0) -> dict[str, Any]: ...

    def list_runs(self, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]: ...

    def cancel_run(self, run_id: str) -> dict[str, Any]: ...

    def answer_input(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def send_tool_result(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    # Sessions: envelopes (``Session``, ``ActionResult``) as JSON; a task answers its run's envelope.

    def create_session(self, body: dict[str, Any], wait_s: int = 0) -> dict[str, Any]: ...

    def get_session(self, session_id: str, wait_s: int = 0) -> dict[str, Any]: ...

    def list_sessions(self, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]: ...

    def run_session_task(
        self, session_id: str, body: dict[str, Any], idempotency_key: str | None, wait_s: int
    ) -> dict[str, Any]: ...

    def session_action(self, session_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def control_session(self, session_id: str, verb: str) -> dict[str, Any]: ...

    def close_session(self, session_id: str) -> dict[str, Any]: ...


def _failure(exc: OpenHelmError) -> ToolFailure:
    return ToolFailure(exc.status, exc.code, exc.message, exc.details)


def _invalid(exc: ValidationError) -> ToolFailure:
    details = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    first = details[0]
    return ToolFailure(422, "validation_failed", f"{'.'.join(first['loc']) or 'request'}: {first['msg']}", details)


@dataclass(frozen=True)
class DomainBackend:
    """The caller's org and key, served in-process: the calls the ``/v1/runs`` routes make, with their
    scope rule (a read-only key may read; creating and cancelling need the full scope)."""

    svc: Services
    org: Org
    key: ApiKeyRecord
    control_url: str

    def create_run(self, body: dict[str, Any], idempotency_key: str | None, wait_s: int) -> dict[str, Any]:
        try:
            require_scope(self.key, "POST")
            req = CreateRunRequest.model_validate(body)
            created = runs.create_run(self.svc, self.org, req, idempotency_key, control_url=self.control_url)
            run = created.run
            if wait_s > 0 and not run.status.is_terminal:
                seconds = min(wait_s, self.svc.settings.max_wait_s)
                run = runs.wait_for_terminal(self.svc, self.org.id, run.id, seconds) or run
            return run.model_dump(mode="json", by_alias=True)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def get_run(self, run_id: str, wait_s: int = 0) -> dict[str, Any]:
        try:
            run = runs.get_run(self.svc, self.org.id, run_id)  # 404 before any wait
            if wait_s > 0 and not run.status.is_terminal:
                seconds = min(wait_s, self.svc.settings.max_wait_s)
                run = runs.wait_for_terminal(self.svc, self.org.id, run_id, seconds) or runs.get_run(
                    self.svc, self.org.id, run_id
                )
            return run.model_dump(mode="json", by_alias=True)
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def list_runs(self, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]:
        try:
            page = runs.list_runs(
                self.svc,
                self.org.id,
                limit=limit,
                cursor=cursor,
                status=RunStatus(status) if status else None,
                project_id=None,
                job_id=None,
            )
            return page.model_dump(mode="json", by_alias=True)
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        try:
            require_scope(self.key, "POST")
            return runs.cancel_run(self.svc, self.org.id, run_id).model_dump(mode="json", by_alias=True)
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def answer_input(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            require_scope(self.key, "POST")
            human_input.answer(self.svc, self.org.id, run_id, InputAnswer.model_validate(body))
            return runs.get_run(self.svc, self.org.id, run_id).model_dump(mode="json", by_alias=True)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def send_tool_result(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            require_scope(self.key, "POST")
            custom_tools.submit(self.svc, self.org.id, run_id, ToolResult.model_validate(body))
            return runs.get_run(self.svc, self.org.id, run_id).model_dump(mode="json", by_alias=True)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def _wait(self, run: Any, wait_s: int) -> Any:
        if wait_s > 0 and not run.status.is_terminal:
            seconds = min(wait_s, self.svc.settings.max_wait_s)
            run = runs.wait_for_terminal(self.svc, self.org.id, run.id, seconds) or run
        return run

    # -- sessions: the calls the /v1/sessions routes make ------------------------------------------

    def create_session(self, body: dict[str, Any], wait_s: int = 0) -> dict[str, Any]:
        try:
            require_scope(self.key, "POST")
            req = CreateSessionRequest.model_validate(body)
            session = sessions.create_session(self.svc, self.org, req, control_url=self.control_url)
            if wait_s > 0 and session.status in session_waits.SETTLING:
                session = session_waits.wait_until_settled(self.svc, self.org.id, session.id, wait_s)
            return session.model_dump(mode="json", by_alias=True)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def get_session(self, session_id: str, wait_s: int = 0) -> dict[str, Any]:
        try:
            session = session_waits.wait_until_settled(self.svc, self.org.id, session_id, wait_s)
            return session.model_dump(mode="json", by_alias=True)
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def list_sessions(self, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]:
        try:
            page = session_views.list_sessions(
                self.svc, self.org.id, limit=limit, cursor=cursor, status=SessionStatus(status) if status else None
            )
            return page.model_dump(mode="json", by_alias=True)
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def run_session_task(
        self, session_id: str, body: dict[str, Any], idempotency_key: str | None, wait_s: int
    ) -> dict[str, Any]:
        try:
            require_scope(self.key, "POST")
            req = SessionTaskRequest.model_validate(body)
            created = sessions.submit_task(self.svc, self.org, session_id, req, self.control_url, idempotency_key)
            return self._wait(created.run, wait_s).model_dump(mode="json", by_alias=True)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def session_action(self, session_id: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            require_scope(self.key, "POST")
            action = _ACTION.validate_python(body)
            return session_actions.act(self.svc, self.org.id, session_id, action).model_dump(mode="json", by_alias=True)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def control_session(self, session_id: str, verb: str) -> dict[str, Any]:
        if verb not in ("pause", "resume", "stop"):
            raise ToolFailure(422, "validation_failed", f"verb: not one of pause, resume, stop: {verb!r}")
        try:
            require_scope(self.key, "POST")
            return getattr(sessions, verb)(self.svc, self.org.id, session_id).model_dump(mode="json", by_alias=True)
        except OpenHelmError as exc:
            raise _failure(exc) from exc

    def close_session(self, session_id: str) -> dict[str, Any]:
        try:
            require_scope(self.key, "POST")
            return sessions.terminate(self.svc, self.org.id, session_id).model_dump(mode="json", by_alias=True)
        except OpenHelmError as exc:
            raise _failure(exc) from exc
