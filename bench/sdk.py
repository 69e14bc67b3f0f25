"""What the Python SDK adds over raw httpx: the same requests through the local gateway, interleaved
(raw, SDK, raw, SDK, ...) so both see the same machine load.

    .venv/bin/python bench/sdk.py [--requests 200]

GET /v1/runs/{id} (the SDK validates the envelope into ``Run``), POST /v1/runs (the SDK also builds
the typed body and an Idempotency-Key, and reads the run back: its ``create`` returns the envelope,
not the 202), and the client-side cost alone (``Run.model_validate`` of one finished envelope).
Runs complete with the instant test agent (devstack/testing/instant_provider.py).
"""

from __future__ import annotations

import argparse
import time
import uuid

import httpx
from common import line, local_stack, pct
from openhelm_sdk import Client
from openhelm_sdk.models import Run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    from devstack.testing.instant_provider import InstantProvider
    from shared.models.orgs import OrgLimits
    from shared.orgs import bootstrap_org
    from shared.sandbox import factory

    with local_stack() as stack:
        factory.override(InstantProvider())
        limits = OrgLimits(rate_per_minute=10**7, rate_burst=10**6, max_concurrent_runs=10**6)
        _, key = bootstrap_org("bench-sdk", limits=limits, start_balance_micros=10**12)
        raw = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        sdk = Client(key, stack.url)
        body = {"prompt": "List the pricing tiers", "start_url": "https://example.com/"}
        run = sdk.runs.create(**body, wait=True, timeout=60)
        path = f"/v1/runs/{run.id}"

        timings: dict[str, list[float]] = {"raw get": [], "sdk get": [], "raw post": [], "sdk post": []}

        def timed(name: str, fn) -> None:
            t = time.perf_counter()
            fn()
            timings[name].append((time.perf_counter() - t) * 1000)

        for _ in range(10):  # warm both paths
            raw.get(path).json()
            sdk.runs.get(run.id)
        for _ in range(args.requests):
            timed("raw get", lambda: raw.get(path).json())
            timed("sdk get", lambda: sdk.runs.get(run.id))
        posts = max(20, args.requests // 4)
        for _ in range(posts):
            timed("raw post", lambda: raw.post("/v1/runs", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}))
            timed("sdk post", lambda: sdk.runs.create(**body))
        envelope = raw.get(path).json()
        t = time.perf_counter()
        for _ in range(1000):
            Run.model_validate(envelope)
        validate_us = (time.perf_counter() - t) * 1000

        for op in ("get", "post"):
            r50, s50 = pct(timings[f"raw {op}"], 50), pct(timings[f"sdk {op}"], 50)
            n = len(timings[f"raw {op}"])
            line(f"{op.upper()} raw httpx p50 ({n} requests)", r50, "ms")
            line(f"{op.upper()} SDK p50 ({n} requests)", s50, "ms", f"+{s50 - r50:.2f} ms over raw")
        line("Run.model_validate of a finished envelope", validate_us, "us", f"{len(str(envelope))} chars")
        sdk.close()
        raw.close()
        factory.override(None)


if __name__ == "__main__":
    main()
