"""Pipeline benchmark: N runs through the whole local control plane with an instant test agent
(devstack/testing/instant_provider.py: writes a result and a screenshot, calls back at once), each with a
webhook_url on a loopback receiver that verifies every signature.

    .venv/bin/python bench/pipeline.py [--runs 500] [--threads 8]

Prints runs/s, wall time, runs lost (must be 0), evidence stored, webhooks delivered per run, usage
records per run, the AWS API calls per run by service (botocore ``before-call`` hooks on every
client the handlers and moto create, after setup), Lambda invocations and billed state transitions,
and the resulting AWS cost per run at us-east-1 list prices (excluding sandbox and model).
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from common import line, local_stack

# us-east-1 list prices (USD), late 2026.
PRICE = {
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit (1 KB)
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit (4 KB strongly consistent)
    "sfn_transition": 0.025 / 1e3,  # Standard workflow state transition
    "events_put": 1.00 / 1e6,  # custom event (64 KB chunk)
    "sqs_request": 0.40 / 1e6,  # standard queue request
    "s3_put": 0.005 / 1e3,  # PUT/COPY/POST/LIST
    "s3_get": 0.0004 / 1e3,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s": 0.0000133334,  # arm64
    "http_api_request": 1.00 / 1e6,
}
DYNAMO_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


class CallCounter:
    """Counts AWS API calls through botocore's event system: a ``before-call`` handler on each client."""

    def __init__(self) -> None:
        self.on = False
        self.calls: Counter[tuple[str, str]] = Counter()
        self.wru = 0.0
        self.rru = 0.0
        self.lock = threading.Lock()

    def install(self) -> None:
        import boto3.session

        original = boto3.session.Session.client
        counter = self

        def client(session: Any, *args: Any, **kwargs: Any) -> Any:
            made = original(session, *args, **kwargs)
            made.meta.events.register("before-call.*.*", counter.before_call)
            made.meta.events.register("after-call.sqs.ReceiveMessage", counter.after_receive)
            return made

        boto3.session.Session.client = client  # type: ignore[method-assign]

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.on:
            return
        service, op = model.service_model.service_name, model.name
        with self.lock:
            self.calls[(service, op)] += 1
            if service == "dynamodb":
                size_kb = len(json.dumps(params, default=str)) / 1024
                if op in DYNAMO_WRITES:
                    items = len(params.get("TransactItems", [])) or 1
                    factor = 2 if op.startswith("Transact") else 1  # transactions cost double
                    self.wru += factor * max(items, -(-size_kb // 1))
                else:
                    self.rru += 1  # items here are under 4 KB; a Query reads one unit per page at least

    def after_receive(self, parsed: dict[str, Any], **_: Any) -> None:
        # An empty long poll is the poller idling, not work for a run.
        if self.on and not parsed.get("Messages"):
            with self.lock:
                self.calls[("sqs", "ReceiveMessage")] -= 1


class LambdaMeter:
    """Invocations and in-process duration per function (an upper bound: handlers share the GIL)."""

    def __init__(self) -> None:
        self.on = False
        self.count: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.gb_s = 0.0
        self.lock = threading.Lock()

    def install(self) -> None:
        from devstack.runtime import LocalFunction

        original = LocalFunction.call
        meter = self

        def call(fn: Any, event: Any, request_id: str | None = None) -> Any:
            started = time.perf_counter()
            try:
                return original(fn, event, request_id)
            finally:
                if meter.on:
                    with meter.lock:
                        meter.count[fn.logical_id] += 1
                        meter.seconds[fn.logical_id] += time.perf_counter() - started
                        meter.gb_s += (time.perf_counter() - started) * fn.memory_mb / 1024

        LocalFunction.call = call  # type: ignore[method-assign]


class Receiver:
    def __init__(self, secret_box: dict[str, str]) -> None:
        from standardwebhooks.webhooks import Webhook

        self.by_run: Counter[str] = Counter()
        self.bad = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    payload = Webhook(secret_box["secret"]).verify(
                        body, {k.lower(): v for k, v in self.headers.items()}
                    )
                    with receiver.lock:
                        receiver.by_run[payload["data"]["id"]] += 1
                except Exception:
                    with receiver.lock:
                        receiver.bad += 1
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    counter, meter = CallCounter(), LambdaMeter()
    counter.install()
    meter.install()
    secret: dict[str, str] = {}
    receiver = Receiver(secret)

    from devstack.testing.instant_provider import InstantProvider
    from shared.models.orgs import OrgLimits
    from shared.orgs import bootstrap_org
    from shared.sandbox import factory
    from shared.services import get_services

    with local_stack() as stack:
        factory.override(InstantProvider())
        limits = OrgLimits(rate_per_minute=10**7, rate_burst=10**6, max_concurrent_runs=10**6)
        org_id, key = bootstrap_org("pipeline", limits=limits, start_balance_micros=10**12)
        u = urlsplit(stack.url)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        def request(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            try:
                conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
                r = conn.getresponse()
                return r.status, json.loads(r.read() or b"null")
            finally:
                conn.close()

        secret["secret"] = request("GET", "/v1/webhooks/secret")[1]["secret"]
        body = {"prompt": "Pipeline benchmark run", "output_schema": {"type": "object"}, "webhook_url": receiver.url}

        counter.on = meter.on = True
        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            accepted = list(pool.map(lambda _: request("POST", "/v1/runs", body), range(args.runs)))
        run_ids = [b["task_id"] for s, b in accepted if s == 202]
        svc = get_services()

        def settled(run_id: str) -> bool:  # the webhook comes last (after evidence); no AWS call here
            return receiver.by_run[run_id] >= 1

        deadline = time.monotonic() + 600 + args.runs
        pending = list(run_ids)
        while pending and time.monotonic() < deadline:
            pending = [r for r in pending if not settled(r)]
            time.sleep(0.2)  # a benchmark's poll, not a test's wait
        wall = time.perf_counter() - started
        if stack.registry is not None:  # let trailing async invokes (billing) finish before counting stops
            stack.registry.wait_async(30)
        counter.on = meter.on = False

        records = [svc.runs.get(org_id, r) for r in run_ids]
        terminal = sum(1 for i in records if i and i.status.is_terminal)
        evidence = Counter(i.evidence_status if i else None for i in records)
        usage = request(
            "GET", f"/v1/usage?limit=1&to={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 60))}"
        )
        usage_runs = (usage[1] or {}).get("totals", {}).get("runs", 0)
        sfn = stack.client("stepfunctions")
        arn = svc.orchestrator.state_machine_arn.replace(":stateMachine:", ":execution:")
        sample = run_ids[:: max(1, len(run_ids) // 20)]
        transitions = []
        for run_id in sample:
            events = sfn.get_execution_history(executionArn=f"{arn}:{run_id}", maxResults=1000)["events"]
            transitions.append(sum(1 for e in events if e["type"].endswith("StateEntered")))
        per_run_transitions = sum(transitions) / len(transitions)

        n = max(1, len(run_ids))
        lost = len(run_ids) - terminal
        refused = Counter(str(st) for st, _ in accepted if st != 202)
        line("runs submitted / accepted", f"{args.runs} / {len(run_ids)}")
        line("wall time (POST → all webhooks delivered)", wall, "s")
        line("runs/s", len(run_ids) / wall, "/s", f"{args.threads} clients")
        line("runs lost (accepted, never terminal)", lost, "", "must be 0")
        if refused:
            examples = [b for st, b in accepted if st != 202][:2]
            line("submissions refused", sum(refused.values()), "", f"{dict(refused)} {json.dumps(examples)[:300]}")
        outcomes = Counter(f"{i.status.value} {i.error_code or ''}".strip() if i else "None" for i in records)
        line("run outcomes", json.dumps(dict(outcomes)))
        line("evidence outcomes", json.dumps(dict(evidence)))
        line(
            "webhooks delivered per run",
            sum(receiver.by_run[r] for r in run_ids) / n,
            "",
            f"bad signatures {receiver.bad}",
        )
        line("usage records per run", usage_runs / n)
        line("billed state transitions per run (sampled)", per_run_transitions)
        by_service: Counter[str] = Counter()
        for (service, _op), c in counter.calls.items():
            by_service[service] += c
        for service, c in sorted(by_service.items()):
            ops = ", ".join(f"{op} {v / n:.1f}" for (s, op), v in sorted(counter.calls.items()) if s == service and v)
            line(f"AWS calls per run: {service}", c / n, "", ops)
        line(
            "Lambda invocations per run",
            sum(meter.count.values()) / n,
            "",
            json.dumps({k: round(v / n, 1) for k, v in meter.count.items()}),
        )
        # In-process wall time under the GIL with every other handler and moto: an upper bound.
        means = {k: round(v / meter.count[k] * 1000) for k, v in sorted(meter.seconds.items())}
        line("Lambda mean in-process duration (upper bound)", "see note", "ms", json.dumps(means))

        cost = {
            "DynamoDB": counter.wru * PRICE["dynamodb_wru"] + counter.rru * PRICE["dynamodb_rru"],
            "Step Functions": per_run_transitions * n * PRICE["sfn_transition"],
            "EventBridge": counter.calls[("events", "PutEvents")] * PRICE["events_put"],
            "SQS": by_service["sqs"] * PRICE["sqs_request"],
            "S3": counter.calls[("s3", "PutObject")] * PRICE["s3_put"]
            + counter.calls[("s3", "GetObject")] * PRICE["s3_get"],
            "Lambda": sum(meter.count.values()) * PRICE["lambda_request"] + meter.gb_s * PRICE["lambda_gb_s"],
            # POST /v1/runs and the agent's completion callback (no LLM calls with the instant agent)
            "HTTP API": 2 * n * PRICE["http_api_request"],
        }
        for name, usd in cost.items():
            line(f"AWS cost per run: {name}", usd / n * 1e6, "µ$")
        line("AWS cost per run (total, list prices)", sum(cost.values()) / n * 1e6, "µ$", "goal ≤ 200 µ$ ($0.0002)")
        # The measured Lambda time is wall time in one process under the GIL with moto and every other
        # handler; a deployed function runs alone. At 100 ms per invocation (512 MB, arm64):
        deployed = dict(cost)
        invocations = sum(meter.count.values())
        deployed["Lambda"] = invocations * (PRICE["lambda_request"] + 0.1 * 0.5 * PRICE["lambda_gb_s"])
        line("AWS cost per run, Lambda at 100 ms/invoke", sum(deployed.values()) / n * 1e6, "µ$", "goal ≤ 200 µ$")
        factory.override(None)
    receiver.server.shutdown()


if __name__ == "__main__":
    main()
