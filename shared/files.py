"""Files: upload (small through the API, large by presigned S3 POST), read, delete, attach to runs.

When is a presigned upload ``ready``? Checked on read: ``get_file`` and attaching it to a run ask S3
(HEAD) while the file is ``pending`` and mark it ready once the object is there with the announced
size. Chosen over an S3 event notification because it needs no extra rule, function or permission,
is exact at the only moments readiness matters (someone looks at the file or a run wants it), and
works the same in the local stack; its cost is one HEAD per read of a pending file. The upload
itself cannot lie about size or type: the POST policy pins both.
"""

from __future__ import annotations

import email.parser
import email.policy
from datetime import timedelta
from typing import Any

from shared.aws.file_store import FileStoreUnavailable
from shared.db.files import FileQuotaReached
from shared.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, Unprocessable
from shared.ids import is_id
from shared.logging import get_logger
from shared.models.files import (
    CONTENT_TYPES,
    MAX_FILES_PER_RUN,
    MAX_RUN_FILES_BYTES,
    MAX_SMALL_UPLOAD_BYTES,
    UPLOAD_URL_TTL_S,
    CreateFileRequest,
    FileList,
    FileObject,
    FileUpload,
)
from shared.models.run_record import RunRecord
from shared.services import Services

log = get_logger(__name__)


def object_key(org_id: str, file_id: str) -> str:
    return f"files/{org_id}/{file_id}"


def _new_file(svc: Services, name: str, size: int, content_type: str, status: str, sha256: str | None) -> FileObject:
    return FileObject(
        id=svc.ids.new("file"),
        name=name,
        size=size,
        content_type=content_type,
        status=status,  # type: ignore[arg-type]
        sha256=sha256,
        created_at=svc.clock.now(),
    )


def _store_record(svc: Services, org_id: str, file: FileObject) -> None:
    quota = svc.settings.max_files_per_org
    try:
        svc.files.put(org_id, file, object_key(org_id, file.id), quota)
    except FileQuotaReached as exc:
        raise Conflict(
            f"the org holds {quota} files, the most it may; delete some first", code="file_quota_reached"
        ) from exc


def create_upload(svc: Services, org_id: str, req: CreateFileRequest) -> FileUpload:
    """A pending file and the presigned POST that uploads it (size and type pinned)."""
    file = _new_file(svc, req.name, req.size, req.content_type, "pending", None)
    post = svc.file_store.presigned_post(object_key(org_id, file.id), req.size, req.content_type, UPLOAD_URL_TTL_S)
    _store_record(svc, org_id, file)
    return FileUpload(
        file=file,
        url=post["url"],
        fields=post["fields"],
        expires_at=svc.clock.now() + timedelta(seconds=UPLOAD_URL_TTL_S),
    )


def parse_multipart(body: bytes, content_type: str) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of the ``file`` part of a multipart/form-data body."""
    if "boundary=" not in content_type:
        raise BadRequest("multipart/form-data needs a boundary", code="invalid_multipart")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise BadRequest("the body is not multipart/form-data", code="invalid_multipart")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != "file":
            continue
        filename = part.get_filename()
        if not filename:
            raise Unprocessable("the file part has no filename", code="file_name_missing", details=[{"loc": ["file"]}])
        data = part.get_payload(decode=True) or b""
        return str(filename), part.get_content_type(), bytes(data)  # type: ignore[arg-type]
    raise Unprocessable("no form field named 'file'", code="file_missing", details=[{"loc": ["file"]}])


def upload_small(svc: Services, org_id: str, body: bytes, content_type: str) -> FileObject:
    """Store a file sent as multipart/form-data (field ``file``); it is ready at once."""
    if len(body) > MAX_SMALL_UPLOAD_BYTES + 64 * 1024:
        raise PayloadTooLarge(
            f"a file sent through the API may have at most {MAX_SMALL_UPLOAD_BYTES} bytes; "
            "create a presigned upload (POST /v1/files with JSON {name, size, content_type}) for larger ones",
            code="file_too_large",
        )
    name, part_type, data = parse_multipart(body, content_type)
    try:
        checked = CreateFileRequest(name=name, size=max(1, len(data)), content_type=part_type)  # type: ignore[arg-type]
    except ValueError as exc:
        raise Unprocessable(
            f"file {name[:80]!r} ({part_type}) is not accepted: allowed types are {', '.join(CONTENT_TYPES)}; "
            "names have 1..255 characters without / \\ or control characters",
            code="file_not_accepted",
            details=[{"loc": ["file"]}],
        ) from exc
    if not data:
        raise Unprocessable("the file is empty", code="file_empty", details=[{"loc": ["file"]}])
    if len(data) > MAX_SMALL_UPLOAD_BYTES:
        raise PayloadTooLarge(f"at most {MAX_SMALL_UPLOAD_BYTES} bytes through the API", code="file_too_large")
    file = _new_file(svc, checked.name, len(data), checked.content_type, "ready", None)
    digest = svc.file_store.put(object_key(org_id, file.id), data, checked.content_type)
    file = file.model_copy(update={"sha256": digest})
    _store_record(svc, org_id, file)
    return file


def _load(svc: Services, org_id: str, file_id: str) -> dict[str, Any]:
    item = svc.files.get(org_id, file_id) if is_id(file_id, "file") else None
    if item is None:
        raise NotFound(f"no file {file_id}", code="file_not_found")
    return item


def _refresh(svc: Services, org_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """A pending file becomes ready once S3 holds its bytes (at the announced size)."""
    if item.get("status") == "pending" and svc.file_store.size_of(item["object_key"]) == int(item["size"]):
        svc.files.mark_ready(org_id, item["id"])
        item = {**item, "status": "ready"}
    return item


def _public(svc: Services, item: dict[str, Any], with_url: bool) -> FileObject:
    file = FileObject.model_validate(item)
    if with_url and file.status == "ready":
        url = svc.file_store.presigned_url(item["object_key"], svc.settings.evidence_url_ttl_s, file.name)
        file = file.model_copy(update={"download_url": url})
    return file


def get_file(svc: Services, org_id: str, file_id: str) -> FileObject:
    return _public(svc, _refresh(svc, org_id, _load(svc, org_id, file_id)), with_url=True)


def list_files(svc: Services, org_id: str, limit: int, cursor: str | None) -> FileList:
    items, next_cursor = svc.files.list(org_id, limit, cursor)
    return FileList(data=[_public(svc, i, with_url=False) for i in items], next_cursor=next_cursor)


def delete_file(svc: Services, org_id: str, file_id: str) -> None:
    item = _load(svc, org_id, file_id)
    svc.file_store.delete(item["object_key"])
    if not svc.files.delete(org_id, file_id):
        raise NotFound(f"no file {file_id}", code="file_not_found")


def read_run_files(svc: Services, org_id: str, run: RunRecord) -> list[tuple[dict[str, Any], bytes]]:
    """The bytes of a run's attached files, for its sandbox (a file deleted since: skipped, logged)."""
    out = []
    for f in run.input_files or []:
        try:
            out.append((f, svc.file_store.get(object_key(org_id, f["id"]))))
        except FileStoreUnavailable as exc:
            log.warning("run_file_unreadable", run_id=run.id, file_id=f["id"], error=exc.message)
    return out


def resolve_run_files(svc: Services, org_id: str, file_ids: list[str] | None) -> list[dict[str, Any]]:
    """The files a run attaches, as its record keeps them ({id, name, size, content_type}); 422 for
    an id the org does not have (another org's included: nothing says it exists) or a pending file."""
    if not file_ids:
        return []
    if len(file_ids) > MAX_FILES_PER_RUN or len(set(file_ids)) != len(file_ids):
        raise Unprocessable(
            f"file_ids: at most {MAX_FILES_PER_RUN} distinct ids",
            code="too_many_files",
            details=[{"loc": ["file_ids"]}],
        )
    found = []
    for i, file_id in enumerate(file_ids):
        item = svc.files.get(org_id, file_id) if is_id(file_id, "file") else None
        if item is None:
            raise Unprocessable(f"no file {file_id}", code="file_not_found", details=[{"loc": ["file_ids", i]}])
        item = _refresh(svc, org_id, item)
        if item["status"] != "ready":
            raise Unprocessable(
                f"file {file_id} is not uploaded yet", code="file_not_ready", details=[{"loc": ["file_ids", i]}]
            )
        found.append({k: item[k] for k in ("id", "name", "size", "content_type")})
    total = sum(int(f["size"]) for f in found)
    if total > MAX_RUN_FILES_BYTES:
        raise Unprocessable(
            f"the attached files have {total} bytes; at most {MAX_RUN_FILES_BYTES} per run",
            code="files_too_large",
            details=[{"loc": ["file_ids"]}],
        )
    names = [f["name"] for f in found]
    if len(set(names)) != len(names):
        raise Unprocessable(
            "two attached files have the same name; the agent refers to files by name",
            code="file_names_not_unique",
            details=[{"loc": ["file_ids"]}],
        )
    return found
