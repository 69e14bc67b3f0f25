"""HTTP load generator for the API benchmark, run as its own process (an in-process client would
be slowed by moto's patching of the requests library and share the GIL with the server).

    python bench/load.py URL KEY --pairs N --threads T  → one JSON line of latencies
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

BODY = json.dumps({"prompt": "Benchmark run: count the links", "output_schema": {"type": "object"}})


def worker(url: str, key: str, n: int, out: list[tuple[float, float, int]]) -> None:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for _ in range(n):
        a = time.perf_counter()
        conn.request("POST", "/v1/runs", body=BODY, headers=headers)
        r = conn.getresponse()
        payload = json.loads(r.read())
        b = time.perf_counter()
        status = r.status
        if status != 202:
            sys.stderr.write(f"POST {status}: {json.dumps(payload)[:600]}\n")
        if status == 202:
            conn.request("GET", f"/v1/runs/{payload['task_id']}", headers=headers)
            g = conn.getresponse()
            gbody = g.read()
            if g.status != 200:
                sys.stderr.write(f"GET {g.status}: {gbody[:600]!r}\n")
                status = g.status
        c = time.perf_counter()
        out.append(((b - a) * 1000, (c - b) * 1000, status))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("key")
    p.add_argument("--pairs", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    results: list[tuple[float, float, int]] = []
    per = max(1, args.pairs // args.threads)
    threads = [threading.Thread(target=worker, args=(args.url, args.key, per, results)) for _ in range(args.threads)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    sys.stdout.write(
        json.dumps(
            {
                "wall_s": wall,
                "post_ms": [r[0] for r in results],
                "get_ms": [r[1] for r in results],
                "statuses": [r[2] for r in results],
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
