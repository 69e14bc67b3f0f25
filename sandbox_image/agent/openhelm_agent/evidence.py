"""The out dir: steps.jsonl, network.jsonl, screenshots/ and result.json (docs/agent-contract.md)."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StepRecord(BaseModel):
    index: int
    action: str
    args: dict[str, Any]
    url: str
    title: str
    started_at: str
    duration_ms: int
    error: str | None = None
    screenshot: str | None = None
    llm_call: int | None = None  # ordinal of the LLM reply that chose this step (None: no LLM)


class NetworkEntry(BaseModel):
    url: str
    time: str
    status: int | None = None
    blocked: bool = False


class RunResult(BaseModel):
    status: Literal["succeeded", "failed"]
    result: Any = None
    confidence: float | None = None
    summary: str = ""
    error_code: str | None = None
    error_message: str | None = None
    schema_repairs: int = 0
    steps: int = 0


class EvidenceWriter:
    """Appends the run's evidence files in ``out_dir`` (created if missing)."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.screenshots_dir = self.out_dir / "screenshots"
        self.screenshots_dir.mkdir(parents=True, exist_ok=True)
        for name in ("steps.jsonl", "network.jsonl"):
            (self.out_dir / name).touch()
        self._lock = threading.Lock()
        self.steps_written = 0
        # Answers a person gave (secrets): value -> "[redacted:<request id>]", scrubbed from every file.
        self.redactions: dict[str, str] = {}

    def redact(self, value: str, request_id: str) -> None:
        if value:
            self.redactions[value] = f"[redacted:{request_id}]"

    def scrub(self, value: Any) -> Any:
        """``value`` with every answer replaced by its request id (strings, lists, dicts)."""
        if not self.redactions:
            return value
        if isinstance(value, str):
            for secret, label in self.redactions.items():
                value = value.replace(secret, label)
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value

    def screenshot_relpath(self, index: int) -> str:
        return f"screenshots/step-{index:04d}.png"

    def screenshot_path(self, index: int) -> Path:
        return self.out_dir / self.screenshot_relpath(index)

    def _append(self, name: str, line: dict[str, Any]) -> None:
        data = json.dumps(self.scrub(line), ensure_ascii=False, default=str) + "\n"
        with self._lock, open(self.out_dir / name, "a", encoding="utf-8") as fh:
            fh.write(data)

    def write_step(self, record: StepRecord) -> None:
        self._append("steps.jsonl", record.model_dump())
        self.steps_written += 1

    def write_network(self, entry: NetworkEntry) -> None:
        self._append("network.jsonl", entry.model_dump())

    def write_result(self, result: RunResult) -> Path:
        """Write result.json atomically (a reader never sees half a file)."""
        path = self.out_dir / "result.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.scrub(result.model_dump()), ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, path)
        return path
