"""/v1/files: upload (multipart, or a presigned S3 POST for large files), list, read, delete."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import ValidationError

from shared import files
from shared.api.deps import caller, event, header, services
from shared.api.errors import CONFLICT, NOT_FOUND, documented, no_content, ok
from shared.errors import BadRequest, Unprocessable
from shared.models.files import (
    CONTENT_TYPES,
    MAX_FILE_BYTES,
    MAX_FILES_PER_ORG,
    MAX_SMALL_UPLOAD_BYTES,
    CreateFileRequest,
    FileList,
    FileObject,
    FileUpload,
)

router = APIGatewayHttpRouter()
FileId = Annotated[str, Path(description="File id (file_...).")]
# The request body of POST /v1/files, which takes two media types (shared/api/openapi.py adds it:
# Powertools documents one body model per route).
UPLOAD_PATH = "/v1/files"
MULTIPART_SCHEMA = {
    "type": "object",
    "properties": {"file": {"type": "string", "format": "binary", "description": "The file (one part)."}},
    "required": ["file"],
}


def request_body() -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CreateFileRequest"}},
            "multipart/form-data": {"schema": MULTIPART_SCHEMA},
        },
    }


def _raw_body() -> bytes:
    ev = event()
    body = ev.get("body") or ""
    if ev.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("the request body is not valid base64", code="invalid_body") from exc
    return body.encode("utf-8", "surrogatepass")


@router.post(
    UPLOAD_PATH,
    summary="Upload a file",
    description=f"`multipart/form-data` with one part `file` (at most {MAX_SMALL_UPLOAD_BYTES} bytes): stored "
    "at once, answered 201 with the file `ready`. `application/json` `{name, size, content_type}` (at most "
    f"{MAX_FILE_BYTES} bytes): answered 201 with a presigned S3 POST (`url`, `fields`; send the fields, then the "
    "file, as a form) that accepts exactly that size and type; the file is `ready` once S3 has it. Types: "
    f"{', '.join(CONTENT_TYPES)}. At most {MAX_FILES_PER_ORG} files per org (409 `file_quota_reached`).",
    responses=documented(
        {**ok("Stored (multipart).", FileObject, 201), **ok("Upload with the presigned POST.", FileUpload, 200)},
        CONFLICT,
    ),
    tags=["Files"],
)
def create_file() -> Response[FileObject | FileUpload]:
    content_type = (header("content-type") or "").strip()
    svc, org = services(), caller()
    if content_type.lower().startswith("multipart/form-data"):
        file = files.upload_small(svc, org.id, _raw_body(), content_type)
        return Response(status_code=201, body=file, content_type="application/json", headers=_location(file.id))
    try:
        req = CreateFileRequest.model_validate(json.loads(_raw_body() or b"null"))
    except ValidationError as exc:
        details = [{"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise Unprocessable(
            f"{'.'.join(details[0]['loc'][1:]) or 'body'}: {details[0]['msg']}", details=details
        ) from exc
    upload = files.create_upload(svc, org.id, req)
    return Response(status_code=200, body=upload, content_type="application/json", headers=_location(upload.file.id))


def _location(file_id: str) -> dict[str, str]:
    return {"Location": f"/v1/files/{file_id}"}


@router.get(
    "/v1/files", summary="List files", responses=documented(ok("A page of files, newest first.")), tags=["Files"]
)
def list_files(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> FileList:
    return files.list_files(services(), caller().id, limit, cursor)


@router.get(
    "/v1/files/<file_id>",
    summary="Get a file",
    description="Its metadata and, once ready, a short-lived presigned `download_url`.",
    responses=documented(ok("The file."), NOT_FOUND),
    tags=["Files"],
)
def get_file(file_id: FileId) -> FileObject:
    return files.get_file(services(), caller().id, file_id)


@router.delete(
    "/v1/files/<file_id>",
    summary="Delete a file",
    description="Runs that attached it keep their copy in their sandbox; new runs cannot attach it.",
    responses=documented(no_content("Deleted."), NOT_FOUND),
    tags=["Files"],
)
def delete_file(file_id: FileId) -> Response[None]:
    files.delete_file(services(), caller().id, file_id)
    return Response(status_code=204)
