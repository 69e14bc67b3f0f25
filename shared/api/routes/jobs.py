"""/v1/jobs: named task templates, and runs created from them."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import jobs
from shared.api.deps import caller, services
from shared.api.errors import CONFLICT, NOT_FOUND, PAYMENT, RATE_LIMITED, documented, no_content, ok
from shared.api.urls import accepted, base_url
from shared.models.jobs import CreateJobRequest, Job, JobList, UpdateJobRequest
from shared.models.runs import JobRunRequest, RunAccepted

router = APIGatewayHttpRouter()
JobId = Annotated[str, Path(description="Job id (job_...).")]


@router.post(
    "/v1/jobs",
    summary="Create a job",
    responses=documented(ok("Created.", Job, 201, location="The job (/v1/jobs/{id}).")),
    tags=["Jobs"],
)
def create_job(body: CreateJobRequest) -> Response[Job]:
    job = jobs.create_job(services(), caller().id, body)
    return Response(
        status_code=201, body=job, content_type="application/json", headers={"Location": f"/v1/jobs/{job.id}"}
    )


@router.get("/v1/jobs", summary="List jobs", responses=documented(ok("A page of jobs.")), tags=["Jobs"])
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> JobList:
    return jobs.list_jobs(services(), caller().id, limit, cursor)


@router.get("/v1/jobs/<job_id>", summary="Get a job", responses=documented(ok("The job."), NOT_FOUND), tags=["Jobs"])
def get_job(job_id: JobId) -> Job:
    return jobs.get_job(services(), caller().id, job_id)


@router.patch(
    "/v1/jobs/<job_id>",
    summary="Update a job",
    description="Only the fields given change; null clears an optional field.",
    responses=documented(ok("The updated job."), NOT_FOUND, CONFLICT),
    tags=["Jobs"],
)
def update_job(job_id: JobId, body: UpdateJobRequest) -> Job:
    return jobs.update_job(services(), caller().id, job_id, body)


@router.delete(
    "/v1/jobs/<job_id>",
    summary="Delete a job",
    description="Runs created from the job keep their job_id.",
    responses=documented(no_content("Deleted."), NOT_FOUND),
    tags=["Jobs"],
)
def delete_job(job_id: JobId) -> Response[None]:
    jobs.delete_job(services(), caller().id, job_id)
    return Response(status_code=204)


@router.post(
    "/v1/jobs/<job_id>/runs",
    summary="Run a job",
    description="Creates a run from the job: the job's prompt and defaults, with the given inputs and overrides.",
    responses=documented(
        ok("Accepted; poll `poll_url`.", RunAccepted, 202, location="The run (/v1/runs/{id})."),
        NOT_FOUND,
        CONFLICT,
        RATE_LIMITED,
        PAYMENT,
    ),
    tags=["Jobs"],
)
def run_job(
    job_id: JobId,
    body: JobRunRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key", min_length=1, max_length=255)] = None,
) -> Response[RunAccepted]:
    svc = services()
    created = jobs.run_job(svc, caller(), job_id, body, idempotency_key, base_url(svc))
    return accepted(svc, created.run, replayed=created.replayed, rate=created.rate)
