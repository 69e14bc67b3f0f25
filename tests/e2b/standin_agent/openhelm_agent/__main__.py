"""Stand-in for the real agent in E2B wire tests: honours the env contract, writes evidence, lingers.

Stdlib only. Reads ``OPENHELM_RUN_SPEC``, writes ``result.json``, ``steps.jsonl``, ``network.jsonl``,
``screenshots/step-0001.png`` (with ``agent_outputs``, which the fake image puts beside it) and
``env.json`` (which contract variables it saw) under ``OPENHELM_OUT_DIR``, then sleeps
``standin_linger_s`` seconds from the spec (so a test can kill it). With ``standin_die`` it kills
itself with SIGKILL right after ``env.json`` instead. A session spec (``mode: session``)
makes it serve its mailbox instead: every command file in ``OPENHELM_MAILBOX`` gets a reply
``replies/<id>.json`` echoing it, until a ``close`` command.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from agent_outputs import done_step, out_files, result_doc, screenshot_path, write_out_dir


def serve(out: Path, mailbox: Path) -> None:
    (out / "replies").mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    while True:
        names = (
            sorted(n for n in os.listdir(mailbox) if n.endswith(".json") and n not in seen) if mailbox.is_dir() else []
        )
        for name in names:
            try:
                command = json.loads((mailbox / name).read_text())
            except ValueError:  # not all written yet
                break
            seen.add(name)
            reply = {"id": command["id"], "ok": True, "result": {"echo": command}}
            tmp = out / "replies" / f"{command['id']}.tmp"
            tmp.write_text(json.dumps(reply))
            tmp.rename(out / "replies" / f"{command['id']}.json")
            if command.get("kind") == "close":
                return
        time.sleep(0.02)


def main() -> None:
    spec = json.loads(Path(os.environ["OPENHELM_RUN_SPEC"]).read_text())
    if spec.get("mode") == "session":
        serve(Path(os.environ["OPENHELM_OUT_DIR"]), Path(os.environ["OPENHELM_MAILBOX"]))
        return
    out = Path(os.environ["OPENHELM_OUT_DIR"])
    write_out_dir(out, out_files(None, [done_step(spec.get("start_url"), screenshot=screenshot_path(1))]))
    seen = {
        name: os.environ.get(name)
        for name in (
            "OPENHELM_RUN_SPEC",
            "OPENHELM_OUT_DIR",
            "OPENHELM_CONTROL_URL",
            "OPENHELM_LLM_URL",
            "OPENHELM_CHROMIUM",
        )
    }
    seen["OPENHELM_RUN_TOKEN"] = os.environ.get("OPENHELM_RUN_TOKEN")
    seen["cwd"] = os.getcwd()
    seen["pid"] = os.getpid()
    (out / "env.json").write_text(json.dumps(seen))
    if spec.get("standin_die"):  # die as kill -9 would leave it: no result.json, no callback
        os.kill(os.getpid(), signal.SIGKILL)
    # Written last and atomically: its presence means the agent finished its evidence.
    write_out_dir(out, {"result.json": json.dumps(result_doc({"echo": spec["prompt"]})).encode()})
    time.sleep(float(spec.get("standin_linger_s", 0)))


if __name__ == "__main__":
    main()
