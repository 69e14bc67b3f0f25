"""The trace bundle: one zip per run, with a signed manifest, that the viewer opens offline.

Layout (docs/events.md, "Trace bundle")::

    manifest.json           {"format", "run_id", "org_id", "created_at", "files": [{"path", "sha256",
                             "bytes"}], "signature": "v1,<base64 HMAC-SHA256>"} (every other file)
    run.json                the run envelope (status, prompt, result, confidence, steps, network,
                             usage, error), without presigned URLs
    evidence-manifest.json  the evidence manifest as stored in S3 (the SHA-256 of each evidence file)
    result.json  steps.jsonl  network.jsonl  screenshots/step-0001.png ...
    index.html              the run page, screenshots by relative path: opens from the unzipped folder

The signature is an HMAC over the canonical JSON of the manifest without its ``signature`` field, with
a key derived from the viewer secret: the deployment that made a bundle can tell it untouched.
Anyone can check the files against the manifest's digests (``openhelm view`` does, and says so).

Pure: zip bytes in and out, no AWS (shared/viewer/service.py stores and presigns).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

FORMAT = "openhelm-bundle/1"
MANIFEST = "manifest.json"
RUN = "run.json"
EVIDENCE_MANIFEST = "evidence-manifest.json"
INDEX = "index.html"
# Member names a bundle may hold: relative, no "..", no odd characters (sandbox output is untrusted).
_SAFE_PATH = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9._/-]{0,200}$")
# A fixed timestamp: the same inputs give byte-identical zips (concurrent builds write the same object).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_COMPRESSED = (".json", ".jsonl", ".html")


def safe_path(path: str) -> bool:
    return bool(_SAFE_PATH.match(path)) and not path.startswith("/") and path != MANIFEST


def signing_key(viewer_key: bytes) -> bytes:
    """The bundle-signing key: the viewer key under its own label (a signature is never a link)."""
    return hmac.new(viewer_key, b"openhelm bundle manifests v1", hashlib.sha256).digest()


def _canonical(manifest: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(key: bytes, manifest: dict[str, Any]) -> str:
    return "v1," + base64.b64encode(hmac.new(key, _canonical(manifest), hashlib.sha256).digest()).decode()


def signature_valid(key: bytes, manifest: dict[str, Any]) -> bool:
    return hmac.compare_digest(str(manifest.get("signature", "")).encode(), sign(key, manifest).encode())


def pack(files: Iterable[tuple[str, bytes]], *, run_id: str, org_id: str, created_at: str, key: bytes) -> bytes:
    """The zip of ``files`` (path, bytes) and their signed manifest."""
    entries = [(p, d) for p, d in files if safe_path(p)]
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "run_id": run_id,
        "org_id": org_id,
        "created_at": created_at,
        "files": [{"path": p, "sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for p, d in entries],
    }
    manifest["signature"] = sign(key, manifest)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for path, data in [(MANIFEST, json.dumps(manifest, indent=2).encode()), *entries]:
            info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
            # PNGs are compressed already; deflating them again costs time and saves nothing.
            info.compress_type = zipfile.ZIP_DEFLATED if path.endswith(_COMPRESSED) else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return out.getvalue()


class BundleError(ValueError):
    """Not a trace bundle (not a zip, no manifest, an unknown format)."""


@dataclass
class BundleCheck:
    """What opening a bundle found: the manifest, the run, and every file that does not match."""

    manifest: dict[str, Any]
    run: dict[str, Any]
    verified: int = 0
    problems: list[str] = field(default_factory=list)
    signature: str = "unchecked"  # valid | invalid | unchecked (no key given)

    @property
    def intact(self) -> bool:
        return not self.problems


def open_bundle(zf: zipfile.ZipFile, key: bytes | None = None) -> BundleCheck:
    """Read a bundle's manifest and run, and check every listed file's size and SHA-256 (and with
    ``key``, the manifest's signature). Raises BundleError if it is not a bundle at all."""
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except (KeyError, ValueError) as exc:
        raise BundleError(f"not an OpenHelm trace bundle: no readable {MANIFEST}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"not an OpenHelm trace bundle of format {FORMAT}")
    listed = {f.get("path"): f for f in manifest.get("files") or [] if isinstance(f, dict)}
    try:
        run = json.loads(zf.read(RUN))
    except (KeyError, ValueError) as exc:
        raise BundleError(f"the bundle has no readable {RUN}") from exc
    check = BundleCheck(manifest=manifest, run=run)
    names = set(zf.namelist())
    for path, entry in listed.items():
        if not isinstance(path, str) or not safe_path(path) or path not in names:
            check.problems.append(f"{path}: listed in the manifest but missing")
            continue
        data = zf.read(path)
        if len(data) != entry.get("bytes") or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            check.problems.append(f"{path}: does not match its SHA-256 in the manifest")
        else:
            check.verified += 1
    for extra in sorted(names - set(listed) - {MANIFEST}):
        check.problems.append(f"{extra}: not listed in the manifest")
    if key is not None:
        check.signature = "valid" if signature_valid(key, manifest) else "invalid"
        if check.signature == "invalid":
            check.problems.append("the manifest's signature does not match")
    return check


def listed_files(check: BundleCheck) -> set[str]:
    return {f["path"] for f in check.manifest.get("files") or [] if isinstance(f, dict) and "path" in f}
