"""Jobs: named task templates. A job run merges the job's stored defaults with the call's overrides."""

from __future__ import annotations

from pydantic import ValidationError

from shared.errors import NotFound, Unprocessable
from shared.ids import is_id
from shared.models.jobs import CreateJobRequest, Job, JobList, UpdateJobRequest
from shared.models.orgs import Org
from shared.models.runs import CreateRunRequest, JobRunRequest
from shared.runs.service import CreatedRun, create_run
from shared.schemas import check_output_schema
from shared.services import Services
from shared.templating import placeholders
from shared.webhooks.ssrf import check_webhook_url

_RUN_DEFAULTS = (
    "output_schema",
    "model",
    "project_id",
    "webhook_url",
    "start_url",
    "allowed_domains",
    "blocked_domains",
    "max_duration_s",
    "max_steps",
    "max_input_tokens",
    "max_output_tokens",
    "max_cost_usd",
    "metadata",
    "human_input",
    "input_timeout_s",
    "tools",
    "tool_timeout_s",
)


def _check(svc: Services, org_id: str, job: Job) -> None:
    if job.output_schema is not None:
        check_output_schema(job.output_schema)
    if job.project_id and (not is_id(job.project_id, "prj") or svc.projects.get(org_id, job.project_id) is None):
        raise Unprocessable(f"no project {job.project_id}", code="project_not_found")
    if job.webhook_url is not None:
        # Refused now, not on every run made from the job; deliveries resolve and check again.
        check_webhook_url(job.webhook_url, svc.settings)


def create_job(svc: Services, org_id: str, req: CreateJobRequest) -> Job:
    now = svc.clock.now()
    data = req.model_dump(mode="json")
    job = Job(id=svc.ids.new("job"), placeholders=placeholders(req.prompt), created_at=now, updated_at=now, **data)
    _check(svc, org_id, job)
    svc.jobs.create(org_id, job)
    return job


def get_job(svc: Services, org_id: str, job_id: str) -> Job:
    job = svc.jobs.get(org_id, job_id) if is_id(job_id, "job") else None
    if job is None:
        raise NotFound(f"no job {job_id}", code="job_not_found")
    return job


def list_jobs(svc: Services, org_id: str, limit: int, cursor: str | None) -> JobList:
    items, next_cursor = svc.jobs.list(org_id, limit, cursor)
    return JobList(data=items, next_cursor=next_cursor)


def update_job(svc: Services, org_id: str, job_id: str, req: UpdateJobRequest) -> Job:
    current = get_job(svc, org_id, job_id)
    changes = req.model_dump(mode="json", include=req.model_fields_set)
    for required in ("name", "prompt"):
        if required in changes and changes[required] is None:
            raise Unprocessable(
                f"{required} cannot be cleared", code="validation_failed", details=[{"loc": [required]}]
            )
    merged = {**current.model_dump(mode="json"), **changes}
    merged["placeholders"] = placeholders(merged["prompt"])
    merged["updated_at"] = svc.clock.now().isoformat()
    job = Job.model_validate(merged)
    _check(svc, org_id, job)
    svc.jobs.replace(org_id, job, expected_updated_at=current.model_dump(mode="json")["updated_at"])
    return job


def delete_job(svc: Services, org_id: str, job_id: str) -> None:
    if not is_id(job_id, "job") or not svc.jobs.delete(org_id, job_id):
        raise NotFound(f"no job {job_id}", code="job_not_found")


def run_job(
    svc: Services, org: Org, job_id: str, req: JobRunRequest, idempotency_key: str | None, control_url: str = ""
) -> CreatedRun:
    job = get_job(svc, org.id, job_id)
    # Python mode keeps the parsed URLs: their canonical text can be longer than the input was.
    given = req.model_dump(exclude_none=True)
    fields = {name: getattr(job, name) for name in _RUN_DEFAULTS if getattr(job, name) is not None}
    fields.update({k: v for k, v in given.items() if k != "inputs"})
    inputs = {**(job.default_inputs or {}), **(req.inputs or {})}
    try:
        run_req = CreateRunRequest(prompt=job.prompt, job_id=job.id, inputs=inputs or None, **fields)
    except ValidationError as exc:
        # The merge is validated again; a value valid as given can fail in its normalised form (a URL
        # whose canonical spelling is longer than the limit): a 422 that says where, never a 500.
        details = [{"loc": list(map(str, e["loc"])), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise Unprocessable(f"{details[0]['loc'][0]}: {details[0]['msg']}", details=details) from exc
    return create_run(svc, org, run_req, idempotency_key, control_url=control_url)
