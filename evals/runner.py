"""Run the eval tasks through the public API of the embedded local stack and report how the agent did.

The fixture sites (evals/sites/) are served on 127.0.0.1; each task is submitted with POST /v1/runs and polled
with GET /v1/runs/{id} until it ends; its result goes through the task's checker. The model is whatever
OpenAI-compatible endpoint the environment names (OPENAI_BASE_URL, OPENAI_API_KEY, OPENHELM_MODEL), mapped
onto the stack exactly as ``openhelm dev`` does (devstack/local_env.local_config).
"""

from __future__ import annotations

import functools
import http.server
import json
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from evals.tasks import Task

ROOT = Path(__file__).resolve().parents[1]
SITES = Path(__file__).resolve().parent / "sites"
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Outcome:
    id: str
    category: str
    success: bool
    reason: str
    status: str
    error: str | None
    steps: int
    input_tokens: int
    output_tokens: int
    cost_usd: str
    seconds: float
    run_id: str | None = None
    result: Any = None
    actions: list[str] = field(default_factory=list)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    # Pages carry €, ✓ and accents: without a charset Chromium would read them as windows-1252.
    extensions_map = {
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".json": "application/json",
        ".css": "text/css",
        ".txt": "text/plain; charset=utf-8",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def fixture_server() -> Iterator[str]:
    """The fixture sites on a free loopback port."""
    handler = functools.partial(_QuietHandler, directory=str(SITES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def local_stack(environ: Mapping[str, str]) -> Iterator[Any]:
    """The real template in the embedded local stack, with the model the environment names."""
    from devstack.local_env import local_config
    from devstack.stack import EmbeddedStack

    config = local_config(environ)
    params = {**config.params, "RunTokenSecret": secrets.token_urlsafe(48), "LogLevel": "ERROR"}
    with EmbeddedStack(ROOT / "template.yaml", params, env=config.env, schedules=False) as stack:
        yield stack


def select(tasks: Sequence[Task], only: str | None = None, limit: int | None = None) -> list[Task]:
    """Tasks whose id or category is in the comma-separated ``only`` (prefixes allowed), at most ``limit``."""
    chosen = list(tasks)
    if only:
        wanted = [w.strip() for w in only.split(",") if w.strip()]
        chosen = [t for t in chosen if any(t.id.startswith(w) or t.category == w for w in wanted)]
        if not chosen:
            raise SystemExit(f"no task matches --only {only!r}; ids: {', '.join(t.id for t in tasks)}")
    return chosen[:limit] if limit else chosen


def run_task(
    session: requests.Session,
    api_url: str,
    site: str,
    task: Task,
    *,
    max_steps: int,
    max_duration_s: int,
    poll_s: float = 1.0,
) -> Outcome:
    body: dict[str, Any] = {
        "prompt": task.prompt.replace("{site}", site),
        "max_steps": max_steps,
        "max_duration_s": max_duration_s,
        "metadata": {"eval_task": task.id},
    }
    if task.start is not None:
        body["start_url"] = site + task.start
    if task.schema is not None:
        body["output_schema"] = task.schema
    started = time.monotonic()
    resp = session.post(f"{api_url}/v1/runs", json=body, timeout=30)
    if resp.status_code != 202:
        return _outcome(task, {}, started, success=False, reason=f"POST /v1/runs → {resp.status_code}: {resp.text}")
    run_id = resp.json()["task_id"]
    # The run ends itself within max_duration_s; the margin covers queueing and finalisation.
    deadline = started + max_duration_s + 120
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = session.get(f"{api_url}/v1/runs/{run_id}", timeout=30).json()
        if run.get("status") in TERMINAL:
            break
        time.sleep(poll_s)
    else:
        return _outcome(task, run, started, success=False, reason="run did not end in time")
    if run["status"] != "succeeded":
        err = run.get("error") or {}
        return _outcome(task, run, started, success=False, reason=f"{err.get('code')}: {err.get('message', '')}"[:300])
    verdict = task.check(run.get("result"))
    return _outcome(task, run, started, success=verdict.ok, reason=verdict.reason)


def _outcome(task: Task, run: dict[str, Any], started: float, *, success: bool, reason: str) -> Outcome:
    usage = run.get("usage") or {}
    steps = run.get("steps") or []
    return Outcome(
        id=task.id,
        category=task.category,
        success=success,
        reason=reason,
        status=run.get("status", "not-created"),
        error=(run.get("error") or {}).get("code"),
        steps=len(steps) or (run.get("progress") or {}).get("step", 0),
        input_tokens=usage.get("input_tokens", 0),
        output_tokens=usage.get("output_tokens", 0),
        cost_usd=usage.get("cost_usd", "0.00"),
        seconds=round(time.monotonic() - started, 1),
        run_id=run.get("id"),
        result=run.get("result"),
        actions=[_action(s) for s in steps],
    )


def _action(step: dict[str, Any]) -> str:
    args = json.dumps(step.get("args") or {}, ensure_ascii=False)
    text = f"{step.get('action')} {args}"
    if step.get("error"):
        text += f" → error: {step['error']}"
    return text[:200]


def run_suite(
    api_url: str,
    api_key: str,
    site: str,
    tasks: Sequence[Task],
    *,
    max_steps: int,
    max_duration_s: int,
    out: Any = sys.stdout,
    on_outcome: Callable[[list[Outcome]], None] | None = None,
) -> list[Outcome]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_key}"
    print_header(out)
    outcomes = []
    for task in tasks:
        outcome = run_task(session, api_url, site, task, max_steps=max_steps, max_duration_s=max_duration_s)
        outcomes.append(outcome)
        print_row(outcome, out)
        if on_outcome is not None:  # e.g. rewrite the JSON report, so a long run interrupted keeps its figures
            on_outcome(outcomes)
    print_totals(outcomes, out)
    return outcomes


_ROW = "{:<24} {:<7} {:>5} {:>9} {:>7} {:>8} {:>7}  {}\n"


def print_header(out: Any) -> None:
    out.write(_ROW.format("task", "result", "steps", "tok in", "tok out", "cost $", "sec", "why"))
    out.flush()


def print_row(o: Outcome, out: Any) -> None:
    out.write(
        _ROW.format(
            o.id,
            "PASS" if o.success else "FAIL",
            o.steps,
            o.input_tokens,
            o.output_tokens,
            o.cost_usd,
            f"{o.seconds:.1f}",
            "" if o.success else o.reason[:120],
        )
    )
    out.flush()


def totals(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    n = len(outcomes)
    passed = sum(o.success for o in outcomes)

    def med(values: list[float]) -> float:
        return float(statistics.median(values)) if values else 0.0

    return {
        "tasks": n,
        "passed": passed,
        "success_rate": round(passed / n, 3) if n else 0.0,
        "median_steps": med([o.steps for o in outcomes]),
        "median_input_tokens": med([o.input_tokens for o in outcomes]),
        "median_output_tokens": med([o.output_tokens for o in outcomes]),
        "median_seconds": med([o.seconds for o in outcomes]),
        "total_input_tokens": sum(o.input_tokens for o in outcomes),
        "total_output_tokens": sum(o.output_tokens for o in outcomes),
        "total_cost_usd": f"{sum(float(o.cost_usd) for o in outcomes):.4f}",
        "total_seconds": round(sum(o.seconds for o in outcomes), 1),
    }


def print_totals(outcomes: Sequence[Outcome], out: Any) -> None:
    t = totals(outcomes)
    out.write(
        f"\n{t['passed']}/{t['tasks']} passed (success rate {t['success_rate']:.0%}); medians: "
        f"{t['median_steps']:g} steps, {t['median_input_tokens']:g} input / {t['median_output_tokens']:g} output "
        f"tokens, {t['median_seconds']:.1f} s; total cost ${t['total_cost_usd']}, {t['total_seconds']:.0f} s\n"
    )
    out.flush()


def report(outcomes: Sequence[Outcome], meta: Mapping[str, Any]) -> dict[str, Any]:
    return {"meta": dict(meta), "totals": totals(outcomes), "tasks": [asdict(o) for o in outcomes]}
