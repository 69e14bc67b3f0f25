"""The org's signing secret: created lazily, rotated with an overlap.

One item per org. The first reader creates it with a conditional put, so concurrent first readers
agree on one secret. Rotation is a conditional update on the version it read: two concurrent
rotations both take effect, one after the other, and none is lost.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from shared.db.dynamo import ConditionalCheckFailed
from shared.errors import Conflict
from shared.models.webhooks import WebhookSecret
from shared.services import Services
from shared.webhooks.signing import new_secret

_ROTATE_TRIES = 5


def _record(svc: Services, org_id: str) -> dict[str, Any]:
    record = svc.webhooks.get_secret(org_id)
    if record is not None:
        return record
    with contextlib.suppress(ConditionalCheckFailed):  # a concurrent first reader created it: read theirs
        svc.webhooks.create_secret(org_id, new_secret(), svc.clock.now().isoformat())
    record = svc.webhooks.get_secret(org_id)
    if record is None:  # pragma: no cover - the put or the concurrent put succeeded
        raise RuntimeError("webhook secret vanished after creation")
    return record


def _previous_valid_until(record: dict[str, Any], now: datetime) -> datetime | None:
    if not record.get("previous") or not record.get("previous_expires_at"):
        return None
    until = datetime.fromisoformat(record["previous_expires_at"])
    return until if until > now else None


def _model(record: dict[str, Any], now: datetime) -> WebhookSecret:
    return WebhookSecret(secret=record["current"], previous_expires_at=_previous_valid_until(record, now))


def get_secret(svc: Services, org_id: str) -> WebhookSecret:
    return _model(_record(svc, org_id), svc.clock.now())


def rotate_secret(svc: Services, org_id: str) -> WebhookSecret:
    """Make a new current secret; the old one keeps signing until ``previous_expires_at``."""
    for _ in range(_ROTATE_TRIES):
        record = _record(svc, org_id)
        now = svc.clock.now()
        try:
            updated = svc.webhooks.rotate_secret(
                org_id,
                expected_version=record["version"],
                new=new_secret(),
                previous=record["current"],
                previous_expires_at=(now + timedelta(seconds=svc.settings.webhook_secret_overlap_s)).isoformat(),
                now=now.isoformat(),
            )
        except ConditionalCheckFailed:
            continue  # rotated concurrently: rotate again from the newer secret
        return _model(updated, now)
    raise Conflict("the webhook secret is being rotated concurrently; try again", code="webhook_secret_busy")


def signing_secrets(svc: Services, org_id: str) -> list[str]:
    """The secrets a delivery is signed with now: the current one, then the previous while valid."""
    record = _record(svc, org_id)
    secrets = [record["current"]]
    if _previous_valid_until(record, svc.clock.now()) is not None:
        secrets.append(record["previous"])
    return secrets
