"""The IETF rate-limit header fields (draft-ietf-httpapi-ratelimit-headers-10) of the per-org run
creation bucket, in one place: every answer of a rate-limited request carries them, the 429 also
``Retry-After``; a 503 carries ``Retry-After`` (and the fields, with nothing left until then).

``RateLimit-Policy: "runs";q=<bucket size>;w=<seconds to fill it>`` and
``RateLimit: "runs";r=<requests left now>;t=<seconds until the bucket is full again>``.
"""

from __future__ import annotations

from shared.db.ratelimit import RateDecision
from shared.models.orgs import OrgLimits

POLICY = "runs"
# Seconds a client is asked to wait after a 503 (a dependency failed; a quick retry usually works).
UNAVAILABLE_RETRY_S = 2


def policy_header(limit: int, window_s: int) -> str:
    return f'"{POLICY}";q={limit};w={window_s}'


def decision_headers(decision: RateDecision) -> dict[str, str]:
    headers = {
        "RateLimit-Policy": policy_header(decision.limit, decision.window_s),
        "RateLimit": f'"{POLICY}";r={decision.remaining};t={decision.reset_s}',
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after_s)
    return headers


def unavailable_headers(limits: OrgLimits | None, retry_after_s: int = UNAVAILABLE_RETRY_S) -> dict[str, str]:
    """A 503's: wait ``retry_after_s``; with the caller's policy when the caller is known."""
    headers = {"Retry-After": str(retry_after_s)}
    if limits is not None:
        window = -(-limits.rate_burst * 60 // limits.rate_per_minute)
        headers["RateLimit-Policy"] = policy_header(limits.rate_burst, window)
        headers["RateLimit"] = f'"{POLICY}";r=0;t={retry_after_s}'
    return headers
