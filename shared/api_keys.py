"""API key management: make (shown once), list, revoke. Used by /v1/keys and by ``openhelm admin``."""

from __future__ import annotations

from datetime import datetime

from shared.auth import hash_key, new_api_key
from shared.db.dynamo import ConditionalCheckFailed
from shared.db.orgs import LastKey, TooManyKeys
from shared.errors import Conflict, NotFound, Unprocessable
from shared.ids import is_id
from shared.logging import get_logger
from shared.models.keys import ApiKey, ApiKeyCreated, ApiKeyList
from shared.models.orgs import ApiKeyRecord, Scope
from shared.services import Services

log = get_logger(__name__)
MAX_LIVE_KEYS = 100


def _public(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        id=record.key_id,
        name=record.name,
        prefix=record.prefix,
        scopes=record.scopes,
        created_at=record.created_at,
        expires_at=record.expires_at,
        last_used_at=record.last_used_at,
        revoked=record.revoked,
        revoked_at=record.revoked_at,
    )


def create_key(
    svc: Services,
    org_id: str,
    *,
    name: str,
    scopes: list[Scope] | None = None,
    expires_at: datetime | None = None,
) -> ApiKeyCreated:
    """A new key of the org; the key itself is in this answer only (stored as its SHA-256)."""
    now = svc.clock.now()
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        raise Unprocessable(
            "expires_at must be a future instant with a time zone",
            code="validation_failed",
            details=[
                {
                    "loc": ["body", "expires_at"],
                    "msg": "must be in the future, with a zone",
                    "type": "expires_at_invalid",
                }
            ],
        )
    key = new_api_key(live=svc.settings.is_production)
    record = ApiKeyRecord(
        key_id=svc.ids.new("key"),
        org_id=org_id,
        prefix=key[:12],
        created_at=now,
        name=name,
        scopes=sorted(set(scopes or ["full"])),
        expires_at=expires_at,
    )
    _ensure_counted(svc, org_id)
    try:
        svc.orgs.put_api_key(hash_key(key), record, max_live=MAX_LIVE_KEYS)
    except TooManyKeys as exc:
        raise Conflict(f"the org has {MAX_LIVE_KEYS} live keys; revoke one first", code="too_many_keys") from exc
    log.info("api_key_created", org_id=org_id, key_id=record.key_id, scopes=record.scopes)
    return ApiKeyCreated(key=key, **_public(record).model_dump())


def _ensure_counted(svc: Services, org_id: str) -> None:
    if svc.orgs.key_count(org_id) is None:
        live = sum(1 for _, r in svc.orgs.list_api_keys(org_id) if not r.revoked)
        svc.orgs.init_key_count(org_id, live)


def list_keys(svc: Services, org_id: str) -> ApiKeyList:
    return ApiKeyList(data=[_public(r) for _, r in svc.orgs.list_api_keys(org_id)])


def revoke_key(svc: Services, org_id: str, key_id: str, *, force: bool = False) -> ApiKey:
    """Revoke at once: the next request with the key answers 401. The org's last live (unrevoked,
    unexpired) key is kept unless ``force`` (operators only): 409 ``last_key``."""
    found = [(h, r) for h, r in svc.orgs.list_api_keys(org_id) if r.key_id == key_id] if is_id(key_id, "key") else []
    if not found:
        raise NotFound(f"no API key {key_id}", code="api_key_not_found")
    key_hash, record = found[0]
    if record.revoked:
        return _public(record)
    now = svc.clock.now()
    others = [
        r
        for _, r in svc.orgs.list_api_keys(org_id)
        if r.key_id != key_id and not r.revoked and (r.expires_at is None or r.expires_at > now)
    ]
    if not others and not force:
        raise _last_key(key_id)
    _ensure_counted(svc, org_id)
    try:
        svc.orgs.revoke_api_key(key_hash, org_id, now.isoformat(), force=force)
    except LastKey as exc:
        raise _last_key(key_id) from exc
    except ConditionalCheckFailed:
        pass  # revoked meanwhile by a concurrent call
    log.info("api_key_revoked", org_id=org_id, key_id=key_id, forced=force)
    updated = svc.orgs.get_api_key(key_hash, consistent=True)
    return _public(updated or record)


def _last_key(key_id: str) -> Conflict:
    return Conflict(
        f"{key_id} is the org's last live API key; create another key before revoking this one",
        code="last_key",
    )
