"""API benchmark: cold import of the API handler, and POST /v1/runs + GET /v1/runs/{id} through the
local gateway (latency percentiles, accepts per second).

    .venv/bin/python bench/api.py [--requests 300] [--threads 8]

Runs complete in the background through the real state machine with an instant test agent
(devstack/testing/instant_provider.py), so the API shares the machine with the orchestration it starts,
as it would in the local stack.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter

from common import ROOT, line, local_stack, median, pct

IMPORT_SNIPPET = (
    "import sys,time; sys.path.insert(0, 'functions/api'); t=time.perf_counter(); import api_handler; "
    "print(time.perf_counter()-t)"
)
FIRST_REQUEST_SNIPPET = (
    "import sys,time,json; sys.path.insert(0, 'functions/api'); t=time.perf_counter(); import api_handler; "
    "e=json.load(open('events/api/health.json')); api_handler.lambda_handler(e, None); print(time.perf_counter()-t)"
)


def cold(snippet: str, n: int = 5) -> list[float]:
    out = []
    for _ in range(n):
        res = subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, capture_output=True, text=True, check=True)
        out.append(float(res.stdout.strip().splitlines()[-1]) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    imports = cold(IMPORT_SNIPPET)
    line(
        "API handler cold import (median of 5)", median(imports), "ms", f"min {min(imports):.0f} max {max(imports):.0f}"
    )
    first = cold(FIRST_REQUEST_SNIPPET)
    line("API handler import + first request (median of 5)", median(first), "ms")

    from devstack.testing.instant_provider import InstantProvider
    from shared.models.orgs import OrgLimits
    from shared.orgs import bootstrap_org
    from shared.sandbox import factory

    t0 = time.perf_counter()
    with local_stack() as stack:
        line("local stack start", (time.perf_counter() - t0) * 1000, "ms")
        provider = InstantProvider()
        factory.override(provider)
        limits = OrgLimits(rate_per_minute=10**7, rate_burst=10**6, max_concurrent_runs=10**6)
        _, key = bootstrap_org("bench", limits=limits, start_balance_micros=10**12)  # no 402s under load
        load = [sys.executable, str(ROOT / "bench" / "load.py"), stack.url, key]

        def run_load(pairs: int, threads: int) -> dict:
            res = subprocess.run(
                [*load, "--pairs", str(pairs), "--threads", str(threads)], capture_output=True, text=True, check=True
            )
            if res.stderr:
                sys.stderr.write(res.stderr)
            return json.loads(res.stdout)

        run_load(20, 1)  # warm every path once

        def phase(label: str) -> None:
            seq = run_load(args.requests, 1)
            line(f"[{label}] POST /v1/runs p50 (one client)", pct(seq["post_ms"], 50), "ms")
            line(f"[{label}] POST /v1/runs p99 (one client)", pct(seq["post_ms"], 99), "ms")
            line(f"[{label}] GET /v1/runs/{{id}} p50 (one client)", pct(seq["get_ms"], 50), "ms")
            line(f"[{label}] GET /v1/runs/{{id}} p99 (one client)", pct(seq["get_ms"], 99), "ms")
            conc = run_load(args.requests, args.threads)
            ok = sum(1 for s in conc["statuses"] if s == 202)
            others = Counter(s for s in conc["statuses"] if s != 202)
            note = f"{ok}/{len(conc['statuses'])} accepted" + (f", others: {dict(others)}" if others else "")
            line(f"[{label}] accepts/s ({args.threads} clients, POST+GET)", ok / conc["wall_s"], "/s", note)
            line(f"[{label}] POST /v1/runs p99 ({args.threads} clients)", pct(conc["post_ms"], 99), "ms")

        # 1. The accept path alone: executions start on a one-state Pass machine, so the figures are
        #    the API's own (auth, validation, rate limit, DynamoDB write, StartExecution, event).
        from shared.services import get_services

        svc = get_services()
        real_machine = svc.orchestrator.state_machine_arn
        svc.orchestrator.state_machine_arn = stack.client("stepfunctions").create_state_machine(
            name="bench-pass",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/bench",
        )["stateMachineArn"]
        phase("accept path")
        # 2. The same load while every run goes through the real run machine (moto's interpreter,
        #    Admit/StartSandbox/Finalize in-process) with the instant agent calling back over HTTP.
        svc.orchestrator.state_machine_arn = real_machine
        phase("with orchestration")
        provider_started = provider.started
        line("runs handed to the instant agent", provider_started, "")
        factory.override(None)


if __name__ == "__main__":
    main()
