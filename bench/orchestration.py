"""Orchestration benchmark: one-step runs through the whole local stack (HTTP API → Step Functions in
moto → bubblewrap sandbox → Chromium → LLM gateway → callback → Finalize), with the model played by
a scripted OpenAI-compatible server that answers at once.

    .venv/bin/python bench/orchestration.py [--runs 5] [--warm 1]

``--warm N`` keeps N warm sandboxes (shared/sandbox/local/warm_pool.py: Chromium launched before
the run); each run waits until one is ready, as runs arriving slower than the pool refills find it.
``--warm 0`` starts every run cold (the default of tests). The agent's own time is counted from the
moment it has its run: the hand-in for a warm sandbox, the process start for a cold one.

Prints POST → first browser action and POST → terminal (median of N after one warm-up run), the
orchestration overhead (POST → terminal minus the agent's own time in the sandbox), sandbox start,
Chromium launch inside the sandbox, LLM gateway overhead per call, and the billed state transitions
per run read from the execution history.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from datetime import datetime
from typing import Any

import requests
from common import ROOT, line, local_stack, median
from observation import serve_site

from devstack.testing.fake_openai import FakeOpenAI, ToolCall

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
DONE = ToolCall("done", {"result": {"title": "Harbor"}, "confidence": 0.9, "summary": "read the title"})
TERMINAL = {"succeeded", "failed", "cancelled"}


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def poll_terminal(session: requests.Session, url: str, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = session.get(f"{url}/v1/runs/{run_id}", timeout=10).json()
        if run["status"] in TERMINAL:
            return run
        time.sleep(0.01)  # a benchmark's poll interval, not a test's wait
    raise TimeoutError(f"run {run_id} did not finish in {timeout}s")


def agent_span(svc: Any, org_id: str, run_id: str) -> tuple[float | None, float | None, float | None]:
    """(agent's first log time, last log time, Chromium launch ms) from the local sandbox's own logs."""
    record = svc.runs.get(org_id, run_id, consistent=True)
    sandbox_id = record.sandbox_id if record else None
    log_paths = getattr(svc.sandbox, "log_paths", None)
    if not sandbox_id or log_paths is None:
        return None, None, None
    _, stderr = log_paths(sandbox_id)
    stamps: list[float] = []
    launch_ms = None
    for raw in stderr.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if entry.get("event") == "run handed in":  # a warm sandbox: its wait for a run is not the run's
            stamps.clear()
        if "ts" in entry:
            stamps.append(ts(entry["ts"]))
        if entry.get("event") == "browser launched":
            launch_ms = entry.get("ms")
    if len(stamps) < 2:
        return None, None, launch_ms
    return stamps[0], stamps[-1], launch_ms


def wait_warm(provider: Any, timeout: float = 60) -> int:
    """1 once the pool has a warm sandbox ready, 0 if none came in time (the run then starts cold)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if provider.warm_ids(ready_only=True):
            return 1
        time.sleep(0.05)  # a benchmark's poll interval, not a test's wait
    return 0


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return events


def transitions(events: list[dict[str, Any]]) -> int:
    """Billed state transitions of a Standard workflow: every state entered (retries included)."""
    return sum(1 for e in events if e["type"].endswith("StateEntered"))


def stamp(event: dict[str, Any]) -> float:
    value = event["timestamp"]
    return value.timestamp() if isinstance(value, datetime) else float(value)


def phases(
    events: list[dict[str, Any]], t0: float, agent_start: float | None, agent_end: float | None
) -> dict[str, float]:
    """Milliseconds of each phase of one run, from the execution history and the agent's own log span:
    POST → execution started, each state's enter → exit, and StartSandbox split into Lambda (enter →
    its invoke returned), hand-off (→ agent's first log line), agent, and callback (agent's last line →
    the state's exit: SendTaskSuccess reaching the waiting task)."""
    out: dict[str, float] = {}
    entered: dict[str, float] = {}
    for e in events:
        kind = e["type"]
        if kind == "ExecutionStarted":
            out["POST → ExecutionStarted"] = (stamp(e) - t0) * 1000
            last_exit = stamp(e)
        elif kind.endswith("StateEntered"):
            name = e["stateEnteredEventDetails"]["name"]
            entered[name] = stamp(e)
            out[f"gap → {name}"] = (stamp(e) - last_exit) * 1000
        elif kind.endswith("StateExited"):
            name = e["stateExitedEventDetails"]["name"]
            last_exit = stamp(e)
            if name in entered:
                out[f"state {name}"] = out.get(f"state {name}", 0.0) + (last_exit - entered[name]) * 1000
        elif (
            kind in ("LambdaFunctionSucceeded", "TaskSubmitted")
            and "StartSandbox" in entered
            and "lambda StartSandbox" not in out
        ):
            out["lambda StartSandbox"] = (stamp(e) - entered["StartSandbox"]) * 1000
            invoked = stamp(e)
            if agent_start is not None and agent_end is not None:
                out["  StartSandbox lambda return → agent first log"] = (agent_start - invoked) * 1000
                out["  agent log span"] = (agent_end - agent_start) * 1000
        elif kind == "TaskSucceeded" and agent_end is not None and "StartSandbox" in entered:
            out["  agent last log → task succeeded (callback)"] = (stamp(e) - agent_end) * 1000
        elif kind == "ExecutionSucceeded":
            out["last state exit → ExecutionSucceeded"] = (stamp(e) - last_exit) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm", type=int, default=1, help="warm sandboxes kept ready (0: every run cold)")
    args = parser.parse_args()

    from shared.models.orgs import OrgLimits
    from shared.orgs import bootstrap_org
    from shared.sandbox.base import SandboxRequest
    from shared.services import get_services

    server, site = serve_site()
    warm_env = {"OPENHELM_WARM_SANDBOXES": str(args.warm)}
    with FakeOpenAI([], when_exhausted=DONE) as llm, local_stack(llm.base_url, **warm_env) as stack:
        svc = get_services()
        limits = OrgLimits(rate_per_minute=10**6, rate_burst=10**5, max_concurrent_runs=100)
        org_id, key = bootstrap_org("bench-orch", limits=limits)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        sfn = stack.client("stepfunctions")

        to_first, to_end, overhead, launches, billed = [], [], [], [], []
        warm_runs = 0
        breakdown: dict[str, list[float]] = {}
        for i in range(args.runs + 1):
            if args.warm:
                warm_runs += wait_warm(svc.sandbox)
            body = {"prompt": "Read the page title", "start_url": site + "/index.html", "output_schema": SCHEMA}
            t0 = time.time()
            r = session.post(f"{stack.url}/v1/runs", json=body, timeout=30)
            r.raise_for_status()
            run_id = r.json()["task_id"]
            run = poll_terminal(session, stack.url, run_id)
            if run["status"] != "succeeded":
                sys.stderr.write(f"run {run_id} {run['status']}: {run['error']}\n")
                continue
            first = ts(run["steps"][0]["started_at"]) - t0
            end = ts(run["finished_at"]) - t0
            agent_start, agent_end, launch_ms = agent_span(svc, org_id, run_id)
            lived = agent_end - agent_start if agent_start is not None and agent_end is not None else None
            execution_arn = f"{svc.orchestrator.state_machine_arn.replace(':stateMachine:', ':execution:')}:{run_id}"
            if i == 0:
                line("first run (cold agent imports): POST → terminal", end * 1000, "ms")
                continue
            to_first.append(first * 1000)
            to_end.append(end * 1000)
            if lived is not None:
                overhead.append((end - lived) * 1000)
            if launch_ms is not None:
                launches.append(float(launch_ms))
            events = history(sfn, execution_arn)
            billed.append(transitions(events))
            for name, ms in phases(events, t0, agent_start, agent_end).items():
                breakdown.setdefault(name, []).append(ms)

        n = len(to_end)
        line("warm sandboxes kept / runs that found one ready", args.warm, "", f"{warm_runs} of {args.runs + 1}")
        line(f"POST → first browser action (median of {n})", median(to_first), "ms", "goal ≤ 1500")
        line(f"POST → terminal, one-step task (median of {n})", median(to_end), "ms", "goal ≤ 1500")
        line("orchestration overhead (terminal - agent log span)", median(overhead), "ms", "goal ≤ 300")
        line("Chromium launch inside the sandbox (median)", median(launches), "ms")
        line("billed state transitions per run", median(billed), "", f"min {min(billed)} max {max(billed)}")
        sys.stdout.write("per-phase breakdown (execution history + agent log span, median):\n")
        for name, values in breakdown.items():
            line("  " + name, median(values), "ms", f"min {min(values):.0f} max {max(values):.0f}")

        # Sandbox start alone: bwrap set up and the agent process spawned (killed at once).
        starts = []
        for _ in range(5):
            request = SandboxRequest(
                run_id="run_bench",
                org_id=org_id,
                timeout_s=30,
                run_spec={"run_id": "run_bench", "prompt": "x", "model": "m", "max_steps": 1, "max_duration_s": 5},
                control_url=stack.url,
                run_token="t",
            )
            t = time.perf_counter()
            info = svc.sandbox.start(request)
            starts.append((time.perf_counter() - t) * 1000)
            svc.sandbox.kill(info.sandbox_id)
        line("sandbox start (median of 5)", median(starts), "ms", svc.settings.sandbox_provider)

        # LLM gateway overhead: the same chat request to the fake upstream directly and through the
        # gateway (per-run token, run read, model pinned, usage counted).
        gateway_overhead(stack, svc, session, llm, org_id)
    server.shutdown()


def gateway_overhead(stack: Any, svc: Any, session: requests.Session, llm: FakeOpenAI, org_id: str) -> None:
    from shared import tokens
    from shared.models.common import RunStatus

    sfn = stack.client("stepfunctions")
    pass_arn = sfn.create_state_machine(
        name="bench-hold",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/bench",
    )["stateMachineArn"]
    real = svc.orchestrator.state_machine_arn
    svc.orchestrator.state_machine_arn = pass_arn  # the run stays queued: we drive it by hand
    try:
        r = session.post(f"{stack.url}/v1/runs", json={"prompt": "gateway bench"}, timeout=30)
        run_id = r.json()["task_id"]
    finally:
        svc.orchestrator.state_machine_arn = real
    svc.runs.transition(org_id, run_id, from_statuses=[RunStatus.queued], to_status=RunStatus.running)
    token = tokens.mint(svc.settings.token_secret(), run_id, org_id, expires_at=int(time.time()) + 3600)
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
    direct, gateway = [], []
    data = json.dumps(body).encode()

    def post(url: str, headers: dict[str, str]) -> float:
        # A new connection per call on both legs, as the gateway's own upstream call makes.
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **headers})
        t = time.perf_counter()
        with urllib.request.urlopen(request, timeout=10) as reply:
            reply.read()
        return (time.perf_counter() - t) * 1000

    for _ in range(40):
        direct.append(post(f"{llm.base_url}/chat/completions", {}))
        gateway_url = stack.function_url("LlmGatewayFunctionUrl")
        gateway.append(post(f"{gateway_url}/v1/chat/completions", {"Authorization": f"Bearer {token}"}))
    line("LLM call direct to upstream (median of 40)", median(direct[5:]), "ms")
    line("LLM call through the gateway (median of 40)", median(gateway[5:]), "ms")
    line("LLM gateway overhead per call", median(gateway[5:]) - median(direct[5:]), "ms")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
