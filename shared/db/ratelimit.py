"""Per-org token bucket kept in DynamoDB, shared by every API Lambda instance.

Implemented as GCRA, the token bucket's exact equivalent: the bucket item holds one number, the
theoretical arrival time ``tat`` (microseconds). A request at ``now`` is allowed if
``tat - now <= (burst - 1) * interval``; allowing it moves ``tat`` to ``max(tat, now) + interval``.
Both branches of the max are single conditional UpdateItems (no read first, no lost updates under
contention): ``ADD tat :interval`` when the bucket is in use, ``SET tat = :now + interval`` when
it has refilled. A request that satisfies neither condition is over the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.db import keys
from shared.db.dynamo import ConditionalCheckFailed, Table

_ATTEMPTS = 4  # both conditions can fail only while `tat` crosses `now` between two writes


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after_s: int
    limit: int = 0  # the bucket size (burst)
    window_s: int = 0  # seconds an empty bucket takes to fill
    reset_s: int = 0  # seconds until the bucket is full again


class RateLimiter:
    def __init__(self, table: Table) -> None:
        self.table = table

    def take(self, org_id: str, *, per_minute: int, burst: int, now_ms: int) -> RateDecision:
        interval = 60_000_000 // per_minute  # microseconds per token
        now = now_ms * 1000
        window_s = math.ceil(burst * interval / 1_000_000)

        def decision(allowed: bool, remaining: int, retry_after_s: int, tat: int) -> RateDecision:
            reset_s = max(0, math.ceil((tat - now) / 1_000_000))
            return RateDecision(allowed, remaining, retry_after_s, burst, window_s, reset_s)

        ceiling = now + (burst - 1) * interval  # the latest `tat` that still allows a request
        pk = keys.org_pk(org_id)
        for _ in range(_ATTEMPTS):
            try:  # bucket in use: spend one token
                item = self.table.update(
                    pk,
                    keys.RATE_LIMIT_SK,
                    update="ADD tat :i SET expires_at = :exp",
                    condition="tat >= :now AND tat <= :ceiling",
                    values={":i": interval, ":now": now, ":ceiling": ceiling, ":exp": now_ms // 1000 + 86_400},
                )
                tat = int(item["tat"])
                return decision(True, max(0, (ceiling - tat) // interval + 1), 0, tat)
            except ConditionalCheckFailed:
                pass
            try:  # bucket idle long enough to be full again (or new)
                self.table.update(
                    pk,
                    keys.RATE_LIMIT_SK,
                    update="SET tat = :next, #t = :type, expires_at = :exp",
                    condition="attribute_not_exists(tat) OR tat < :now",
                    names={"#t": "type"},
                    values={
                        ":next": now + interval,
                        ":now": now,
                        ":type": "ratelimit",
                        ":exp": now_ms // 1000 + 86_400,
                    },
                )
                return decision(True, burst - 1, 0, now + interval)
            except ConditionalCheckFailed:
                pass
            item = self.table.get(pk, keys.RATE_LIMIT_SK, consistent=True)
            if item is not None and int(item["tat"]) > ceiling:
                wait_us = int(item["tat"]) - ceiling
                return decision(False, 0, max(1, math.ceil(wait_us / 1_000_000)), int(item["tat"]))
        return decision(False, 0, 1, now + interval)
