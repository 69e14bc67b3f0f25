"""The run viewer and the trace bundle: GET /v1/runs/{id}/view (a page, by signed link, no API key)
and GET /v1/runs/{id}/bundle (a presigned download of the run's zip)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.api.deps import caller, services
from shared.api.errors import COMMON_ERRORS, CONFLICT, NOT_FOUND, PUBLIC_ERRORS, documented, ok
from shared.api.route_table import VIEWER_PUBLIC_PATH as PUBLIC_PATH  # noqa: F401 (re-exported)
from shared.errors import OpenHelmError
from shared.models.viewer import RunBundle
from shared.viewer import page
from shared.viewer.service import run_bundle, run_page

router = APIGatewayHttpRouter()
HTML = "text/html; charset=utf-8"
RunId = Annotated[str, Path(description="Run id (run_...).")]

_TITLES = {403: "This link is not valid", 404: "No such run", 410: "This link has expired"}


def _html(description: str) -> dict[str, object]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


@router.get(
    "/v1/runs/<run_id>/view",
    summary="The run's page (signed link)",
    description="A self-contained HTML page of the run: prompt, status, result with confidence, every step "
    "with its screenshot (presigned S3 URLs), URL, action and timing, the network log, usage and cost, "
    "errors. Opened with the run envelope's `viewer_url`; needs no API key. Faults answer an HTML page.",
    security=[],
    responses={
        200: _html("The run's page."),
        403: _html("The link is malformed or its signature does not match."),
        404: _html("The link is another run's, or the run is gone."),
        410: _html("The link has expired: get a new `viewer_url` from GET /v1/runs/{id}."),
        **PUBLIC_ERRORS,
        422: COMMON_ERRORS[422],
        503: COMMON_ERRORS[503],
    },
    tags=["Runs"],
)
def view_run(
    run_id: RunId,
    token: Annotated[str | None, Query(max_length=400, description="The signed token of `viewer_url`.")] = None,
) -> Response[str]:
    try:
        body, headers = run_page(services(), run_id, token)
    except OpenHelmError as exc:
        if exc.status not in _TITLES:
            raise
        headers = page.security_headers()
        body = page.error_page(exc.status, _TITLES[exc.status], exc.message)
        return Response(status_code=exc.status, content_type=HTML, body=body, headers=headers)
    return Response(status_code=200, content_type=HTML, body=body, headers=headers)


@router.get(
    "/v1/runs/<run_id>/bundle",
    summary="Download the run's trace bundle",
    description="A zip of the run's step records, screenshots, network log, result, usage and a signed "
    "manifest, built once into the evidence bucket: answers 303 to a short-lived presigned URL of it "
    "(`curl -L`), or with `redirect=false` 200 with the same JSON. `openhelm view bundle.zip` opens it "
    "offline. A run that has not finished, or whose evidence is not stored yet, answers 409.",
    responses=documented(
        {
            **ok("Redirect to the zip (Location); the body says the same.", RunBundle, 303),
            **ok("Where to download the zip (`redirect=false`).", RunBundle),
        },
        NOT_FOUND,
        CONFLICT,
    ),
    tags=["Runs"],
)
def download_bundle(
    run_id: RunId,
    redirect: Annotated[bool, Query(description="false: answer 200 with the URL instead of 303.")] = True,
) -> Response[RunBundle]:
    found = run_bundle(services(), caller().id, run_id)
    if not redirect:
        return Response(status_code=200, body=found, content_type="application/json")
    return Response(status_code=303, body=found, content_type="application/json", headers={"Location": found.url})
