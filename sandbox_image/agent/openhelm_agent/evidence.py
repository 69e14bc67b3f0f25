"""The out dir: steps.jsonl, network.jsonl, screenshots/ and result.json (docs/agent-contract.md)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

# Downloads a run keeps (README "Files"): each at most this size, at most this many.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_DOWNLOADS = 20
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


def _safe_name(name: str) -> str:
    """A download's suggested name as a plain file name: no path, no odd characters, ≤ 100 chars."""
    base = _UNSAFE_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return base[:100] or "download"


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
    by: str | None = None  # a session's direct action: "api", or "person" (a take-over's manual action)


class NetworkEntry(BaseModel):
    url: str
    time: str
    status: int | None = None
    blocked: bool = False


class DownloadEntry(BaseModel):
    name: str
    size: int
    sha256: str | None = None
    source_url: str
    path: str | None = None  # relative to the out dir; None when not kept
    kept: bool = True
    reason: str | None = None


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
        # The run's secrets (SecretBook), masked in every line and in result.json; set by run.py.
        self.masker: Any = None
        self.screenshots_dir = self.out_dir / "screenshots"
        self.screenshots_dir.mkdir(parents=True, exist_ok=True)
        self.downloads_dir = self.out_dir / "downloads"
        for name in ("steps.jsonl", "network.jsonl", "downloads.jsonl"):
            (self.out_dir / name).touch()
        self.downloads_kept = 0
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
        if self.masker is not None:
            line = self.masker.mask_data(line)
        data = json.dumps(self.scrub(line), ensure_ascii=False, default=str) + "\n"
        with self._lock, open(self.out_dir / name, "a", encoding="utf-8") as fh:
            fh.write(data)

    def write_step(self, record: StepRecord) -> None:
        self._append("steps.jsonl", record.model_dump())
        self.steps_written += 1

    def write_network(self, entry: NetworkEntry) -> None:
        self._append("network.jsonl", entry.model_dump())

    def keep_download(self, download: Any) -> str:
        """Copy a finished Playwright download into ``downloads/`` (at most MAX_DOWNLOAD_BYTES each,
        MAX_DOWNLOADS per run), log it in downloads.jsonl; the line that tells the model."""
        url = str(getattr(download, "url", ""))
        name = _safe_name(str(getattr(download, "suggested_filename", "") or "download"))
        try:
            failure = download.failure()
            source = download.path() if failure is None else None
        except Exception as exc:  # the page went away mid-download
            failure, source = str(exc)[:200], None
        if source is None:
            self._append_download(DownloadEntry(name=name, size=0, source_url=url, kept=False, reason=failure))
            return f"The download of {name} failed ({failure})."
        size = os.path.getsize(source)
        if size > MAX_DOWNLOAD_BYTES or self.downloads_kept >= MAX_DOWNLOADS:
            why = (
                f"{size} bytes is more than the {MAX_DOWNLOAD_BYTES} a run keeps"
                if size > MAX_DOWNLOAD_BYTES
                else f"a run keeps at most {MAX_DOWNLOADS} downloads"
            )
            self._append_download(DownloadEntry(name=name, size=size, source_url=url, kept=False, reason=why))
            with contextlib.suppress(Exception):
                download.delete()
            return f"Downloaded {name}, but it was not kept: {why}."
        self.downloads_kept += 1
        self.downloads_dir.mkdir(exist_ok=True)
        rel = f"downloads/{self.downloads_kept:04d}-{name}"
        digest = hashlib.sha256()
        with open(source, "rb") as src, open(self.out_dir / rel, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                dst.write(chunk)
        self._append_download(DownloadEntry(name=name, size=size, sha256=digest.hexdigest(), source_url=url, path=rel))
        return f"Downloaded {name} ({size} bytes); it is kept with the run's files."

    def _append_download(self, entry: DownloadEntry) -> None:
        self._append("downloads.jsonl", entry.model_dump())

    def write_result(self, result: RunResult) -> Path:
        """Write result.json atomically (a reader never sees half a file)."""
        path = self.out_dir / "result.json"
        tmp = path.with_suffix(".json.tmp")
        data = result.model_dump()
        if self.masker is not None:
            data = self.masker.mask_data(data)
        tmp.write_text(json.dumps(self.scrub(data), ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, path)
        return path
