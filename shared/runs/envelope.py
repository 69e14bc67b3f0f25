"""The public shapes of a run: the envelope (the API's answers and webhook bodies) and the summary
that the Run * events carry.

Usage comes from the billed figures once recorded, else the cost so far by the same pricing code
(shared/billing/usage.py); stored evidence gets short-lived presigned URLs (the bucket is private).
"""

from __future__ import annotations

from typing import Any

from shared.billing.usage import envelope_usage, priced_steps
from shared.errors import NotFound
from shared.ids import is_id
from shared.models.run_record import RunRecord
from shared.models.runs import Run
from shared.services import Services


def run_summary(run: RunRecord) -> dict[str, Any]:
    """The detail of Run * events: ids and status, never inputs or results (they may hold secrets).
    Times as the record stores them."""
    times = run.model_dump(mode="json", include={"created_at", "finished_at"})
    return {
        "run_id": run.id,
        "org_id": run.org_id,
        "project_id": run.project_id,
        "job_id": run.job_id,
        "status": run.status.value,
        "model": run.model,
        "created_at": times["created_at"],
        "finished_at": times["finished_at"],
        "error_code": run.error_code,
        "metadata": run.metadata,
    }


def envelope(svc: Services, run: RunRecord) -> Run:
    """The run envelope of a run record, with its usage (no evidence URLs: see :func:`public_run`)."""
    pricing = svc.settings.pricing
    usage = envelope_usage(pricing, run, svc.clock.now())
    out = Run.model_validate({**run.model_dump(), "usage": usage, "steps": priced_steps(pricing, run)})
    out._live_view = run.live_view
    return out


def with_download_urls(svc: Services, run: Run, manifest_key: str, expires_s: int | None = None) -> Run:
    """The envelope with short-lived presigned GET URLs for the stored evidence.
    Presigning is local computation: no call to S3."""
    ttl = expires_s or svc.settings.evidence_url_ttl_s
    base = manifest_key.rsplit("/", 1)[0] + "/"
    store = svc.evidence_store
    evidence = [
        item.model_copy(update={"screenshot_url": store.presigned_url(base + item.path, ttl)}) if item.path else item
        for item in run.evidence or []
    ]
    return run.model_copy(
        update={"evidence": evidence, "evidence_manifest_url": store.presigned_url(manifest_key, ttl)}
    )


def public_run(svc: Services, record: RunRecord) -> Run:
    """The envelope of a run record, with evidence URLs once its evidence is ready."""
    run = envelope(svc, record)
    if record.evidence_status == "ready" and record.evidence_manifest_key:
        run = with_download_urls(svc, run, record.evidence_manifest_key)
        if run.files:
            run = _with_file_urls(svc, run, record)
    return run


def _with_file_urls(svc: Services, run: Run, record: RunRecord) -> Run:
    """Presigned GET URLs of the files the browser downloaded (stored beside the evidence)."""
    base = (record.evidence_manifest_key or "").rsplit("/", 1)[0] + "/"
    ttl = svc.settings.evidence_url_ttl_s
    paths = [f.get("path") for f in record.files or []]
    files = [
        f.model_copy(update={"download_url": svc.evidence_store.presigned_url(base + path, ttl)}) if path else f
        for f, path in zip(run.files or [], paths, strict=False)
    ]
    return run.model_copy(update={"files": files})


def get_run(svc: Services, org_id: str, run_id: str) -> Run:
    """The public envelope of one run; NotFound (``run_not_found``) if the org has no such run."""
    item = svc.runs.get(org_id, run_id) if is_id(run_id, "run") else None
    if item is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    return public_run(svc, item)
