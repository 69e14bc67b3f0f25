"""Browser profiles: create, read, exchange as ``storage_state``, load into runs, save back.

The state (cookies are credentials) lives only in the profiles bucket, encrypted with the stack's
KMS key (SSE-KMS), never in DynamoDB items or logs; the API hands out only short-lived presigned
links. A run with ``persist_profile`` holds the profile's single-writer lease from its creation
(a conditional write: a second writer meanwhile gets 409 ``profile_in_use``; readers share freely)
until its end: on a graceful end (:func:`graceful_end`: succeeded, or failed by the agent's own
decision) the evidence function saves the browser's final state under that lease and releases it in
the same write; on any other end it only releases it. The lease also runs
out at the run's latest possible end, so a lost release cannot lock a profile for ever.

A session (shared/sessions/profile.py) takes the lease with its own id as the holder, loads the
state into its browser at start and saves it back at a graceful close.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from shared.errors import Conflict, NotFound, PayloadTooLarge, Unprocessable
from shared.ids import is_id
from shared.logging import get_logger
from shared.models.common import RunStatus
from shared.models.profiles import (
    MAX_PROFILE_BYTES,
    CreateProfileRequest,
    Profile,
    ProfileDownload,
    ProfileList,
    StorageState,
)
from shared.models.run_record import RunRecord
from shared.services import Services

log = get_logger(__name__)
# How long past a run's own deadline its lease holds (evidence runs after the run ends).
LEASE_GRACE_S = 3600


def state_key(org_id: str, profile_id: str) -> str:
    return f"profiles/{org_id}/{profile_id}.json"


def _public(item: dict[str, Any]) -> Profile:
    return Profile.model_validate({**item, "locked_by_run": item.get("lease_holder")})


def _load(svc: Services, org_id: str, profile_id: str) -> dict[str, Any]:
    item = svc.profiles.get(org_id, profile_id) if is_id(profile_id, "prof") else None
    if item is None:
        raise NotFound(f"no profile {profile_id}", code="profile_not_found")
    return item


def create_profile(svc: Services, org_id: str, req: CreateProfileRequest) -> Profile:
    item = {
        "id": svc.ids.new("prof"),
        "name": req.name,
        "cookie_domains": [],
        "size": 0,
        "created_at": svc.clock.now().isoformat(),
    }
    svc.profiles.put(org_id, item)
    return _public(item)


def get_profile(svc: Services, org_id: str, profile_id: str) -> Profile:
    return _public(_load(svc, org_id, profile_id))


def list_profiles(svc: Services, org_id: str, limit: int, cursor: str | None) -> ProfileList:
    items, next_cursor = svc.profiles.list(org_id, limit, cursor)
    return ProfileList(data=[_public(i) for i in items], next_cursor=next_cursor)


def delete_profile(svc: Services, org_id: str, profile_id: str) -> None:
    item = _load(svc, org_id, profile_id)
    if item.get("lease_holder") and int(item.get("lease_until", 0)) >= svc.clock.now_ms() // 1000:
        raise Conflict(f"run {item['lease_holder']} is writing this profile", code="profile_in_use")
    svc.profile_store.delete(state_key(org_id, profile_id))
    svc.profiles.delete(org_id, profile_id)


def parse_state(raw: bytes) -> StorageState:
    """A storage_state document, validated (422 with ``details[].loc`` otherwise)."""
    if len(raw) > MAX_PROFILE_BYTES:
        raise PayloadTooLarge(f"a profile's storage_state may have at most {MAX_PROFILE_BYTES} bytes")
    try:
        return StorageState.model_validate_json(raw)
    except ValidationError as exc:
        details = [{"loc": list(map(str, e["loc"])), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        first = details[0]
        raise Unprocessable(
            f"not a Playwright storage_state: {'.'.join(first['loc']) or 'body'}: {first['msg']}",
            code="invalid_storage_state",
            details=details,
        ) from exc


def _summary(svc: Services, state: StorageState, data: bytes) -> dict[str, Any]:
    domains = sorted({c.domain.lstrip(".").lower() for c in state.cookies})
    return {"size": len(data), "cookie_domains": domains, "updated_at": svc.clock.now().isoformat()}


def upload_state(svc: Services, org_id: str, profile_id: str, raw: bytes) -> Profile:
    """Replace the profile's state with a storage_state JSON (refused while a run writes it)."""
    item = _load(svc, org_id, profile_id)
    state = parse_state(raw)
    if item.get("lease_holder") and int(item.get("lease_until", 0)) >= svc.clock.now_ms() // 1000:
        raise Conflict(f"run {item['lease_holder']} is writing this profile", code="profile_in_use")
    data = state.model_dump_json(exclude_unset=False).encode()
    svc.profile_store.put(state_key(org_id, profile_id), data, "application/json")
    fields = _summary(svc, state, data)
    svc.profiles.saved(org_id, profile_id, fields)
    return _public({**item, **fields})


def download_link(svc: Services, org_id: str, profile_id: str) -> ProfileDownload:
    item = _load(svc, org_id, profile_id)
    if not item.get("size"):
        raise Conflict(f"profile {profile_id} has no state yet", code="profile_empty")
    ttl = min(300, svc.settings.evidence_url_ttl_s)
    url = svc.profile_store.presigned_url(state_key(org_id, profile_id), ttl, f"{profile_id}.json")
    return ProfileDownload(url=url, expires_at=svc.clock.now() + timedelta(seconds=ttl))


def claim_for_run(svc: Services, org_id: str, profile_id: str, holder: str, persist: bool, deadline_s: int) -> None:
    """Check a run may use the profile (422 if the org has none such); with ``persist``, take its
    write lease for ``holder`` until ``deadline_s`` (+ grace), 409 ``profile_in_use`` if taken."""
    item = svc.profiles.get(org_id, profile_id) if is_id(profile_id, "prof") else None
    if item is None:
        raise Unprocessable(f"no profile {profile_id}", code="profile_not_found", details=[{"loc": ["profile_id"]}])
    if persist:
        now_s = svc.clock.now_ms() // 1000
        if not svc.profiles.acquire(org_id, profile_id, holder, now_s, deadline_s + LEASE_GRACE_S):
            raise Conflict(
                f"profile {profile_id} is being written by run {item.get('lease_holder')}; "
                "use it without persist_profile, or retry when that run has ended",
                code="profile_in_use",
            )


def load_state(svc: Services, org_id: str, run: RunRecord) -> dict[str, Any] | None:
    """The storage_state a run starts with (None: no profile, or an empty one); marks it used."""
    return load_profile_state(svc, org_id, run.profile_id) if run.profile_id else None


def load_profile_state(svc: Services, org_id: str, profile_id: str) -> dict[str, Any] | None:
    """The profile's storage_state (None: no such profile, or an empty one); marks it used."""
    item = svc.profiles.get(org_id, profile_id)
    if item is None:
        return None
    svc.profiles.saved(org_id, profile_id, {"last_used_at": svc.clock.now().isoformat()})
    if not item.get("size"):
        return None
    return json.loads(svc.profile_store.get(state_key(org_id, profile_id)))  # type: ignore[no-any-return]


def graceful_end(run: RunRecord) -> bool:
    """Whether the run ended gracefully: the agent ended it itself and handed in its result
    (succeeded, or failed by its own limits, the model or its schema), not a crash, a cancel, or a
    sandbox the control plane had to end. Only then is a persisted profile saved back."""
    if run.status == RunStatus.succeeded:
        return True
    return run.status == RunStatus.failed and run.error_code not in UNGRACEFUL_CODES


# Ends that leave the browser's state in doubt (a crash, a killed or never-started sandbox, a stop).
UNGRACEFUL_CODES = frozenset(
    {"AGENT_CRASHED", "SANDBOX_DIED", "SANDBOX_START_FAILED", "CANCELLED", "ORCHESTRATION_UNAVAILABLE"}
)


def save_after_run(svc: Services, run: RunRecord, raw: bytes | None) -> str:
    """After a run ended: save its browser's final state (``raw``, None if it left none) when it
    ended gracefully (:func:`graceful_end`) and holds the lease, and release the lease in any case.
    What happened, for the log."""
    if not run.profile_id or not run.persist_profile:
        return "no profile to persist"
    return save_state(svc, run.org_id, run.profile_id, run.id, raw if graceful_end(run) else None)


def save_state(svc: Services, org_id: str, profile_id: str, holder: str, raw: bytes | None) -> str:
    """Save ``raw`` (a storage_state; None: nothing to save) into the profile under ``holder``'s
    lease (a run's or a session's id), releasing the lease in the same write; only release it when
    there is nothing to save. What happened, for the log."""
    if raw is None:
        released = svc.profiles.release(org_id, profile_id, holder)
        return "released without saving" if released else "lease not held"
    try:
        state = parse_state(raw)
    except (Unprocessable, PayloadTooLarge) as exc:
        svc.profiles.release(org_id, profile_id, holder)
        return f"state not saved: {exc.message[:200]}"
    data = state.model_dump_json().encode()
    item = svc.profiles.get(org_id, profile_id)
    if item is None or item.get("lease_holder") != holder:
        return "lease not held: state not saved"
    svc.profile_store.put(state_key(org_id, profile_id), data, "application/json")
    saved = svc.profiles.saved(org_id, profile_id, _summary(svc, state, data), holder=holder)
    return "saved" if saved else "lease lost: state not recorded"
