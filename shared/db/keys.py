"""Key layout of the single table (see docs/data-model.md). One place, so patterns stay consistent."""

from __future__ import annotations


def org_pk(org_id: str) -> str:
    return f"org#{org_id}"


ORG_SK = "org"


def apikey_pk(key_hash: str) -> str:
    return f"apikey#{key_hash}"


APIKEY_SK = "apikey"
# An org's keys are listed through gsi1 under this partition; the count of its live keys sits in
# the org's partition, moved in the same transaction as a key's creation or revocation.
KEYCOUNT_SK = "keycount"


def org_keys_pk(org_id: str) -> str:
    return f"org#{org_id}#keys"


def org_key_sk(key_id: str) -> str:
    return f"key#{key_id}"


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


# Webhooks (all under the org's partition).
WEBHOOK_SECRET_SK = "webhooksecret"
WEBHOOK_COUNT_SK = "webhookcount"


def webhook_sk(endpoint_id: str) -> str:
    return f"webhook#{endpoint_id}"


def delivery_state_sk(run_id: str, event_type: str) -> str:
    return f"dlvstate#{run_id}#{event_type}"


def delivery_log_prefix(run_id: str) -> str:
    return f"dlv#{run_id}#"


def delivery_log_sk(run_id: str, attempt_id: str) -> str:
    return f"{delivery_log_prefix(run_id)}{attempt_id}"


# Billing: the org's balance, its ledger (every change of money) and one usage record per finished run. Usage sort keys
# start with the run's finished time (UTC, millisecond precision), so a time window is a key range.
BALANCE_SK = "balance"
USAGE_PREFIX = "usage#"
LEDGER_PREFIX = "ledger#"


def usage_sk(finished_key: str, run_id: str) -> str:
    return f"{USAGE_PREFIX}{finished_key}#{run_id}"


def ledger_sk(time_key: str, entry_id: str) -> str:
    return f"{LEDGER_PREFIX}{time_key}#{entry_id}"


def file_sk(file_id: str) -> str:
    return f"file#{file_id}"


FILE_COUNT_SK = "file_count"


def profile_sk(profile_id: str) -> str:
    return f"profile#{profile_id}"


# Sessions (docs/sessions.md): the record in the org's partition; the org's count of live sessions
# (moved in the same transaction as a session's creation and its close); the live ones listed for
# the reaper under gsi4 (sparse: the keys are removed when the session closes).
ACTIVE_SESSIONS_SK = "active#sessions"
LIVE_SESSIONS_PK = "sessions#live"


def session_sk(session_id: str) -> str:
    return f"session#{session_id}"


def live_session_sk(expires_iso: str, session_id: str) -> str:
    return f"{expires_iso}#{session_id}"
