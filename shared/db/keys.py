"""Key layout of the single table (see docs/data-model.md). One place, so patterns stay consistent."""

from __future__ import annotations


def org_pk(org_id: str) -> str:
    return f"org#{org_id}"


ORG_SK = "org"


def apikey_pk(key_hash: str) -> str:
    return f"apikey#{key_hash}"


APIKEY_SK = "apikey"


def project_sk(project_id: str) -> str:
    return f"project#{project_id}"


def job_sk(job_id: str) -> str:
    return f"job#{job_id}"


def run_sk(run_id: str) -> str:
    return f"run#{run_id}"


def runs_by_project_pk(org_id: str, project_id: str) -> str:
    return f"org#{org_id}#project#{project_id}"


def runs_by_job_pk(org_id: str, job_id: str) -> str:
    return f"org#{org_id}#job#{job_id}"


def idempotency_sk(key_hash: str) -> str:
    return f"idem#{key_hash}"


RATE_LIMIT_SK = "ratelimit#runs"

ACTIVE_SK = "active"
RUNNING_PK = "running"


def running_sk(deadline_iso: str, run_id: str) -> str:
    return f"{deadline_iso}#{run_id}"
