"""/v1/runs: create, read, list, cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.api.deps import caller, services
from shared.api.errors import CONFLICT, NOT_FOUND, PAYMENT, RATE_LIMITED, documented, ok
from shared.api.urls import accepted, base_url
from shared.config import MAX_WAIT_S
from shared.models.common import RunStatus
from shared.models.runs import CreateRunRequest, InputAnswer, Run, RunAccepted, RunList, ToolResult
from shared.ratelimit import decision_headers
from shared.runs import custom_tools, human_input
from shared.runs import service as runs
from shared.viewer.live_urls import refuse_run_control
from shared.viewer.service import with_viewer_url

router = APIGatewayHttpRouter()

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=255,
        description="Same key and same body return the same run for 24 h; a different body answers 409.",
    ),
]
RunId = Annotated[str, Path(description="Run id (run_...).")]


@router.post(
    "/v1/runs",
    summary="Create a run",
    description="Accepts the run at once (202) and starts it. With `wait` (at most "
    f"{MAX_WAIT_S} s), answers 200 with the finished run if it ends within that many seconds, else 202.",
    responses=documented(
        {
            **ok("The run finished within `wait` seconds.", Run),
            **ok("Accepted; poll `poll_url`.", RunAccepted, 202, location="The run (/v1/runs/{id})."),
        },
        CONFLICT,
        RATE_LIMITED,
        PAYMENT,
    ),
    tags=["Runs"],
)
def create_run(
    body: CreateRunRequest,
    idempotency_key: IdempotencyKey = None,
    wait: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_WAIT_S,
            description=f"Seconds to wait for the run to finish, at most {MAX_WAIT_S} (API Gateway ends every "
            "request at 30 s); more is refused with 422. Poll `poll_url` or use a webhook for longer runs.",
        ),
    ] = 0,
) -> Response[RunAccepted | Run]:
    svc = services()
    org = caller()
    created = runs.create_run(svc, org, body, idempotency_key, control_url=base_url(svc))
    if wait:
        done = runs.wait_for_terminal(svc, org.id, created.run.id, min(wait, svc.settings.max_wait_s))
        if done is not None:
            done = with_viewer_url(svc, done, org.id, base_url(svc))
            headers = decision_headers(created.rate) if created.rate else None
            return Response(status_code=200, body=done, content_type="application/json", headers=headers)
    return accepted(svc, created.run, replayed=created.replayed, rate=created.rate)


@router.get(
    "/v1/runs",
    summary="List runs",
    description="Newest first. Filter by status, project or job; page with `cursor`.",
    responses=documented(ok("A page of runs.")),
    tags=["Runs"],
)
def list_runs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    project_id: Annotated[str | None, Query(max_length=40)] = None,
    job_id: Annotated[str | None, Query(max_length=40)] = None,
) -> RunList:
    org, svc = caller(), services()
    page = runs.list_runs(svc, org.id, limit=limit, cursor=cursor, status=status, project_id=project_id, job_id=job_id)
    base = base_url(svc)
    return page.model_copy(update={"data": [with_viewer_url(svc, r, org.id, base) for r in page.data]})


@router.get(
    "/v1/runs/<run_id>",
    summary="Get a run",
    description="The run envelope, with a fresh read-only `live_url` while it runs.",
    responses=documented(ok("The run envelope."), NOT_FOUND, CONFLICT),
    tags=["Runs"],
)
def get_run(
    run_id: RunId,
    live_mode: Annotated[
        Literal["view", "control"],
        Query(
            description="What the envelope's `live_url` allows: `view` (default). `control` answers 409: "
            "manual control is a sessions feature (GET /v1/sessions/{id}?live_mode=control)."
        ),
    ] = "view",
) -> Run:
    svc, org_id = services(), caller().id
    run = runs.get_run(svc, org_id, run_id)
    if live_mode == "control":
        refuse_run_control(run_id, run.session_id)
    return with_viewer_url(svc, run, org_id, base_url(svc))


@router.post(
    "/v1/runs/<run_id>/cancel",
    summary="Cancel a run",
    description="Cancels a queued or running run and stops its sandbox. A finished run answers 409.",
    responses=documented(ok("Cancelled.", Run, 202), NOT_FOUND, CONFLICT),
    tags=["Runs"],
)
def cancel_run(run_id: RunId) -> Response[Run]:
    svc, org_id = services(), caller().id
    run = with_viewer_url(svc, runs.cancel_run(svc, org_id, run_id), org_id, base_url(svc))
    return Response(status_code=202, body=run, content_type="application/json")


@router.post(
    "/v1/runs/<run_id>/input",
    summary="Answer a run's question",
    description="Answers the open `input_request` of a run in `needs_input`: the answer is checked against "
    "the request's `schema` (422 with `details[].loc`), kept sealed until the agent takes it, and the run "
    "goes back to `running`. A request id that is not the open one (answered, expired, unknown) answers 409.",
    responses=documented(ok("The run, running again.", Run, 200), NOT_FOUND, CONFLICT),
    tags=["Runs"],
)
def answer_input(run_id: RunId, body: InputAnswer) -> Run:
    svc, org_id = services(), caller().id
    human_input.answer(svc, org_id, run_id, body)
    return with_viewer_url(svc, runs.get_run(svc, org_id, run_id), org_id, base_url(svc))


@router.post(
    "/v1/runs/<run_id>/tool-results",
    summary="Send a custom tool's result",
    description="Answers the open `tool_call` of a run in `waiting_for_tool` with `output` (JSON, at most "
    "32 KiB, else 422) or `error`; the run goes back to `running` and the agent carries on with it. A call id "
    "that is not the open one (answered, timed out, unknown) answers 409.",
    responses=documented(ok("The run, running again.", Run, 200), NOT_FOUND, CONFLICT),
    tags=["Runs"],
)
def tool_result(run_id: RunId, body: ToolResult) -> Run:
    svc, org_id = services(), caller().id
    custom_tools.submit(svc, org_id, run_id, body)
    return with_viewer_url(svc, runs.get_run(svc, org_id, run_id), org_id, base_url(svc))
