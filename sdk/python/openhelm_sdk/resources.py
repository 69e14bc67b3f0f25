"""The synchronous client's resources beyond runs, jobs and projects: sessions, files, profiles, API
keys and webhook endpoints. Each method is one API call (``files.upload`` of a large file: two, and
the presigned POST), built as a ``Request`` and sent with the client's retry rule."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from openhelm_sdk import _base
from openhelm_sdk._base import Request
from openhelm_sdk.errors import APIConnectionError, ConflictError, error_from_response
from openhelm_sdk.models import (
    ActionResult,
    ApiKey,
    ApiKeyCreated,
    ApiKeyList,
    CreateFileRequest,
    CreateKeyRequest,
    CreateProfileRequest,
    CreateSessionRequest,
    CreateWebhookRequest,
    FileList,
    FileObject,
    FileUpload,
    Profile,
    ProfileDownload,
    ProfileList,
    Run,
    Session,
    SessionList,
    SessionStatus,
    SessionTaskAccepted,
    SessionTaskRequest,
    WebhookEndpoint,
    WebhookEndpointList,
    WebhookSecret,
)

if TYPE_CHECKING:
    from openhelm_sdk.client import Client, OnUpdate

# The most POST /v1/files takes as multipart (shared/models/files.py); larger goes by presigned POST.
MAX_SMALL_UPLOAD_BYTES = 4 * 1024 * 1024
FileInput = str | Path | bytes | BinaryIO


def action_body(action: str | Mapping[str, Any] | Any, args: Mapping[str, Any]) -> dict[str, Any]:
    """A direct action's body: a name and its arguments, a mapping, or one of the *Action models."""
    if isinstance(action, str):
        return {"action": action, **args}
    if hasattr(action, "model_dump"):
        return {**action.model_dump(mode="json", exclude_unset=True, by_alias=True), **args}
    return {**dict(action), **args}


def read_upload(file: FileInput, name: str | None, content_type: str | None) -> tuple[str, bytes, str]:
    """A file to upload as (name, bytes, content type)."""
    if isinstance(file, str | Path):
        path = Path(file)
        data, fallback = path.read_bytes(), path.name
    elif isinstance(file, bytes):
        data, fallback = file, "upload.bin"
    else:
        data, fallback = file.read(), Path(str(getattr(file, "name", "upload.bin"))).name
    if not name and isinstance(file, bytes):
        raise ValueError("name= is required when uploading bytes")
    return name or fallback, data, content_type or _guess_type(name or fallback)


def not_ready_check(file: FileObject) -> str:
    """A file's download URL, or ConflictError when it has none yet (still ``pending``)."""
    if not file.download_url:
        message = f"file {file.id} is {file.status}: nothing to download yet"
        raise ConflictError(409, message, type="invalid_request_error", code="file_not_ready")
    return file.download_url


def _guess_type(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class Sessions:
    """``/v1/sessions``: one live browser for many tasks (each a run) and direct actions."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        request: CreateSessionRequest | Mapping[str, Any] | None = None,
        *,
        wait_ready: bool | float = False,
        **fields: Any,
    ) -> Session:
        """Start a session (status ``starting``). ``wait_ready`` polls until it is no longer
        starting (``True``: up to 60 s; a number: that many seconds) and returns it as it then is."""
        body = _base.body(CreateSessionRequest, request, fields)
        session = Session.model_validate(self._client.request(Request("POST", "/v1/sessions", json=body)).json())
        if not wait_ready or session.status != SessionStatus.STARTING:
            return session
        return self.wait_ready(session.id, timeout=60.0 if wait_ready is True else float(wait_ready))

    def get(self, session_id: str) -> Session:
        return self._client._get(f"/v1/sessions/{session_id}", Session)

    def list(
        self, *, status: SessionStatus | str | None = None, limit: int | None = None, page_size: int = 100
    ) -> Iterator[Session]:
        params = {"status": SessionStatus(status).value if status else None}
        return self._client._pages("/v1/sessions", SessionList, params, limit, page_size)

    def wait_ready(self, session_id: str, *, timeout: float = 60.0) -> Session:
        """Poll until the session is past ``starting``; TimeoutError after ``timeout`` seconds."""
        client = self._client
        started, delay = client._clock(), client._config.poll.initial
        while True:
            session = self.get(session_id)
            if session.status != SessionStatus.STARTING:
                return session
            left = timeout - (client._clock() - started)
            if left <= 0:
                raise TimeoutError(f"session {session_id} still starting after {timeout:g} s")
            delay = client._config.poll.next(delay, False)
            client._sleep(min(delay, left))

    def task(
        self,
        session_id: str,
        prompt: str | SessionTaskRequest | None = None,
        *,
        wait: bool | float = False,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Run:
        """Run a task in a ready session; the task is a run, returned as ``runs.create`` returns one
        (``wait`` and ``on_update`` alike). An Idempotency-Key is always sent."""
        from openhelm_sdk.client import _left, _wait_limit

        if isinstance(prompt, SessionTaskRequest):
            body = _base.body(SessionTaskRequest, prompt, fields)
        else:
            body = _base.body(SessionTaskRequest, None, {**({"prompt": prompt} if prompt else {}), **fields})
        headers = {"Idempotency-Key": idempotency_key or _base.new_idempotency_key()}
        started = self._client._clock()
        path = f"/v1/sessions/{session_id}/tasks"
        response = self._client.request(Request("POST", path, json=body, headers=headers))
        run_id = SessionTaskAccepted.model_validate(response.json()).task_id
        if not wait:
            return self._client.runs.get(run_id)
        limit = _wait_limit(wait, timeout)
        return self._client.runs.wait(run_id, timeout=_left(limit, started, self._client._clock()), on_update=on_update)

    def action(self, session_id: str, action: str | Mapping[str, Any] | Any, **args: Any) -> ActionResult:
        """One direct browser action, answered when done: ``action(sid, "navigate", url=...)``."""
        body = action_body(action, args)
        path = f"/v1/sessions/{session_id}/actions"
        return ActionResult.model_validate(self._client.request(Request("POST", path, json=body)).json())

    def _state(self, session_id: str, verb: str) -> Session:
        response = self._client.request(Request("POST", f"/v1/sessions/{session_id}/{verb}"))
        return Session.model_validate(response.json())

    def pause(self, session_id: str) -> Session:
        return self._state(session_id, "pause")

    def resume(self, session_id: str) -> Session:
        return self._state(session_id, "resume")

    def stop(self, session_id: str) -> Session:
        """End the running task as cancelled; the session stays (ready again)."""
        return self._state(session_id, "stop")

    def close(self, session_id: str) -> Session:
        """Terminate the session and its sandbox (a running task ends cancelled)."""
        return Session.model_validate(self._client.request(Request("DELETE", f"/v1/sessions/{session_id}")).json())


class Files:
    """``/v1/files``: files a run can attach (``file_ids``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def upload(self, file: FileInput, *, name: str | None = None, content_type: str | None = None) -> FileObject:
        """Upload a path, bytes (with ``name``) or a binary file object. Up to 4 MiB in one multipart
        request; larger through the API's presigned POST, then read back (ready)."""
        filename, data, ctype = read_upload(file, name, content_type)
        if len(data) <= MAX_SMALL_UPLOAD_BYTES:
            parts = {"file": (filename, data, ctype)}
            return FileObject.model_validate(self._client.request(Request("POST", "/v1/files", files=parts)).json())
        body = CreateFileRequest(name=filename, size=len(data), content_type=ctype).model_dump(mode="json")
        upload = FileUpload.model_validate(self._client.request(Request("POST", "/v1/files", json=body)).json())
        try:  # to the storage's own URL: no API key goes there
            r = self._client._http.post(upload.url, data=upload.fields, files={"file": (filename, data, ctype)})
        except Exception as exc:
            raise APIConnectionError(f"POST {upload.url}: {exc!r}") from exc
        if r.status_code >= 400:
            raise error_from_response(r)
        return self.get(upload.file.id)

    def get(self, file_id: str) -> FileObject:
        return self._client._get(f"/v1/files/{file_id}", FileObject)

    def list(self, *, limit: int | None = None, page_size: int = 100) -> Iterator[FileObject]:
        return self._client._pages("/v1/files", FileList, {}, limit, page_size)

    def download(self, file_id: str) -> bytes:
        """The file's bytes, read from its short-lived ``download_url`` (no API key goes there).
        A file still ``pending`` has none: ConflictError ``file_not_ready``."""
        url = not_ready_check(self.get(file_id))
        try:
            r = self._client._http.get(url)
        except Exception as exc:
            raise APIConnectionError(f"GET {url}: {exc!r}") from exc
        if r.status_code >= 400:
            raise error_from_response(r)
        return r.content

    def delete(self, file_id: str) -> None:
        self._client.request(Request("DELETE", f"/v1/files/{file_id}"))


class Profiles:
    """``/v1/profiles``: saved browser state (cookies, local storage) that runs can use and fill."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, request: CreateProfileRequest | Mapping[str, Any] | None = None, **fields: Any) -> Profile:
        body = _base.body(CreateProfileRequest, request, fields)
        return Profile.model_validate(self._client.request(Request("POST", "/v1/profiles", json=body)).json())

    def get(self, profile_id: str) -> Profile:
        return self._client._get(f"/v1/profiles/{profile_id}", Profile)

    def list(self, *, limit: int | None = None, page_size: int = 100) -> Iterator[Profile]:
        return self._client._pages("/v1/profiles", ProfileList, {}, limit, page_size)

    def delete(self, profile_id: str) -> None:
        self._client.request(Request("DELETE", f"/v1/profiles/{profile_id}"))

    def download(self, profile_id: str) -> ProfileDownload:
        """A short-lived URL of the profile's storage state (Playwright's JSON)."""
        return self._client._get(f"/v1/profiles/{profile_id}/download", ProfileDownload)

    def upload(self, profile_id: str, storage_state: Mapping[str, Any]) -> Profile:
        """Replace the profile's state with a Playwright storage state (``{"cookies", "origins"}``)."""
        path = f"/v1/profiles/{profile_id}/upload"
        return Profile.model_validate(self._client.request(Request("POST", path, json=dict(storage_state))).json())


class Keys:
    """``/v1/keys``: the org's API keys. The secret is in ``create``'s answer only."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, request: CreateKeyRequest | Mapping[str, Any] | None = None, **fields: Any) -> ApiKeyCreated:
        body = _base.body(CreateKeyRequest, request, fields)
        return ApiKeyCreated.model_validate(self._client.request(Request("POST", "/v1/keys", json=body)).json())

    def list(self) -> list[ApiKey]:
        return list(self._client._get("/v1/keys", ApiKeyList).data)

    def revoke(self, key_id: str) -> None:
        self._client.request(Request("DELETE", f"/v1/keys/{key_id}"))


class Webhooks:
    """``/v1/webhooks``: endpoints that receive the org's events, and the signing secret
    (verify deliveries with ``openhelm_sdk.webhooks``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, request: CreateWebhookRequest | Mapping[str, Any] | None = None, **fields: Any) -> WebhookEndpoint:
        body = _base.body(CreateWebhookRequest, request, fields)
        response = self._client.request(Request("POST", "/v1/webhooks", json=body))
        return WebhookEndpoint.model_validate(response.json())

    def get(self, webhook_id: str) -> WebhookEndpoint:
        return self._client._get(f"/v1/webhooks/{webhook_id}", WebhookEndpoint)

    def list(self, *, limit: int | None = None, page_size: int = 100) -> Iterator[WebhookEndpoint]:
        return self._client._pages("/v1/webhooks", WebhookEndpointList, {}, limit, page_size)

    def delete(self, webhook_id: str) -> None:
        self._client.request(Request("DELETE", f"/v1/webhooks/{webhook_id}"))

    def secret(self) -> WebhookSecret:
        return self._client._get("/v1/webhooks/secret", WebhookSecret)

    def rotate_secret(self) -> WebhookSecret:
        """A new secret; the previous one keeps verifying until ``previous_expires_at``."""
        response = self._client.request(Request("POST", "/v1/webhooks/secret/rotate"))
        return WebhookSecret.model_validate(response.json())
