"""The live view of a session or a one-shot run, by its signed ``live_url`` (no API key): the page,
its state poll, and (sessions only) control mode's input and release. Frames come from the sandbox,
never through here."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.api.deps import services
from shared.api.errors import COMMON_ERRORS, PUBLIC_ERRORS, _doc, ok
from shared.api.routes.viewer import HTML
from shared.errors import Conflict, Forbidden, NotFound, OpenHelmError
from shared.models.sessions import ActionResult, Session, SessionAction
from shared.models.viewer import LiveState
from shared.viewer import live, live_page, page
from shared.viewer.links import ViewerLinkExpired
from shared.viewer.live_urls import TargetKind

router = APIGatewayHttpRouter()
SessionId = Annotated[str, Path(description="Session id (ses_...).")]
RunId = Annotated[str, Path(description="Run id (run_...).")]
Token = Annotated[str | None, Query(max_length=400, description="The signed token of `live_url`.")]
_TITLES = {403: "This link is not valid", 404: "No live view", 410: "This live view has ended"}
_LINK_ERRORS = {
    403: _doc(Forbidden, "The link is malformed or forged, or (input) read-only."),
    404: _doc(NotFound, "Another session's link, no browser yet, or a provider without live views."),
    410: _doc(ViewerLinkExpired, "The link has expired, or the session has ended."),
    422: COMMON_ERRORS[422],  # a token past its length, a malformed body
}


def _html(description: str) -> dict[str, object]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


@router.get(
    "/v1/sessions/<session_id>/live",
    summary="The session's live page (signed link)",
    description="The session's browser as it moves (frames straight from the sandbox, several a second), the "
    "current URL and the last steps. Opened with the session envelope's `live_url`; needs no API key. With a "
    "control link (`live_mode=control` on GET /v1/sessions/{id}) clicks, keys and the wheel on the picture "
    "are manual actions. Faults answer an HTML page.",
    security=[],
    responses={
        200: _html("The live page."),
        403: _html("The link is malformed or its signature does not match."),
        404: _html("The link is another session's, or the session has no browser to show (yet)."),
        410: _html("The link has expired, or the session has ended."),
        **PUBLIC_ERRORS,
        422: COMMON_ERRORS[422],
        503: COMMON_ERRORS[503],
    },
    tags=["Sessions"],
)
def live_view(session_id: SessionId, token: Token = None) -> Response[str]:
    return _page(session_id, token, "session")


def _page(target_id: str, token: str | None, kind: TargetKind) -> Response[str]:
    try:
        data = live.page_data(services(), target_id, token, kind)
    except OpenHelmError as exc:
        if exc.status not in _TITLES:
            raise
        body = page.error_page(exc.status, _TITLES[exc.status], exc.message)
        return Response(status_code=exc.status, content_type=HTML, body=body, headers=page.security_headers())
    headers = live_page.security_headers(data["frames"]["url"])
    return Response(status_code=200, content_type=HTML, body=live_page.render(data, token or ""), headers=headers)


@router.get(
    "/v1/sessions/<session_id>/live/state",
    summary="The live page's state (signed link)",
    description="The session's status, page and last steps, for the live page's poll; 410 once it has ended.",
    security=[],
    responses={**ok("The state.", LiveState), **_LINK_ERRORS, **PUBLIC_ERRORS},
    tags=["Sessions"],
)
def live_state(session_id: SessionId, token: Token = None) -> LiveState:
    return live.state(services(), session_id, token)


@router.post(
    "/v1/sessions/<session_id>/live/input",
    summary="Act on the live picture (control link)",
    description="A person's action from the live page: click or double_click at x/y (CSS pixels of the "
    "1280x800 viewport), type, key_press, scroll by dx/dy. The first one takes the session over (status "
    "`manual`, a running task pauses between steps); each is a step marked `by: person`. 403 for a "
    "read-only link; 422 for another action.",
    security=[],
    responses={
        **ok("Done (`ok` false: the browser refused).", ActionResult),
        **_LINK_ERRORS,
        409: _doc(Conflict, "The session cannot be taken over now."),
        415: COMMON_ERRORS[415],
        **PUBLIC_ERRORS,
    },
    tags=["Sessions"],
)
def live_input(session_id: SessionId, body: Annotated[SessionAction, Body()], token: Token = None) -> ActionResult:
    return live.send_input(services(), session_id, token, body)


@router.post(
    "/v1/sessions/<session_id>/live/release",
    summary="Hand the browser back from the live page (control link)",
    description="As POST /v1/sessions/{id}/control `release`: the agent goes on, told what the person did.",
    security=[],
    responses={
        **ok("The session.", Session),
        **_LINK_ERRORS,
        409: _doc(Conflict, "Nobody has taken the session over."),
        **PUBLIC_ERRORS,
    },
    tags=["Sessions"],
)
def live_release(session_id: SessionId, token: Token = None) -> Session:
    return live.release(services(), session_id, token)


# -- a one-shot run's (read-only) ----------------------------------------------------------------


@router.get(
    "/v1/runs/<run_id>/live",
    summary="The run's live page (signed link)",
    description="A one-shot run's browser as it moves (frames straight from the sandbox, several a second), "
    "the current URL and the last step, while it is running, needs_input or waiting_for_tool. Opened with "
    "the run envelope's `live_url`; needs no API key. Read-only: manual control is a sessions feature. "
    "Faults answer an HTML page.",
    security=[],
    responses={
        200: _html("The live page."),
        403: _html("The link is malformed or its signature does not match."),
        404: _html("The link is another run's, or the run has no browser to show (yet, or on its sandbox)."),
        410: _html("The link has expired, or the run has ended."),
        **PUBLIC_ERRORS,
        422: COMMON_ERRORS[422],
        503: COMMON_ERRORS[503],
    },
    tags=["Runs"],
)
def run_live_view(run_id: RunId, token: Token = None) -> Response[str]:
    return _page(run_id, token, "run")


@router.get(
    "/v1/runs/<run_id>/live/state",
    summary="The run's live page state (signed link)",
    description="The run's status, page and last step, for the live page's poll; 410 once it has ended.",
    security=[],
    responses={**ok("The state.", LiveState), **_LINK_ERRORS, **PUBLIC_ERRORS},
    tags=["Runs"],
)
def run_live_state(run_id: RunId, token: Token = None) -> LiveState:
    return live.state(services(), run_id, token, "run")
