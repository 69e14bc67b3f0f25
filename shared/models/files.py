"""Files: uploads a run's agent can put on a page's file input (issue 13)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.models.common import ApiModel, Model

# Limits (README "Files"). A small upload rides the API request: API Gateway takes 10 MB and a
# synchronous Lambda invocation 6 MB, base64 included (4/3 of the bytes), so 4 MiB of file fits.
MAX_SMALL_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_FILES_PER_ORG = 1000
MAX_FILES_PER_RUN = 10
# StartSandbox reads a run's files into memory (512 MB function) before writing them into the sandbox.
MAX_RUN_FILES_BYTES = 50 * 1024 * 1024
UPLOAD_URL_TTL_S = 900
CONTENT_TYPES = (
    "application/pdf",
    "application/json",
    "application/zip",
    "application/octet-stream",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "text/plain",
    "text/csv",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
)
ContentType = Literal[CONTENT_TYPES]  # type: ignore[valid-type]
# A file name as a file input shows it: no path separators, no control characters, not only dots.
FileName = Annotated[
    str,
    # At least one character that is not a dot: ".", ".." are no file names.
    Field(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f\x7f]*[^/\\\x00-\x1f\x7f.][^/\\\x00-\x1f\x7f]*$"),
]


class CreateFileRequest(ApiModel):
    """A large file: answered with a presigned S3 upload whose size and type are pinned."""

    name: FileName
    size: int = Field(ge=1, le=MAX_FILE_BYTES, description="Exact size in bytes of what will be uploaded.")
    content_type: ContentType = Field(description="MIME type; the upload must send exactly this.")


class FileObject(Model):
    id: str
    object: str = "file"
    name: str
    size: int
    content_type: str
    status: Literal["pending", "ready"] = Field(
        description="`pending` until S3 holds the upload (checked when the file is read or attached); then `ready`."
    )
    sha256: str | None = Field(None, description="SHA-256 of the bytes (small uploads; null for presigned ones).")
    created_at: datetime
    download_url: str | None = Field(None, description="Short-lived presigned GET URL (single reads of a ready file).")


class FileUpload(Model):
    """Where to send a large file: an HTML-form style POST to ``url`` with ``fields`` and the file last."""

    file: FileObject
    url: str
    fields: dict[str, str]
    expires_at: datetime


class FileList(Model):
    object: str = "list"
    data: list[FileObject]
    next_cursor: str | None = None
