"""Verifying OpenHelm's webhooks (Standard Webhooks: https://www.standardwebhooks.com).

    from openhelm_sdk.webhooks import verify, WebhookVerificationError

    event = verify(request.body, request.headers, secret="whsec_...")   # the parsed JSON payload

Stdlib only, rather than the ``standardwebhooks`` package: that one brings an HTTP API client with
its own dependencies (attrs, python-dateutil, Deprecated) for what is one HMAC. The SDK's tests
check this against the API's own signer and against ``standardwebhooks``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


class WebhookVerificationError(Exception):
    """The delivery is not from OpenHelm (bad or missing signature) or is too old or too new."""


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Iterable[str],
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> Any:
    """Check a delivery's ``webhook-signature`` and ``webhook-timestamp`` and return the parsed body.

    ``payload`` is the raw request body, exactly as received. ``secret`` may be several (during a
    rotation, both the new and the old one). Raises ``WebhookVerificationError``."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = lower.get("webhook-id"), lower.get("webhook-timestamp"), lower.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance (replayed or clock skew)")
    body = payload if isinstance(payload, bytes) else payload.encode()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    offered = [s.split(",", 1)[1] for s in signatures.split() if s.startswith("v1,")]
    for key in _keys(secret):
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, sig) for sig in offered):
            try:
                return json.loads(body)
            except ValueError:
                raise WebhookVerificationError("the signed payload is not JSON") from None
    raise WebhookVerificationError("no matching signature")


def sign(payload: bytes | str, secret: str, msg_id: str, timestamp: int) -> str:
    """A ``v1,<base64>`` signature, for a receiver's own tests."""
    body = payload if isinstance(payload, bytes) else payload.encode()
    key = next(iter(_keys(secret)))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _keys(secret: str | Iterable[str]) -> list[bytes]:
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("no webhook secret given")
    keys = []
    for value in secrets:
        raw = value.removeprefix(PREFIX)
        try:
            keys.append(base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True))
        except ValueError:
            raise ValueError("a webhook secret is whsec_ followed by base64") from None
    return keys
