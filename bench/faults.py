"""Fault benchmark: how fast and how honestly the local stack ends runs that break (issue 15).

    .venv/bin/python bench/faults.py [--only crash,deadline,memory]

Through the whole local stack (real bubblewrap sandbox, real Chromium, a scripted model):

* crash: SIGKILL of the agent, of the sandbox's bridge and of the sandbox's init while the agent
  waits on a page; prints kill → run failed (as the API shows it) and billed sandbox seconds against
  the time the sandbox actually lived (kill time - started_at). No reaper runs (schedules off).
* deadline: a model that never answers, max_duration_s=15: prints how far past max_duration_s the
  run ended (finished_at - started_at - 15) and its error code.
* memory: a page whose script allocates without bound: prints the run's outcome and error, and
  how long it took, while the host keeps running.
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import threading
import time
from datetime import datetime
from typing import Any

import requests
from common import line, local_stack

from devstack.testing.fake_openai import FakeOpenAI, Hang, ToolCall

TERMINAL = {"succeeded", "failed", "cancelled"}
MEMORY_HOG = b"""<html><head><title>hog</title></head><body><h1>hog</h1><script>
const keep = []; function grow() { for (let i = 0; i < 64; i++) keep.push(new Array(1 << 20).fill(i));
setTimeout(grow, 0); } grow();
</script></body></html>"""


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def serve(pages: dict[str, bytes]) -> str:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"<html><title>Harbor</title><body><p>a page</p></body></html>")
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def wait(predicate: Any, timeout: float, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)  # a benchmark's poll interval, not a test's wait
    raise TimeoutError("condition not met")


class Bench:
    def __init__(self, stack: Any, llm: FakeOpenAI, site: str) -> None:
        from shared.orgs import bootstrap_org
        from shared.services import get_services

        self.stack, self.llm, self.site = stack, llm, site
        self.org_id, key = bootstrap_org(f"faults-{time.monotonic_ns()}")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"
        self.svc = get_services()

    def run(self, **body: Any) -> str:
        r = self.http.post(f"{self.stack.url}/v1/runs", json={"prompt": "Benchmark a fault", **body}, timeout=30)
        r.raise_for_status()
        return str(r.json()["task_id"])

    def get(self, run_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"{self.stack.url}/v1/runs/{run_id}", timeout=30).json())

    def terminal(self, run_id: str, timeout: float) -> dict[str, Any]:
        return dict(wait(lambda: (r := self.get(run_id))["status"] in TERMINAL and r, timeout))

    def crash(self, victim: str) -> None:
        self.llm.reset(*[ToolCall("wait", {"seconds": 5})] * 20)
        run_id = self.run(start_url=self.site + "/", max_duration_s=120)
        wait(lambda: (self.get(run_id).get("progress") or {}).get("step") or self.get(run_id)["status"] in TERMINAL, 60)
        if self.get(run_id)["status"] in TERMINAL:
            raise RuntimeError(f"run ended before the fault: {self.get(run_id)}")
        sandbox_id = self.svc.runs.get(self.org_id, run_id).sandbox_id
        procs = self.svc.sandbox.processes(sandbox_id)
        agent = next(p for p, argv in procs.items() if argv[1:] == ["-m", "openhelm_agent"])
        bridge = next(p for p, argv in procs.items() if any(a.endswith("/bridge.py") for a in argv))
        target = {"agent": agent, "bridge": bridge, "init": _parent(bridge)}[victim]
        killed_at = time.time()
        os.kill(target, signal.SIGKILL)
        run = self.terminal(run_id, 120)
        seen = time.time() - killed_at
        lived = killed_at - ts(run["started_at"])
        code = (run.get("error") or {}).get("code")
        line(f"kill -9 {victim}: kill → run {run['status']}", seen, "s", code or "")
        line(
            f"kill -9 {victim}: billed sandbox s / lived s",
            run["usage"]["sandbox_seconds"],
            "s",
            f"lived {lived:.2f} s",
        )

    def deadline(self, max_duration_s: int = 15) -> None:
        hang = Hang()
        self.llm.reset(hang, hang, hang)
        try:
            run_id = self.run(start_url=self.site + "/", max_duration_s=max_duration_s)
            run = self.terminal(run_id, max_duration_s + 120)
        finally:
            hang.release.set()
        over = ts(run["finished_at"]) - ts(run["started_at"]) - max_duration_s
        code = (run.get("error") or {}).get("code")
        line(f"hanging model: finished - started - {max_duration_s} s", over, "s", code or "")
        line("hanging model: billed sandbox s", run["usage"]["sandbox_seconds"], "s")

    def memory(self) -> None:
        self.llm.reset(*[ToolCall("wait", {"seconds": 5})] * 40)
        started = time.monotonic()
        run_id = self.run(start_url=self.site + "/hog.html", max_duration_s=120)
        run = self.terminal(run_id, 240)
        error = run.get("error") or {}
        line("unbounded allocation: POST → terminal", time.monotonic() - started, "s", run["status"])
        line("unbounded allocation: error", error.get("code") or "-", "", (error.get("message") or "")[:220])


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    return int(data[data.rfind(b")") + 2 :].split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default="crash,deadline,memory")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    site = serve({"/hog.html": MEMORY_HOG})
    with FakeOpenAI([]) as llm, local_stack(llm.base_url, OPENHELM_SANDBOX_GRACE_S="10") as stack:
        bench = Bench(stack, llm, site)
        if "crash" in wanted:
            for victim in ("agent", "bridge", "init"):
                bench.crash(victim)
        if "deadline" in wanted:
            bench.deadline()
        if "memory" in wanted:
            bench.memory()


if __name__ == "__main__":
    main()
