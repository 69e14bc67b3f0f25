"""API keys: generated once and shown once, stored as SHA-256 hashes, looked up by hash."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

from shared.db.orgs import OrgRepository
from shared.errors import Unauthorized
from shared.models.orgs import ApiKeyRecord, Org

KEY_PREFIXES = ("oh_live_", "oh_test_")
# A key lookup (and its org) is cached this long per Lambda instance: a revoked key stops working,
# and a change to the org's limits applies, within this many seconds.
CACHE_TTL_S = 30.0


def new_api_key(live: bool) -> str:
    return ("oh_live_" if live else "oh_test_") + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Authenticator:
    def __init__(self, orgs: OrgRepository, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.orgs = orgs
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, ApiKeyRecord, Org]] = {}
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
        now = self._monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and now - hit[0] < CACHE_TTL_S:
            return hit[1], hit[2]
        record = self.orgs.get_api_key(digest)
        if record is None or record.revoked:
            raise Unauthorized("invalid API key", code="invalid_api_key")
        org = self.orgs.get(record.org_id)
        if org is None:
            raise Unauthorized("the API key's org no longer exists", code="invalid_api_key")
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, record, org)
        return record, org
