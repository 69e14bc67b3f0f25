"""API keys: generated once and shown once, stored as SHA-256 hashes, looked up by hash.

Every request reads its key's record (one strongly consistent GetItem), so a revoked or expired key
answers 401 at once on every instance; only the org (its limits) is cached, for ``CACHE_TTL_S``.
A key's ``last_used_at`` is written at most once per ``TOUCH_INTERVAL_S``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.clock import Clock
from shared.db.orgs import OrgRepository
from shared.errors import Forbidden, Unauthorized
from shared.models.orgs import ApiKeyRecord, Org

KEY_PREFIXES = ("oh_live_", "oh_test_")
# An org is cached this long per Lambda instance: a change to its limits applies within this time.
CACHE_TTL_S = 30.0
TOUCH_INTERVAL_S = 60
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_api_key(live: bool) -> str:
    return ("oh_live_" if live else "oh_test_") + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def require_scope(record: ApiKeyRecord, method: str) -> None:
    """A read-only key may read; anything else needs the full scope (403 insufficient_scope)."""
    if "full" in record.scopes or method.upper() in READ_METHODS:
        return
    raise Forbidden(
        "this API key is read-only; use a key with the `full` scope for this request",
        code="insufficient_scope",
        details={"scopes": list(record.scopes), "needed": "full"},
    )


class Authenticator:
    def __init__(
        self, orgs: OrgRepository, monotonic: Callable[[], float] | None = None, clock: Clock | None = None
    ) -> None:
        self.orgs = orgs
        self._clock = clock or Clock()
        self._monotonic = monotonic or self._clock.monotonic
        self._orgs: dict[str, tuple[float, Org]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> tuple[ApiKeyRecord, Org]:
        """The key record and its org for an ``Authorization: Bearer oh_...`` header, or Unauthorized."""
        if not authorization:
            raise Unauthorized("missing API key: send 'Authorization: Bearer oh_...'", code="missing_api_key")
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIXES) or len(key) > 200:
            raise Unauthorized("malformed API key; expected 'Bearer oh_...'", code="invalid_api_key")
        digest = hash_key(key)
        record = self.orgs.get_api_key(digest, consistent=True)
        if record is None:
            raise Unauthorized("invalid API key", code="invalid_api_key")
        if record.revoked:
            raise Unauthorized("this API key was revoked", code="api_key_revoked")
        now = self._clock.now()
        if record.expires_at is not None and record.expires_at <= now:
            raise Unauthorized("this API key has expired", code="api_key_expired")
        org = self._org(record.org_id)
        self._touch(digest, record, now)
        return record, org

    def _org(self, org_id: str) -> Org:
        now = self._monotonic()
        with self._lock:
            hit = self._orgs.get(org_id)
        if hit and now - hit[0] < CACHE_TTL_S:
            return hit[1]
        org = self.orgs.get(org_id)
        if org is None:
            raise Unauthorized("the API key's org no longer exists", code="invalid_api_key")
        with self._lock:
            if len(self._orgs) > 10_000:
                self._orgs.clear()
            self._orgs[org_id] = (now, org)
        return org

    def _touch(self, digest: str, record: ApiKeyRecord, now: datetime) -> None:
        cutoff = now - timedelta(seconds=TOUCH_INTERVAL_S)
        if record.last_used_at is None or record.last_used_at < cutoff:
            self.orgs.touch_api_key(digest, now.isoformat(), cutoff.isoformat())
