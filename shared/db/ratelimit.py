"""Per-org token bucket kept in DynamoDB, so every API Lambda instance shares one bucket.

Read the bucket, refill it for the elapsed time, take one token with a conditional write on the
version read (optimistic concurrency); retry a few times when another instance won the race.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.db import keys
from shared.db.dynamo import ConditionalCheckFailed, Table

_ATTEMPTS = 5


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after_s: int


class RateLimiter:
    def __init__(self, table: Table) -> None:
        self.table = table

    def take(self, org_id: str, *, per_minute: int, burst: int, now_ms: int) -> RateDecision:
        rate_per_ms = per_minute / 60_000
        pk = keys.org_pk(org_id)
        for _ in range(_ATTEMPTS):
            item = self.table.get(pk, keys.RATE_LIMIT_SK, consistent=True)
            if item is None:
                tokens, version = float(burst), 0
                last_ms = now_ms
            else:
                tokens, version, last_ms = float(item["tokens"]), int(item["version"]), int(item["ts"])
            tokens = min(float(burst), tokens + max(0, now_ms - last_ms) * rate_per_ms)
            if tokens < 1:
                wait_s = math.ceil((1 - tokens) / rate_per_ms / 1000)
                return RateDecision(False, 0, max(1, wait_s))
            new_item = {
                "pk": pk,
                "sk": keys.RATE_LIMIT_SK,
                "type": "ratelimit",
                "tokens": round(tokens - 1, 6),
                "ts": now_ms,
                "version": version + 1,
                # An idle bucket is full again after burst/rate; let TTL clean it up a day later.
                "expires_at": now_ms // 1000 + 86_400,
            }
            try:
                if item is None:
                    self.table.put(new_item, condition="attribute_not_exists(pk)")
                else:
                    self.table.put(new_item, condition="version = :v", values={":v": version})
            except ConditionalCheckFailed:
                continue
            return RateDecision(True, math.floor(tokens - 1), 0)
        # Heavy contention on one org's bucket: treat as limited rather than spin.
        return RateDecision(False, 0, 1)
