"""Stand-in for ``openhelm_agent`` in the local sandbox tests. Stdlib only; run as
``python -m standin_agent`` inside the sandbox with the agent-contract environment.

The run spec's ``"standin"`` object picks what it does:

* ``{"mode": "probe", ...}``: look at the sandbox from the inside (identity, writable paths,
  hidden host files, direct network, the proxy), write ``probe.json``, a contract-shaped
  ``result.json`` and a PNG, plus hostile entries for the read_file tests, then POST ``complete``.
* ``{"mode": "hang", "marker": "..."}``: start a grandchild in its own session (like Playwright's
  detached browser), report ``progress``, then wait forever (kill/timeout tests).
* ``{"mode": "chromium", "url": "..."}``: ``chromium --headless --dump-dom`` through the proxy.
* ``{"mode": "playwright", "url": "..."}``: Playwright's Chromium through the proxy.
* ``{"mode": "bench", "url": "...", "n": 50}``: request latencies through the proxy and the control
  channel (``bench_local_sandbox.py``).
* ``{"mode": "syscalls"}``: try the syscalls the seccomp filter refuses; errno names in probe.json.
* ``{"mode": "threads", "max": 5000}``: start threads until the pid limit refuses one; the count.
* ``{"mode": "hog"}``: allocate (and touch) memory without bound, reporting progress every 64 MiB.

Every mode first POSTs a ``progress`` callback with ``"action": "started"`` (the test's "running"
signal). Results that are observations go to ``probe.json``; the test asserts on them.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

# The contract's out-dir writer (devstack/testing/agent_outputs.py, copied beside this file).
from agent_outputs import PNG, result_doc, screenshot_path, write_out_dir

OUT = os.environ.get("OPENHELM_OUT_DIR", "/out")
CONTROL = os.environ.get("OPENHELM_CONTROL_URL", "")
TOKEN = os.environ.get("OPENHELM_RUN_TOKEN", "")
PROXY = os.environ.get("OPENHELM_BROWSER_PROXY", "")
T0 = time.monotonic()


def post(path: str, payload: dict[str, Any]) -> int:
    req = urllib.request.Request(
        CONTROL + path,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as resp:
        return int(resp.status)


def via_proxy(url: str) -> dict[str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": PROXY, "https": PROXY}))
    started = time.monotonic()
    try:
        with opener.open(url, timeout=10) as resp:
            body = resp.read(4096).decode(errors="replace")
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        body = exc.read(4096).decode(errors="replace")
        status = exc.code
    except OSError as exc:
        return {"status": None, "error": repr(exc)}
    return {"status": status, "body": body, "ms": round((time.monotonic() - started) * 1000, 2)}


def connect_via_proxy(host_port: str) -> str:
    host, port = PROXY.rsplit("/", 1)[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"CONNECT {host_port} HTTP/1.1\r\nHost: {host_port}\r\n\r\n".encode())
        return sock.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def err_name(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    return errno.errorcode.get(code, exc.__class__.__name__) if code else exc.__class__.__name__


def try_connect(host: str, port: int) -> str:
    try:
        with socket.create_connection((host, port), timeout=3):
            return "connected"
    except OSError as exc:
        return err_name(exc)


def try_write(path: str) -> str:
    try:
        with open(path, "w") as fh:
            fh.write("x")
        return "ok"
    except OSError as exc:
        return err_name(exc)


def proc_status() -> dict[str, str]:
    with open("/proc/self/status") as fh:
        return dict(line.split(":\t", 1) for line in fh.read().splitlines() if ":\t" in line)


def write_result(status: str = "succeeded", result: Any = None) -> dict[str, Any]:
    doc = result_doc(result, status=status)
    write_out_dir(OUT, {screenshot_path(1): PNG, "result.json": json.dumps(doc).encode()})
    return doc


def probe(cfg: dict[str, Any]) -> dict[str, Any]:
    status = proc_status()
    report: dict[str, Any] = {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "euid": os.geteuid(),
        "groups": os.getgroups(),
        "hostname": socket.gethostname(),
        "env_keys": sorted(os.environ),
        "control_url": CONTROL,
        "proxy_url": PROXY,
        "cap_eff": status.get("CapEff", "").strip(),
        "cap_bnd": status.get("CapBnd", "").strip(),
        "no_new_privs": status.get("NoNewPrivs", "").strip(),
        "pids_visible": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "writes": {p: try_write(p) for p in cfg.get("write_paths", [])},
        "exists": {p: os.path.exists(p) for p in cfg.get("must_not_exist", [])},
    }
    try:
        report["nested_userns"] = subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode
    except OSError as exc:
        report["nested_userns"] = err_name(exc)
    try:
        report["root_listing"] = sorted(os.listdir("/root"))
    except OSError as exc:
        report["root_listing"] = err_name(exc)
    if "direct_port" in cfg:
        report["direct_loopback"] = try_connect("127.0.0.1", int(cfg["direct_port"]))
    report["direct_remote"] = try_connect("192.0.2.1", 80)
    try:
        socket.getaddrinfo("example.com", 80)
        report["dns"] = "resolved"
    except OSError as exc:
        report["dns"] = err_name(exc)
    report["proxy"] = {name: via_proxy(url) for name, url in cfg.get("proxy_urls", {}).items()}
    report["connect"] = {hp: connect_via_proxy(hp) for hp in cfg.get("connect_targets", [])}

    # Hostile out-dir entries for the read_file/list_files tests.
    os.makedirs(os.path.join(OUT, "sub"), exist_ok=True)
    with open(os.path.join(OUT, "sub", "ok.txt"), "w") as fh:
        fh.write("fine")
    os.symlink("/etc/shadow", os.path.join(OUT, "link-shadow"))
    os.symlink("/", os.path.join(OUT, "dirlink"))
    os.symlink("../../../../../etc/passwd", os.path.join(OUT, "sub", "rel-link"))
    os.mkfifo(os.path.join(OUT, "fifo"))
    return report


def hang(cfg: dict[str, Any]) -> None:
    marker = cfg.get("marker", "standin-hang")
    if cfg.get("record_sigterm"):

        def on_term(signum: int, _frame: object) -> None:
            with open(os.path.join(OUT, "sigterm.txt"), "w") as fh:
                fh.write(f"got signal {signum}")
            os._exit(0)

        signal.signal(signal.SIGTERM, on_term)
    subprocess.Popen(
        [sys.executable, "-c", "import threading; threading.Event().wait()", marker], start_new_session=True
    )
    with open(os.path.join(OUT, "hang.txt"), "w") as fh:
        fh.write("hanging")
    post(f"/internal/runs/{RUN_ID}/progress", {"step": 1, "action": "hanging"})
    threading.Event().wait()


def chromium(cfg: dict[str, Any]) -> dict[str, Any]:
    cmd = [
        os.environ.get("OPENHELM_CHROMIUM", "/usr/bin/chromium"),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--user-data-dir=/tmp/chromium-profile",
        f"--proxy-server={PROXY}",
        "--proxy-bypass-list=<-loopback>",
        "--dump-dom",
        cfg["url"],
    ]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, timeout=60)
    return {
        "returncode": done.returncode,
        "dom": done.stdout.decode(errors="replace"),
        "stderr_tail": done.stderr.decode(errors="replace")[-3000:],
        "ms": round((time.monotonic() - started) * 1000, 1),
    }


def playwright(cfg: dict[str, Any]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright  # type: ignore[import-not-found]

    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("OPENHELM_CHROMIUM", "/usr/bin/chromium"),
            proxy={"server": PROXY},
            args=["--disable-gpu"],
        )
        launched = time.monotonic()
        page = browser.new_page()
        page.goto(cfg["url"])
        title = page.title()
        shot = page.screenshot()
        browser.close()
    with open(os.path.join(OUT, "playwright.png"), "wb") as fh:
        fh.write(shot)
    return {
        "title": title,
        "launch_ms": round((launched - started) * 1000, 1),
        "total_ms": round((time.monotonic() - started) * 1000, 1),
    }


def bench(cfg: dict[str, Any]) -> dict[str, Any]:
    """Per-request latency through the proxy and through the control channel (fresh connections)."""
    n = int(cfg.get("n", 50))
    proxied = [via_proxy(cfg["url"])["ms"] for _ in range(n)]
    control = []
    for _ in range(n):
        started = time.monotonic()
        post(f"/internal/runs/{RUN_ID}/progress", {"step": 0, "action": "bench"})
        control.append(round((time.monotonic() - started) * 1000, 2))
    return {"proxy_ms": proxied, "control_ms": control}


RUN_ID = "unknown"


def syscalls(cfg: dict[str, Any]) -> dict[str, Any]:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def attempt(nr: int, *args: int) -> str:
        ctypes.set_errno(0)
        res = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
        return "ok" if res >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

    # x86_64 numbers: ptrace 101, unshare 272, keyctl 250, bpf 321, userfaultfd 323,
    # perf_event_open 298, io_uring_setup 425, clone3 435, getpid 39 (allowed: the control)
    return {
        "seccomp": proc_status().get("Seccomp", "").strip(),
        "getpid": attempt(39),
        "ptrace": attempt(101, 0, 0, 0, 0),  # PTRACE_TRACEME
        "unshare_user": attempt(272, 0x10000000),
        "keyctl": attempt(250, 0, 0, 0, 0, 0),
        "bpf": attempt(321, 0, 0, 0),
        "userfaultfd": attempt(323, 0),
        "perf_event_open": attempt(298, 0, 0, -1, -1, 0),
        "io_uring_setup": attempt(425, 1, 0),
        "clone3": attempt(435, 0, 0),
    }


def threads(cfg: dict[str, Any]) -> dict[str, Any]:
    started = 0
    stop = threading.Event()
    error = None
    try:
        for _ in range(int(cfg.get("max", 5000))):
            threading.Thread(target=stop.wait, daemon=True).start()
            started += 1
    except RuntimeError as exc:  # "can't start new thread": the pid limit
        error = str(exc)
    stop.set()
    return {"threads": started, "error": error}


def hog(cfg: dict[str, Any]) -> None:
    keep = []
    while True:
        block = bytearray(64 * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        keep.append(block)
        post(f"/internal/runs/{RUN_ID}/progress", {"step": len(keep), "action": "hog"})


def main() -> int:
    global RUN_ID
    with open(os.environ["OPENHELM_RUN_SPEC"]) as fh:
        spec = json.load(fh)
    RUN_ID = spec["run_id"]
    cfg = spec.get("standin", {})
    mode = cfg.get("mode", "probe")
    sys.stderr.write(json.dumps({"event": "standin started", "mode": mode}) + "\n")
    sys.stderr.flush()
    post(f"/internal/runs/{RUN_ID}/progress", {"step": 0, "action": "started", "t": time.monotonic() - T0})
    if mode == "hang":
        hang(cfg)
        return 0
    if mode == "hog":
        hog(cfg)
        return 0
    if mode == "exit":
        if "marker" in cfg:  # leave a detached process behind, as a crashed agent leaves Chromium
            subprocess.Popen(
                [sys.executable, "-c", "import threading; threading.Event().wait()", cfg["marker"]],
                start_new_session=True,
            )
        return int(cfg.get("code", 3))
    modes = {"probe": probe, "chromium": chromium, "playwright": playwright, "bench": bench}
    report = {**modes, "syscalls": syscalls, "threads": threads}[mode](cfg)
    with open(os.path.join(OUT, "probe.json"), "w") as fh:
        json.dump(report, fh)
    doc = write_result(result={"mode": mode})
    post(f"/internal/runs/{RUN_ID}/complete", doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
