"""E2B start benchmark, at the wire: ``E2BProvider`` and the real e2b SDK against the fake E2B cloud
(tests/e2b/fake_e2b.py), the real agent and Chromium in its sandboxes, a scripted model.

    .venv/bin/python bench/e2b_start.py [--runs 5]

Two templates: cold (no start command: the provider starts the agent per run) and warm (the start
command of sandbox_image/template.py: the agent waits with Chromium up; the fake resumes a prepared
"snapshot" of it, prepared before the clock starts, as E2B makes it at build time). Prints, per
template, the median of N one-step runs: ``start()`` (create + hand-in, or create + spec + command),
start → first browser action (the first step's ``started_at``) and start → completion callback, and
the warm/cold ratios. The fake runs sandboxes as host processes: the figures are the agent's and the
protocol's, not E2B's network or VM resume.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import ROOT, line, median

from devstack.testing.fake_openai import FakeOpenAI, ToolCall, make_handler

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
DONE = ToolCall("done", {"result": {"title": "Harbor"}, "confidence": 0.9, "summary": "read the title"})
API_KEY = "e2b_bench_0123456789"
WARM, COLD = "openhelm-agent-warm", "openhelm-agent-cold"


def template_module() -> Any:
    spec = importlib.util.spec_from_file_location("openhelm_sandbox_template", ROOT / "sandbox_image" / "template.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for(predicate: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)  # a benchmark's poll interval, not a test's wait
    raise TimeoutError("no answer in time")


def main() -> None:
    from observation import serve_site

    from shared.sandbox.base import SandboxRequest
    from shared.sandbox.e2b_provider import E2BProvider
    from tests.agent.harness import FakeControlPlane
    from tests.e2b.fake_e2b import FakeE2BCloud, make_image

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    server, site = serve_site()
    plane = FakeControlPlane(FakeOpenAI([], when_exhausted=DONE))
    control = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(plane.respond))
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    control_url = f"http://127.0.0.1:{control.server_address[1]}"
    template = template_module()

    with tempfile.TemporaryDirectory() as tmp:
        image = make_image(Path(tmp) / "image", ROOT / "sandbox_image" / "agent")
        cloud = FakeE2BCloud(
            Path(tmp) / "sandboxes",
            api_key=API_KEY,
            templates={COLD},
            image_dir=image,
            start_cmds={WARM: (template.WARM_START_COMMAND, template.WARM_READY_FILE)},
        )
        cloud.start()
        os.environ.update(E2B_API_URL=cloud.api_url, E2B_SANDBOX_URL=cloud.envd_url)
        figures: dict[str, dict[str, list[float]]] = {}
        try:
            for name in (COLD, WARM):
                provider = E2BProvider(api_key=API_KEY, template=name, domain="e2b.example", deployment="bench")
                got: dict[str, list[float]] = {"start": [], "first": [], "end": []}
                for i in range(args.runs + 1):
                    if name == WARM:
                        cloud.snapshot(WARM, 1)  # made at template build time, before any run
                    run_id = f"run_{secrets.token_hex(6)}"
                    spec = {
                        "run_id": run_id,
                        "prompt": "Read the page title",
                        "start_url": f"{site}/index.html",
                        "output_schema": SCHEMA,
                        "model": "bench",
                        "max_steps": 3,
                        "max_duration_s": 60,
                    }
                    request = SandboxRequest(
                        run_id=run_id,
                        org_id="org_bench",
                        timeout_s=120,
                        run_spec=spec,
                        control_url=control_url,
                        run_token=f"ohrt_{secrets.token_hex(16)}",
                    )
                    t0, wall0 = time.perf_counter(), time.time()
                    info = provider.start(request)
                    started = time.perf_counter() - t0
                    wait_for(lambda rid=run_id: any(c["run_id"] == rid for c in plane.completions))
                    end = time.perf_counter() - t0
                    steps = provider.read_file(info.sandbox_id, "steps.jsonl").decode().splitlines()
                    first_at = datetime.fromisoformat(json.loads(steps[0])["started_at"].replace("Z", "+00:00"))
                    provider.kill(info.sandbox_id)
                    if i == 0:
                        continue  # warm-up: the host's page cache, not the template
                    got["start"].append(started * 1000)
                    got["first"].append((first_at.timestamp() - wall0) * 1000)
                    got["end"].append(end * 1000)
                figures[name] = got
        finally:
            cloud.stop()
            server.shutdown()
            control.shutdown()

    n = args.runs
    for name, label in ((COLD, "cold template"), (WARM, "warm template")):
        got = figures[name]
        line(f"{label}: start() (median of {n})", median(got["start"]), "ms")
        line(f"{label}: start → first browser action", median(got["first"]), "ms")
        line(f"{label}: start → completion callback", median(got["end"]), "ms")
    for key, label in (("first", "first browser action"), ("end", "completion")):
        ratio = median(figures[WARM][key]) / median(figures[COLD][key])
        line(f"warm / cold, start → {label}", f"{ratio:.2f}", "x")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
