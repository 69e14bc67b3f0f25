"""/v1/sessions: one live browser for many tasks, direct actions, pause / resume / stop, terminate."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.api.deps import caller, services
from shared.api.errors import CONFLICT, NOT_FOUND, PAYMENT, RATE_LIMITED, documented, ok
from shared.api.urls import base_url
from shared.models.sessions import (
    ActionResult,
    CreateSessionRequest,
    Session,
    SessionAction,
    SessionControlRequest,
    SessionList,
    SessionStatus,
    SessionTaskAccepted,
    SessionTaskRequest,
)
from shared.ratelimit import decision_headers
from shared.sessions import envelope as session_views
from shared.sessions import manual as session_manual
from shared.sessions import service as sessions
from shared.viewer.live import with_live_url
from shared.viewer.live_links import LiveMode

router = APIGatewayHttpRouter()
SessionId = Annotated[str, Path(description="Session id (ses_...).")]


@router.post(
    "/v1/sessions",
    summary="Create a session",
    description="Starts a sandbox whose browser stays open for many tasks and direct actions. Answers 201 "
    "with status `starting`; the session is `ready` once its browser is up (about a second or two).",
    responses=documented(
        ok("Created.", Session, 201, location="The session (/v1/sessions/{id})."), RATE_LIMITED, PAYMENT
    ),
    tags=["Sessions"],
)
def create_session(body: CreateSessionRequest) -> Response[Session]:
    svc = services()
    session = sessions.create_session(svc, caller(), body, control_url=base_url(svc))
    headers = {"Location": f"/v1/sessions/{session.id}"}
    return Response(status_code=201, body=session, content_type="application/json", headers=headers)


@router.get(
    "/v1/sessions",
    summary="List sessions",
    description="Newest first; filter by status; page with `cursor`.",
    responses=documented(ok("A page of sessions.")),
    tags=["Sessions"],
)
def list_sessions(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    status: Annotated[SessionStatus | None, Query()] = None,
) -> SessionList:
    svc, org_id = services(), caller().id
    page = session_views.list_sessions(svc, org_id, limit=limit, cursor=cursor, status=status)
    base = base_url(svc)
    return page.model_copy(update={"data": [with_live_url(svc, s, org_id, base) for s in page.data]})


@router.get(
    "/v1/sessions/<session_id>",
    summary="Get a session",
    description="With a fresh `live_url` while the session is ready, busy, paused or manual: read-only, or "
    "with `live_mode=control` a link whose clicks and keys on the picture are a person's manual actions.",
    responses=documented(ok("The session."), NOT_FOUND),
    tags=["Sessions"],
)
def get_session(
    session_id: SessionId,
    live_mode: Annotated[
        LiveMode, Query(description="What the envelope's `live_url` allows: `view` (default) or `control`.")
    ] = "view",
) -> Session:
    svc, org_id = services(), caller().id
    return with_live_url(svc, session_views.get_session(svc, org_id, session_id), org_id, base_url(svc), live_mode)


@router.delete(
    "/v1/sessions/<session_id>",
    summary="Terminate a session",
    description="Kills the sandbox (a running task ends `cancelled`), records the session's usage once and "
    "emits `Session Closed` (reason `terminated`). A closed session answers 409.",
    responses=documented(ok("Closed.", Session), NOT_FOUND, CONFLICT),
    tags=["Sessions"],
)
def terminate_session(session_id: SessionId) -> Session:
    return sessions.terminate(services(), caller().id, session_id)


@router.post(
    "/v1/sessions/<session_id>/tasks",
    summary="Run a task in a session",
    description="The body of a run; the task is a run (`GET /v1/runs/{id}`) that uses the session's browser, "
    "cookies and tabs. One task at a time: a session that is not `ready` answers 409.",
    responses=documented(
        ok("Accepted; poll `poll_url`.", SessionTaskAccepted, 202, location="The run (/v1/runs/{id})."),
        NOT_FOUND,
        CONFLICT,
        RATE_LIMITED,
        PAYMENT,
    ),
    tags=["Sessions"],
)
def create_task(
    session_id: SessionId,
    body: SessionTaskRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key", min_length=1, max_length=255)] = None,
) -> Response[SessionTaskAccepted]:
    svc = services()
    created = sessions.submit_task(svc, caller(), session_id, body, base_url(svc), idempotency_key)
    path = f"/v1/runs/{created.run.id}"
    accepted = SessionTaskAccepted(
        task_id=created.run.id, session_id=session_id, poll_url=base_url(svc) + path, status=created.run.status.value
    )
    headers = {"Location": path, **(decision_headers(created.rate) if created.rate else {})}
    return Response(status_code=202, body=accepted, content_type="application/json", headers=headers)


@router.post(
    "/v1/sessions/<session_id>/actions",
    summary="Take a direct browser action",
    description="No LLM: navigate, evaluate, screenshot, extract, click (ref or x/y), double_click (x/y), type, "
    "key_press, scroll, go_back, wait_for. Synchronous (at most about 25 s); recorded as a step with a "
    "screenshot. A session running a task answers 409 unless the task is paused. While taken over (status "
    "`manual`), the person's actions: click, double_click, type, key_press, scroll (steps marked `by: person`; "
    "typed text is kept nowhere, its length only; others 422).",
    responses=documented(
        ok("Done (`ok` false: the browser refused; `error` says why).", ActionResult), NOT_FOUND, CONFLICT
    ),
    tags=["Sessions"],
)
def take_action(session_id: SessionId, body: Annotated[SessionAction, Body()]) -> ActionResult:
    return session_manual.act(services(), caller().id, session_id, body)


@router.post(
    "/v1/sessions/<session_id>/control",
    summary="Take over or release the browser",
    description="`take_over`: a person takes control (status `manual`); a running task pauses between steps "
    "and the agent takes no step meanwhile. `release`: back to what it was; a task paused by the take-over "
    "resumes, told what the person did (never what they typed) and shown the page afresh. 409: take_over of "
    "a session already `manual`, starting or closed; release of one not `manual`.",
    responses=documented(ok("The session.", Session), NOT_FOUND, CONFLICT),
    tags=["Sessions"],
)
def control_session(session_id: SessionId, body: SessionControlRequest) -> Session:
    svc, org_id = services(), caller().id
    session = session_manual.control(svc, org_id, session_id, body)
    # Who takes over gets a link to act on the picture; a release hands back a read-only one.
    mode: LiveMode = "control" if body.action == "take_over" else "view"
    return with_live_url(svc, session, org_id, base_url(svc), mode)


def _state_route(verb: str, summary: str, description: str) -> None:
    def handler(session_id: SessionId) -> Session:
        return getattr(sessions, verb)(services(), caller().id, session_id)

    handler.__name__ = f"{verb}_session"
    router.post(
        f"/v1/sessions/<session_id>/{verb}",
        summary=summary,
        description=description,
        responses=documented(ok("The session.", Session), NOT_FOUND, CONFLICT),
        tags=["Sessions"],
    )(handler)


_state_route(
    "pause",
    "Pause the running task",
    "The agent takes no step until resumed; direct actions are "
    "allowed meanwhile. The task's time budget stops; the session's own deadline does not.",
)
_state_route("resume", "Resume the paused task", "The agent goes on from where it paused.")
_state_route("stop", "Stop the running task", "Ends the task as `cancelled`; the session stays, `ready` again.")
