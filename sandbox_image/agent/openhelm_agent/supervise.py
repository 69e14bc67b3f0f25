"""The sandbox's start command: run the agent and report its exit if it did not hand in its result.

    python -I -S supervise.py -- python -m openhelm_agent          (the local sandbox copies this file in)
    python -m openhelm_agent.supervise -- python -m openhelm_agent  (the E2B image)

Why: no Lambda is alive while an agent runs (the run waits on a task token), so an agent that dies
without its completion callback (kill -9, the OOM killer, a crash of Python itself) used to be found
only by the reaper, a minute later. The supervisor is the agent's parent; when the agent exits
without having told it "my completion was accepted" it POSTs
``{OPENHELM_CONTROL_URL}/internal/runs/{run_id}/exit`` (Bearer ``OPENHELM_RUN_TOKEN``) with the exit
code or signal, and the control plane ends the run at once (docs/agent-contract.md). The control
plane bills up to the moment *it* received the report; the times here are only informative.

How the agent says its completion was accepted: the supervisor hands it the write end of a pipe
(``OPENHELM_COMPLETION_FD``) and the agent writes one line to it after a 2xx from ``/complete``. A
pipe, not a file: nothing to clean up, nothing another process can plant.

Constraints: standard library only and no import of the package (the local sandbox runs this file
with ``python -I -S``; ``openhelm_agent/__init__`` is lazy anyway); never log the token. Exits with
the agent's status (128 + signal when it was killed). SIGTERM/SIGINT/SIGHUP are forwarded to it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote

COMPLETION_FD_ENV = "OPENHELM_COMPLETION_FD"
COMPLETED_LINE = b"completed\n"
REPORT_ATTEMPTS = 3
REPORT_TIMEOUT_S = 5.0
# The supervisor must outlive the agent under memory pressure: make the agent (and Chromium, which
# inherits it) the OOM killer's first choice. Raising one's own score needs no privilege.
AGENT_OOM_SCORE_ADJ = "500"


def _log(message: str) -> None:
    sys.stderr.write(f"openhelm-supervisor: {message}\n")
    sys.stderr.flush()


def _run_id(spec_path: str | None) -> str | None:
    if not spec_path:
        return None
    try:
        with open(spec_path, encoding="utf-8") as fh:
            spec = json.load(fh)
        # A session's agent (serve mode) reports under its session id: the session fails at once.
        run_id = spec.get("session_id") if spec.get("mode") == "session" else spec.get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    return run_id if isinstance(run_id, str) and run_id else None


def _run_env() -> dict[str, str]:
    """The run's contract variables: the environment's, or in a warm sandbox what was handed in
    (``OPENHELM_HANDOUT``/handout.json, openhelm_agent/warm.py; nothing when no run came)."""
    env = dict(os.environ)
    handout = env.pop("OPENHELM_HANDOUT", "")
    if not handout:
        return env
    try:
        with open(os.path.join(handout, "handout.json"), encoding="utf-8") as fh:
            given = json.load(fh).get("env") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    keys = ("OPENHELM_CONTROL_URL", "OPENHELM_RUN_TOKEN")
    spec = os.path.join(handout, "run_spec.json")
    return {**{k: str(given[k]) for k in keys if k in given}, "OPENHELM_RUN_SPEC": spec}


def _raise_oom_score() -> None:
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as fh:
        fh.write(AGENT_OOM_SCORE_ADJ)


def exit_report(returncode: int, started: float, ended: float) -> dict[str, object]:
    """The body of the exit report for a ``Popen.returncode`` (negative: killed by that signal)."""
    report: dict[str, object] = {
        "reporter": "supervisor",
        "exit_code": returncode if returncode >= 0 else None,
        "signal": -returncode if returncode < 0 else None,
        "ran_s": round(ended - started, 3),
    }
    return report


def post_report(url: str, token: str, report: dict[str, object]) -> int | None:
    """POST the report, a few quick attempts on network errors, 429 and 5xx; the last HTTP status."""
    body = json.dumps(report).encode()
    status: int | None = None
    delay = 0.25
    for attempt in range(1, REPORT_ATTEMPTS + 1):
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=REPORT_TIMEOUT_S) as response:
                response.read()
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = int(exc.code)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            _log(f"exit report not delivered (attempt {attempt}): {type(exc).__name__}")
            status = None
        if status is not None and status < 500 and status != 429:
            return status
        if attempt < REPORT_ATTEMPTS:
            time.sleep(delay)
            delay *= 2
    return status


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "--" or len(argv) < 2:
        _log("usage: supervise.py -- CMD [ARGS...]")
        return 2
    command = argv[1:]
    read_end, write_end = os.pipe()
    env = {**os.environ, COMPLETION_FD_ENV: str(write_end)}
    started = time.monotonic()
    try:
        child = subprocess.Popen(command, env=env, pass_fds=(write_end,), preexec_fn=_raise_oom_score)
    except OSError as exc:
        _log(f"cannot start the agent: {exc}")
        child = None
    os.close(write_end)

    if child is not None:

        def forward(signum: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, forward)
        returncode = child.wait()
    else:
        returncode = 127
    ended = time.monotonic()

    # Whatever the agent wrote before it ended (a grandchild holding the fd cannot block us).
    os.set_blocking(read_end, False)
    try:
        said = os.read(read_end, 64)
    except BlockingIOError:
        said = b""
    os.close(read_end)
    code = returncode if returncode >= 0 else 128 - returncode
    if COMPLETED_LINE in said:
        return code

    env = _run_env()
    control_url = env.get("OPENHELM_CONTROL_URL", "").rstrip("/")
    token = env.get("OPENHELM_RUN_TOKEN", "")
    run_id = _run_id(env.get("OPENHELM_RUN_SPEC"))
    how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
    if not (control_url and token and run_id):
        _log(f"agent ended ({how}) without a completion; nothing to report to (no run id or control URL)")
        return code
    url = f"{control_url}/internal/runs/{quote(run_id, safe='')}/exit"
    status = post_report(url, token, exit_report(returncode, started, ended))
    _log(f"agent ended ({how}) without a completion; exit report answered {status}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
