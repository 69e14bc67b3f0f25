"""The agent contract's out-dir files (docs/agent-contract.md), as every stand-in agent writes them:
result.json, steps.jsonl, network.jsonl and the screenshots.

Stdlib only and self-contained: stand-in agents that run inside a sandbox import it as the top-level
module ``agent_outputs`` (the tests copy this file next to them), the host-side doubles as
``devstack.testing.agent_outputs``.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def tiny_png() -> bytes:
    """A valid 1x1 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0"))
        + chunk(b"IEND", b"")
    )


PNG = tiny_png()


def screenshot_path(index: int) -> str:
    return f"screenshots/step-{index:04d}.png"


def result_doc(
    result: Any,
    *,
    status: str = "succeeded",
    confidence: float | None = 0.9,
    summary: str = "stand-in agent",
    steps: int = 1,
    error_code: str | None = None,
    error_message: str | None = None,
    schema_repairs: int = 0,
) -> dict[str, Any]:
    """result.json's document."""
    return {
        "status": status,
        "result": result,
        "confidence": confidence,
        "summary": summary,
        "error_code": error_code,
        "error_message": error_message,
        "schema_repairs": schema_repairs,
        "steps": steps,
    }


def done_step(url: str | None, index: int = 1, **extra: Any) -> dict[str, Any]:
    """A steps.jsonl record of a ``done`` action."""
    return {"index": index, "action": "done", "args": {}, "url": url, **extra}


def _jsonl(records: Iterable[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def out_files(
    result: Mapping[str, Any] | None,
    steps: Iterable[Mapping[str, Any]] = (),
    network: Iterable[Mapping[str, Any]] = (),
    screenshots: Iterable[int] = (1,),
) -> dict[str, bytes]:
    """The out dir's files by path: steps.jsonl and network.jsonl (maybe empty), a PNG per screenshot
    index and, unless ``result`` is None, result.json (last: the contract writes it at the end)."""
    files = {"steps.jsonl": _jsonl(steps), "network.jsonl": _jsonl(network)}
    files |= {screenshot_path(i): PNG for i in screenshots}
    if result is not None:
        files["result.json"] = json.dumps(result).encode()
    return files


def write_out_dir(out: str | os.PathLike[str], files: Mapping[str, bytes]) -> None:
    """Write ``files`` (from :func:`out_files`) under ``out``; result.json last and atomically
    (temp file + rename), as the agent does: its presence means the rest is there."""
    base = Path(out)
    for path, data in sorted(files.items(), key=lambda kv: kv[0] == "result.json"):
        target = base / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.rename(target)
