"""Per-run tokens: the sandbox's only credential.

``ohrt_<run_id>.<org_id>.<expiry>.<mac>`` where mac = HMAC-SHA256(secret, "run_id.org_id.expiry"),
base64url. Good for that run's callback, progress and LLM gateway calls until expiry and nothing
else; verifying needs no lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from shared.errors import Unauthorized

PREFIX = "ohrt_"


@dataclass(frozen=True)
class RunClaims:
    run_id: str
    org_id: str
    expires_at: int


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def mint(secret: bytes, run_id: str, org_id: str, expires_at: int) -> str:
    body = f"{run_id}.{org_id}.{expires_at}"
    return f"{PREFIX}{body}.{_mac(secret, body)}"


def verify(secret: bytes, token: str | None, now_s: int, run_id: str | None = None) -> RunClaims:
    """Claims of a valid token, else Unauthorized. With ``run_id``, the token must be that run's."""
    if not token or not token.startswith(PREFIX):
        raise Unauthorized("missing or malformed run token", code="invalid_run_token")
    parts = token[len(PREFIX) :].split(".")
    if len(parts) != 4 or not parts[2].isdigit():
        raise Unauthorized("malformed run token", code="invalid_run_token")
    rid, oid, exp, mac = parts
    if not hmac.compare_digest(mac, _mac(secret, f"{rid}.{oid}.{exp}")):
        raise Unauthorized("invalid run token", code="invalid_run_token")
    if int(exp) < now_s:
        raise Unauthorized("run token expired", code="run_token_expired")
    if run_id is not None and rid != run_id:
        raise Unauthorized("the token is not for this run", code="invalid_run_token")
    return RunClaims(run_id=rid, org_id=oid, expires_at=int(exp))


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
