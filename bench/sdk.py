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
import http.server
import json
import threading
import time
import uuid

import httpx
from common import line, local_stack, pct
from openhelm_sdk import Client, _base
from openhelm_sdk._base import Request
from openhelm_sdk.models import CreateRunRequest, Run


def _key() -> dict[str, str]:
    return {"Idempotency-Key": _base.new_idempotency_key()}


def static(envelope: dict, key: str, n: int) -> None:
    """The SDK's own cost alone: GET of the same envelope from a static loopback server (no API work)."""
    payload = json.dumps(envelope).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    response = head.encode() + payload

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            # one write: headers and body in separate segments meet delayed ACKs (~40 ms a request)
            self.wfile.write(response)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    raw = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
    sdk = Client(key, url)
    times: dict[str, list[float]] = {"raw": [], "sdk": []}
    for i in range(n + 20):
        for name, fn in (("raw", lambda: raw.get("/v1/runs/x").json()), ("sdk", lambda: sdk.runs.get("x"))):
            t = time.perf_counter()
            fn()
            if i >= 20:
                times[name].append((time.perf_counter() - t) * 1000)
    r50, s50 = pct(times["raw"], 50), pct(times["sdk"], 50)
    line("static loopback GET: runs.get p50", s50, "ms", f"raw httpx {r50:.3f} ms, {s50 - r50:+.3f} ms, {n} requests")
    server.shutdown()
    server.server_close()


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

        timings: dict[str, list[float]] = {"raw get": [], "sdk get": [], "raw post": [], "sdk post": [], "sdk send": []}
        create = _base.body(CreateRunRequest, None, body)

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
            # the SDK's transport alone (typed body, key, retry loop), without create's read-back GET
            timed("sdk send", lambda: sdk.request(Request("POST", "/v1/runs", json=create, headers=_key())))
        envelope = raw.get(path).json()
        t = time.perf_counter()
        for _ in range(1000):
            Run.model_validate(envelope)
        validate_us = (time.perf_counter() - t) * 1000

        for raw_name, sdk_name, label in (
            ("raw get", "sdk get", "GET /v1/runs/{id}: runs.get"),
            ("raw post", "sdk send", "POST /v1/runs: the SDK's request alone"),
            ("raw post", "sdk post", "POST /v1/runs: runs.create (POST + GET back)"),
        ):
            r50, s50 = pct(timings[raw_name], 50), pct(timings[sdk_name], 50)
            note = f"raw httpx {r50:.1f} ms, {s50 - r50:+.1f} ms, {len(timings[sdk_name])} requests"
            line(f"{label} p50", s50, "ms", note)
        line("Run.model_validate of a finished envelope (client CPU)", validate_us, "us", f"{len(str(envelope))} chars")
        static(envelope, key, args.requests * 5)
        sdk.close()
        raw.close()
        factory.override(None)


if __name__ == "__main__":
    main()
