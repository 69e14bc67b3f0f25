"""Evidence: after a run ends, copy its screenshots and step records from the sandbox to S3, write a
manifest with the SHA-256 of every file, kill the sandbox and announce ``Evidence Ready``.

Runs in the evidence function, triggered by the run-finished events on the bus (Finalize and Cleanup
leave the sandbox alive for it). Safe to run more than once for a run: a run whose evidence is
``ready`` or ``unavailable`` is skipped, and copying again overwrites the same keys.

Every outcome is recorded on the run (``evidence_status``) and announced, so webhooks go out
whatever happened to the files:

- ``ready``: every file copied, the manifest written, the sandbox killed;
- ``unavailable``: there is nothing to copy (the run never got a sandbox, or the sandbox was gone);
- ``failed``: S3 refused the copy (after botocore's retries). The sandbox is left alive, so a later
  invocation (EventBridge's retry, or an operator replaying the event) can still copy; the reaper
  kills it once ``evidence_grace_s`` has passed.
"""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass
from typing import Any

from shared import profiles
from shared.aws.evidence_store import EvidenceStoreUnavailable
from shared.errors import OpenHelmError
from shared.logging import get_logger
from shared.models.common import TERMINAL_STATUSES
from shared.models.run_record import RunRecord
from shared.orchestration.outputs import evidence_item, read_outputs
from shared.sandbox.base import SandboxError, SandboxNotFound, UnsafePath
from shared.services import Services
from shared.sessions.paths import task_dir

log = get_logger(__name__)

# The agent's final storage_state when the run persists its profile (never copied to the evidence).
PROFILE_STATE_FILE = "storage_state.json"
RECORD_FILES = ("steps.jsonl", "network.jsonl", "result.json", "downloads.jsonl")
# The agent's caps on downloads (sandbox_image/agent/openhelm_agent/evidence.py), enforced again here.
MAX_DOWNLOADS = 20
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_DOWNLOADS_LOG = 256 * 1024
_DOWNLOAD_PATH = re.compile(r"^downloads/[0-9]{4}-[A-Za-z0-9._ -]{1,100}$")
MAX_SCREENSHOTS = 200
DONE_STATES = ("ready", "unavailable")


@dataclass(frozen=True)
class EvidenceOutcome:
    status: str  # ready | unavailable | failed | skipped
    files: int = 0
    manifest_key: str | None = None
    error: str | None = None


def prefix(org_id: str, run_id: str) -> str:
    return f"evidence/{org_id}/{run_id}/"


def collect(svc: Services, org_id: str, run_id: str) -> EvidenceOutcome:
    run = svc.runs.get(org_id, run_id, consistent=True)
    if run is None or not run.status.is_terminal:
        log.warning("evidence_skipped", run_id=run_id, reason="missing or not finished")
        return EvidenceOutcome("skipped")
    if run.evidence_status in DONE_STATES:
        if not run.evidence_announced:  # recorded, but the event did not go out: announce again
            _announce(svc, run, run.evidence_status, 0, run.evidence_error)
        return EvidenceOutcome("skipped")
    sandbox_id = run.sandbox_id
    if not sandbox_id:
        _persist_profile(svc, run, None)  # nothing to save: the lease goes
        return _record(svc, run, EvidenceOutcome("unavailable", error="the run never had a sandbox"), [])
    try:
        items, files, manifest_key, downloads = _copy(svc, org_id, run_id, sandbox_id, task_dir(run))
    except SandboxNotFound:
        _persist_profile(svc, run, None)
        outcome = EvidenceOutcome("unavailable", error="the sandbox was gone before its evidence was copied")
        return _record(svc, run, outcome, [])
    except SandboxError as exc:
        return _record(svc, run, EvidenceOutcome("failed", error=f"reading the sandbox failed: {exc}"[:500]), [])
    except EvidenceStoreUnavailable as exc:  # S3, after botocore's own retries
        return _record(svc, run, EvidenceOutcome("failed", error=exc.message[:500]), [])
    _persist_profile(svc, run, sandbox_id)
    if not run.session_id or _session_closed(svc, run):  # a live session keeps its sandbox
        _kill(svc, sandbox_id, run_id)
    return _record(svc, run, EvidenceOutcome("ready", files=files, manifest_key=manifest_key), items, downloads)


def _session_closed(svc: Services, run: RunRecord) -> bool:
    assert run.session_id is not None
    session = svc.sessions.get(run.org_id, run.session_id, consistent=True)
    return session is None or session["status"] in ("closed", "expired", "failed")


def _copy(
    svc: Services, org_id: str, run_id: str, sandbox_id: str, base_dir: str = ""
) -> tuple[list[dict[str, Any]], int, str, list[dict[str, Any]]]:
    outputs = read_outputs(svc.sandbox, sandbox_id, base_dir)  # lenient: a gone sandbox shows in the reads below
    base = prefix(org_id, run_id)
    manifest: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for name in RECORD_FILES:
        try:
            data = svc.sandbox.read_file(sandbox_id, base_dir + name)
        except FileNotFoundError:
            continue
        ctype = "application/json" if name.endswith(".json") else "application/x-ndjson"
        manifest.append(_put(svc, base + name, name, data, ctype))
    for index, path in sorted(outputs.screenshots.items())[:MAX_SCREENSHOTS]:
        try:
            data = svc.sandbox.read_file(sandbox_id, base_dir + path)
        except FileNotFoundError:
            continue
        entry = _put(svc, base + path, path, data, "image/png")
        entry["step"] = index
        manifest.append(entry)
        items.append(evidence_item(outputs, index, path, sha256=entry["sha256"]))
    downloads = _copy_downloads(svc, sandbox_id, base, manifest, base_dir)
    manifest_key = base + "manifest.json"
    body = json.dumps(
        {"run_id": run_id, "org_id": org_id, "created_at": svc.clock.now().isoformat(), "files": manifest},
        indent=2,
    ).encode()
    _put(svc, manifest_key, "manifest.json", body, "application/json")
    return items, len(manifest), manifest_key, downloads


def _copy_downloads(
    svc: Services, sandbox_id: str, base: str, manifest: list[dict[str, Any]], base_dir: str = ""
) -> list[dict[str, Any]]:
    """Copy the files the browser downloaded (downloads.jsonl names them; the agent kept at most
    MAX_DOWNLOADS of at most MAX_DOWNLOAD_BYTES each) and return the run's ``files``. The sandbox is
    untrusted: only ``downloads/<name>`` paths, sizes as S3 stored them, digests computed here."""
    try:
        raw = svc.sandbox.read_file(sandbox_id, base_dir + "downloads.jsonl")
    except FileNotFoundError:
        return []
    kept: list[dict[str, Any]] = []
    for line in raw[:MAX_DOWNLOADS_LOG].decode("utf-8", "replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str) or not _DOWNLOAD_PATH.match(path) or len(kept) >= MAX_DOWNLOADS:
            continue
        try:
            data = svc.sandbox.read_file(sandbox_id, base_dir + path)
        except (FileNotFoundError, UnsafePath):
            continue
        if len(data) > MAX_DOWNLOAD_BYTES:
            continue
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        stored = _put(svc, base + path, path, data, ctype)
        manifest.append({**stored, "source_url": str(entry.get("source_url") or "")[:4096]})
        kept.append(
            {
                "name": str(entry.get("name") or path.split("/", 1)[1])[:255],
                "size": len(data),
                "sha256": stored["sha256"],
                "source_url": str(entry.get("source_url") or "")[:4096] or None,
                "content_type": ctype,
                "path": path,
            }
        )
    return kept


def _put(svc: Services, key: str, path: str, data: bytes, content_type: str) -> dict[str, Any]:
    sha256 = svc.evidence_store.put(key, data, content_type)
    return {"path": path, "key": key, "sha256": sha256, "bytes": len(data), "content_type": content_type}


def _persist_profile(svc: Services, run: RunRecord, sandbox_id: str | None) -> None:
    """Save a gracefully ended run's final browser state into its profile (under its lease), release the
    lease in any case (shared/profiles.py). Never fails the evidence."""
    if not run.persist_profile:
        return
    raw = None
    if sandbox_id and profiles.graceful_end(run):
        try:
            raw = svc.sandbox.read_file(sandbox_id, task_dir(run) + PROFILE_STATE_FILE)
        except (FileNotFoundError, SandboxError):
            raw = None
    try:
        outcome = profiles.save_after_run(svc, run, raw)
    except OpenHelmError as exc:  # S3 or the table refused: the lease runs out by itself
        outcome = f"failed: {exc.message[:200]}"
    log.info("profile_persisted", run_id=run.id, profile_id=run.profile_id, outcome=outcome)


def _kill(svc: Services, sandbox_id: str, run_id: str) -> None:
    try:
        svc.sandbox.kill(sandbox_id)
    except SandboxError as exc:  # the reaper kills it on its next pass
        log.warning("evidence_kill_failed", run_id=run_id, sandbox_id=sandbox_id, error=str(exc))


def _record(
    svc: Services,
    run: RunRecord,
    outcome: EvidenceOutcome,
    items: list[dict[str, Any]],
    downloads: list[dict[str, Any]] | None = None,
) -> EvidenceOutcome:
    run_id, org_id = run.id, run.org_id
    fields: dict[str, Any] = {
        "evidence_status": outcome.status,
        "evidence_error": outcome.error,
        "evidence_manifest_key": outcome.manifest_key,
    }
    if outcome.status == "ready":
        fields["evidence"] = items
        if downloads:
            fields["files"] = downloads
    svc.runs.transition(org_id, run_id, from_statuses=TERMINAL_STATUSES, to_status=None, fields=fields)
    _announce(svc, run, outcome.status, outcome.files, outcome.error)
    log.info("evidence_recorded", run_id=run_id, evidence_status=outcome.status, files=outcome.files)
    return outcome


def _announce(svc: Services, run: RunRecord, status: str, files: int, error: str | None) -> None:
    """Emit Evidence Ready (which drives the webhooks), then note that it went out. A failed publish
    raises, so the invocation is retried and the next attempt announces again."""
    detail = {
        "run_id": run.id,
        "org_id": run.org_id,
        "status": run.status.value,
        "evidence_status": status,
        "files": files,
        "error": error,
    }
    svc.events.publish("Evidence Ready", detail, resources=[run.id])
    svc.runs.transition(
        run.org_id, run.id, from_statuses=TERMINAL_STATUSES, to_status=None, fields={"evidence_announced": True}
    )
