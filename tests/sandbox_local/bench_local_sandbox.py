"""Figures of the local sandbox (not a test; prints to stdout). Run from the repo root:

    .venv/bin/python -m tests.sandbox_local.bench_local_sandbox [--quick]

Every figure is measured for the bubblewrap sandbox and for the unisolated subprocess fallback, which
is the baseline: the difference is what the isolation costs. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable

from shared.logging import configure
from shared.sandbox.local.egress_policy import EgressPolicy
from shared.sandbox.local.egress_server import EgressProxy
from tests.sandbox_local.conftest import (
    RecordingServer,
    bwrap_ready,
    make_provider,
    make_request,
    python_has,
)


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def summary(name: str, values: list[float]) -> None:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    out(f"  {name:<46} median {statistics.median(values):8.1f} ms   p90 {p90:8.1f} ms   n={len(values)}")


def timed(fn: Callable[[], object]) -> float:
    started = time.monotonic()
    fn()
    return (time.monotonic() - started) * 1000


def main() -> None:
    quick = "--quick" in sys.argv
    runs = 5 if quick else 20
    configure(level="ERROR")
    control = RecordingServer().start()
    html = b"<html><head><title>Allowed page</title></head><body>bench</body></html>"
    page = RecordingServer(body=html, content_type="text/html").start()
    modes = ["bwrap", "subprocess"] if bwrap_ready() else ["subprocess"]
    out(f"local sandbox figures (cpus={os.cpu_count()}, load={os.getloadavg()[0]:.2f}, runs={runs})")

    for isolation in modes:
        out(f"\n[{isolation}]")
        with make_provider(isolation=isolation, allow_loopback=True) as prov:
            start_ms, running_ms, kill_ms = [], [], []
            for _ in range(runs):
                while not control.hits.empty():
                    control.hits.get_nowait()
                t0 = time.monotonic()
                info = prov.start(make_request(control.url, {"mode": "hang"}))
                start_ms.append((time.monotonic() - t0) * 1000)
                hit = control.wait_for(lambda h: h.path.endswith("/progress") and b"started" in h.body)
                running_ms.append((hit.at - t0) * 1000)
                control.wait_for(lambda h: h.path.endswith("/progress") and b"hanging" in h.body)
                kill_ms.append(timed(lambda sid=info.sandbox_id: prov.kill(sid)))
            summary("start() returns", start_ms)
            summary("start -> stand-in's first callback received", running_ms)
            summary("kill() of a live sandbox (tree gone)", kill_ms)

            info = prov.start(make_request(control.url, {"mode": "bench", "url": f"{page.url}/b", "n": 100}))
            assert prov.wait(info.sandbox_id, timeout=120) == 0
            report = json.loads(prov.read_file(info.sandbox_id, "probe.json"))
            summary("GET page through the proxy (new conn each)", report["proxy_ms"])
            summary("POST callback through the control channel", report["control_ms"])
            prov.kill(info.sandbox_id)

            if os.access("/usr/bin/chromium", os.X_OK):
                values = []
                for _ in range(3 if quick else 5):
                    info = prov.start(make_request(control.url, {"mode": "chromium", "url": f"{page.url}/c"}))
                    assert prov.wait(info.sandbox_id, timeout=120) == 0
                    values.append(json.loads(prov.read_file(info.sandbox_id, "probe.json"))["ms"])
                    prov.kill(info.sandbox_id)
                summary("chromium --headless --dump-dom (whole process)", values)
            if python_has("playwright"):
                launch, total = [], []
                for _ in range(3 if quick else 5):
                    info = prov.start(make_request(control.url, {"mode": "playwright", "url": f"{page.url}/p"}))
                    assert prov.wait(info.sandbox_id, timeout=120) == 0
                    report = json.loads(prov.read_file(info.sandbox_id, "probe.json"))
                    launch.append(report["launch_ms"])
                    total.append(report["total_ms"])
                    prov.kill(info.sandbox_id)
                summary("playwright chromium.launch()", launch)
                summary("playwright launch+goto+screenshot+close", total)

    out("\n[host, no sandbox: proxy cost without the bridge]")
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    summary("GET page directly", [timed(lambda: direct.open(f"{page.url}/d").read()) for _ in range(100)])
    proxy = EgressProxy(EgressPolicy.build(allow_loopback=True), run_id="bench")
    host, port = proxy.listen_tcp()
    via = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://{host}:{port}"}))
    proxied = [timed(lambda: via.open(f"{page.url}/v").read()) for _ in range(100)]
    summary("GET page through EgressProxy over TCP", proxied)
    proxy.stop()
    control.stop()
    page.stop()


if __name__ == "__main__":
    main()
