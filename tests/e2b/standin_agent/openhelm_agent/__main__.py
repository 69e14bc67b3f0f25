"""Stand-in for the real agent in E2B wire tests: honours the env contract, writes evidence, lingers.

Stdlib only. Reads ``OPENHELM_RUN_SPEC``, writes ``result.json``, ``steps.jsonl``, ``network.jsonl``,
``screenshots/step-0001.png`` and ``env.json`` (which contract variables it saw) under
``OPENHELM_OUT_DIR``, then sleeps ``standin_linger_s`` seconds from the spec (so a test can kill it).
With ``standin_die`` it kills itself with SIGKILL right after ``env.json`` instead. A session spec
(``mode: session``) makes it serve its mailbox instead: every command file in ``OPENHELM_MAILBOX`` gets
a reply ``replies/<id>.json`` echoing it, until a ``close`` command.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import time
import zlib
from pathlib import Path


def tiny_png() -> bytes:
    """A valid 1x1 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x10\x20\x30")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


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
    (out / "screenshots").mkdir(parents=True, exist_ok=True)
    (out / "screenshots" / "step-0001.png").write_bytes(tiny_png())
    step = {
        "index": 1,
        "action": "done",
        "args": {},
        "url": spec.get("start_url"),
        "screenshot": "screenshots/step-0001.png",
    }
    (out / "steps.jsonl").write_text(json.dumps(step) + "\n")
    (out / "network.jsonl").write_text("")
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
    result = {
        "status": "succeeded",
        "result": {"echo": spec["prompt"]},
        "confidence": 0.9,
        "summary": "stand-in agent",
        "error_code": None,
        "error_message": None,
        "schema_repairs": 0,
        "steps": 1,
    }
    # Written last and atomically: its presence means the agent finished its evidence.
    tmp = out / "result.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.rename(out / "result.json")
    time.sleep(float(spec.get("standin_linger_s", 0)))


if __name__ == "__main__":
    main()
