"""The viewer's domain: signed viewer links on the envelope, the run page behind one, and the trace
bundle built once into the evidence bucket and handed out by presigned URL.

Nothing here sends screenshots or zips through the API function: pages point at presigned S3 URLs
and the bundle is a presigned download, because a Lambda answer is at most 6 MB.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from shared.errors import Conflict, Forbidden, NotFound
from shared.evidence import prefix
from shared.ids import is_id
from shared.logging import get_logger
from shared.models.run_record import RunRecord
from shared.models.runs import Run
from shared.models.viewer import RunBundle
from shared.runs.envelope import envelope, public_run
from shared.services import Services
from shared.version import VERSION
from shared.viewer import bundle, links, page
from shared.viewer.live_urls import run_live_url

log = get_logger(__name__)

# A session task's statuses with a browser to watch (the session is busy, paused or manual meanwhile).
# Parallel S3 reads while building a bundle: up to 200 screenshots must be read within API Gateway's
# 30 s, and each GET is a round trip.
_READERS = 8


def _key(svc: Services) -> bytes | None:
    """The viewer key, or None on a deployment with no secret to derive it from (never in AWS: the
    template requires RunTokenSecret). Reading a run must not fail for the sake of its link."""
    try:
        return svc.settings.viewer_key()
    except RuntimeError:
        return None


def viewer_url(svc: Services, run_id: str, org_id: str, base_url: str) -> str | None:
    key = _key(svc)
    if key is None:
        return None
    expires = int(svc.clock.now().timestamp()) + svc.settings.viewer_url_ttl_s
    return f"{base_url.rstrip('/')}/v1/runs/{run_id}/view?token={links.mint(key, org_id, run_id, expires)}"


def with_viewer_url(svc: Services, run: Run, org_id: str, base_url: str) -> Run:
    return run.model_copy(
        update={
            "viewer_url": viewer_url(svc, run.id, org_id, base_url),
            "live_url": run_live_url(svc, org_id, run, base_url),
        }
    )


def _footer_live(expires_at: int) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires_at))
    return f"Live view from the OpenHelm API. This link works until {when}; screenshots load from presigned URLs."


def run_page(svc: Services, run_id: str, token: str | None) -> tuple[str, dict[str, str]]:
    """The page of the run a viewer token opens, and its security headers. Raises the link's faults
    (shared/viewer/links.py) or NotFound if the run is gone."""
    key = _key(svc)
    if key is None:  # no link can have been made here
        raise Forbidden("this deployment makes no viewer links", code="invalid_viewer_link")
    claims = links.verify(key, token, run_id, int(svc.clock.now().timestamp()))
    item = svc.runs.get(claims.org_id, run_id) if is_id(run_id, "run") else None
    if item is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    run = public_run(svc, item).model_dump(mode="json")
    shots = [e["screenshot_url"] for e in run.get("evidence") or [] if e.get("screenshot_url")]
    return page.render(run, _footer_live(claims.expires_at)), page.security_headers(shots)


# -- the trace bundle ----------------------------------------------------------------------------


def _run_document(svc: Services, item: RunRecord) -> dict[str, Any]:
    """The envelope as the bundle keeps it: every figure, no URL that would expire."""
    doc = envelope(svc, item).model_dump(mode="json")
    doc["evidence"] = [{**e, "screenshot_url": None} for e in doc.get("evidence") or []]
    return doc


def run_bundle(svc: Services, org_id: str, run_id: str) -> RunBundle:
    """Where to download the run's trace bundle, building it first if this state of the run has none.

    The zip's key is a digest of what goes in (the run envelope, the stored evidence manifest, the
    format and version), so a bundle is built once per state: a run billed after its first download
    gets a new one with its billed usage. NotFound for no such run; Conflict while the run goes or
    its evidence is not stored yet (or failed to be)."""
    item = svc.runs.get(org_id, run_id) if is_id(run_id, "run") else None
    if item is None:
        raise NotFound(f"no run {run_id}", code="run_not_found")
    if not item.status.is_terminal:
        raise Conflict(
            f"run {run_id} is still {item.status.value}; its bundle exists once it has finished",
            code="run_not_finished",
            details={"status": item.status.value},
        )
    evidence_status = item.evidence_status
    if evidence_status not in ("ready", "unavailable"):
        reason = item.evidence_error or "the evidence is being stored; retry in a few seconds"
        raise Conflict(
            f"run {run_id} has no stored evidence yet ({evidence_status or 'pending'}): {reason}",
            code="evidence_not_ready",
            details={"evidence_status": evidence_status},
        )
    store = svc.evidence_store
    doc = _run_document(svc, item)
    run_json = json.dumps(doc, indent=2, ensure_ascii=False).encode()
    manifest_key = item.evidence_manifest_key if evidence_status == "ready" else None
    evidence_manifest = store.get(manifest_key) if manifest_key else b""
    digest = hashlib.sha256(b"\0".join([bundle.FORMAT.encode(), VERSION.encode(), run_json, evidence_manifest]))
    key = f"{prefix(org_id, run_id)}bundle-{digest.hexdigest()[:32]}.zip"
    ttl = svc.settings.evidence_url_ttl_s
    expires_at = svc.clock.now() + timedelta(seconds=ttl)
    filename = f"openhelm-{run_id}.zip"
    size = store.size(key)
    files: int | None = None
    if size is None:
        started = time.monotonic()
        data, files = _build(svc, item, doc, run_json, evidence_manifest)
        store.put(key, data, "application/zip")
        size = len(data)
        log.info("bundle_built", run_id=run_id, files=files, bytes=size, ms=round((time.monotonic() - started) * 1000))
    return RunBundle(
        run_id=run_id,
        url=store.presigned_download_url(key, ttl, filename),
        expires_at=expires_at,
        bytes=size,
        files=files,
        cached=files is None,
    )


def _build(
    svc: Services, item: RunRecord, doc: dict[str, Any], run_json: bytes, evidence_manifest: bytes
) -> tuple[bytes, int]:
    entries: list[tuple[str, bytes]] = [(bundle.RUN, run_json)]
    if evidence_manifest:
        entries.append((bundle.EVIDENCE_MANIFEST, evidence_manifest))
        listed = [
            (f["path"], f["key"])
            for f in json.loads(evidence_manifest).get("files") or []
            if bundle.safe_path(str(f.get("path", ""))) and f.get("key")
        ]
        with ThreadPoolExecutor(max_workers=_READERS) as pool:
            datas = list(pool.map(lambda pk: svc.evidence_store.get(pk[1]), listed))
        entries += [(path, data) for (path, _key), data in zip(listed, datas, strict=True)]
    footer = "Opened from a trace bundle (index.html): screenshots load from the unzipped folder."
    entries.append((bundle.INDEX, page.offline_page(doc, footer).encode()))
    created = (doc.get("finished_at") or doc.get("created_at") or "")[:64]
    data = bundle.pack(
        entries,
        run_id=item.id,
        org_id=item.org_id,
        created_at=str(created),
        key=bundle.signing_key(svc.settings.viewer_key()),
    )
    return data, len(entries)
