"""The run viewer and the trace bundle at the largest run the evidence keeps (200 screenshots):
how big the page is (it must stay far below Lambda's 6 MB answer, with the screenshots outside it),
how long rendering and zipping take, and how big the zip gets.

    .venv/bin/python bench/viewer.py [--steps 200] [--shot-kb 150]

Pure computation (no S3): the S3 reads a first download adds are 8 at a time (shared/viewer/service.py).
"""

from __future__ import annotations

import argparse
import os
import time

from common import line

from shared.viewer import bundle, links
from shared.viewer.page import offline_page, render


def fake_run(steps: int) -> dict:
    return {
        "id": "run_01JD8X0000000000000000000A",
        "status": "succeeded",
        "prompt": "List every product with its price " * 20,
        "model": "gpt-4.1-mini",
        "result": {"items": [{"name": f"item {i}", "price": i} for i in range(200)]},
        "confidence": {"score": 0.82, "reason": "model reported 0.82"},
        "steps": [
            {
                "index": i,
                "action": "click",
                "args": {"ref": f"e{i}"},
                "url": f"https://shop.example/page/{i}?q=" + "x" * 200,
                "title": f"Page {i}",
                "started_at": "2026-01-01T00:00:00Z",
                "duration_ms": 500 + i,
                "llm_call": i,
                "input_tokens": 5000,
                "output_tokens": 40,
                "cost_usd": "0.002064",
            }
            for i in range(1, steps + 1)
        ],
        "evidence": [
            {
                "step": i,
                "path": f"screenshots/step-{i:04d}.png",
                "screenshot_url": f"https://bucket.s3.eu-west-1.amazonaws.com/evidence/org/run/screenshots/step-{i:04d}"
                ".png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + "A" * 200 + "&X-Amz-Signature=" + "f" * 64,
            }
            for i in range(1, steps + 1)
        ],
        "network": [{"url": f"https://shop.example/asset/{i}.js", "time": "2026-01-01T00:00:00Z"} for i in range(2000)],
        "usage": {"input_tokens": 1_000_000, "output_tokens": 8000, "cost_usd": "0.412800", "cost_status": "billed"},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--shot-kb", type=int, default=150)
    args = parser.parse_args()
    run = fake_run(args.steps)

    started = time.perf_counter()
    html = render(run, "footer")
    line("live page: render", (time.perf_counter() - started) * 1000, "ms", f"{args.steps} steps, 2,000 requests")
    line("live page: size (Lambda answers ≤ 6 MB)", len(html.encode()) / 1e6, "MB", "screenshots by URL, not inside")

    key = b"k" * 32
    started = time.perf_counter()
    for _ in range(1000):
        links.verify(key, links.mint(key, "org_x", "run_x", 2_000_000_000), "run_x", 1_900_000_000)
    line("viewer link: mint + verify", (time.perf_counter() - started) * 1000, "µs", "each (1,000 rounds)")

    shots = [(e["path"], os.urandom(args.shot_kb * 1024)) for e in run["evidence"]]  # PNGs do not compress
    files = [("run.json", html.encode()[:200_000]), *shots, ("index.html", offline_page(run, "x").encode())]
    started = time.perf_counter()
    data = bundle.pack(files, run_id=run["id"], org_id="org_x", created_at="", key=key)
    line("bundle: zip + sign", (time.perf_counter() - started) * 1000, "ms", f"{len(files)} files")
    line("bundle: size", len(data) / 1e6, "MB", f"{args.shot_kb} KB screenshots; a presigned download")


if __name__ == "__main__":
    main()
