"""The asynchronous client's sessions, files, profiles, keys and webhooks: ``resources.py`` on
``AsyncClient``, call for call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from openhelm_sdk import _base
from openhelm_sdk._base import Request
from openhelm_sdk.errors import APIConnectionError, error_from_response
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
from openhelm_sdk.resources import MAX_SMALL_UPLOAD_BYTES, FileInput, action_body, not_ready_check, read_upload

if TYPE_CHECKING:
    from openhelm_sdk.async_client import AsyncClient, OnUpdate


class AsyncSessions:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        request: CreateSessionRequest | Mapping[str, Any] | None = None,
        *,
        wait_ready: bool | float = False,
        **fields: Any,
    ) -> Session:
        body = _base.body(CreateSessionRequest, request, fields)
        response = await self._client.request(Request("POST", "/v1/sessions", json=body))
        session = Session.model_validate(response.json())
        if not wait_ready or session.status != SessionStatus.STARTING:
            return session
        return await self.wait_ready(session.id, timeout=60.0 if wait_ready is True else float(wait_ready))

    async def get(self, session_id: str) -> Session:
        return await self._client._get(f"/v1/sessions/{session_id}", Session)

    def list(
        self, *, status: SessionStatus | str | None = None, limit: int | None = None, page_size: int = 100
    ) -> AsyncIterator[Session]:
        params = {"status": SessionStatus(status).value if status else None}
        return self._client._pages("/v1/sessions", SessionList, params, limit, page_size)

    async def wait_ready(self, session_id: str, *, timeout: float = 60.0) -> Session:
        client = self._client
        started, delay = client._clock(), client._config.poll.initial
        while True:
            session = await self.get(session_id)
            if session.status != SessionStatus.STARTING:
                return session
            left = timeout - (client._clock() - started)
            if left <= 0:
                raise TimeoutError(f"session {session_id} still starting after {timeout:g} s")
            delay = client._config.poll.next(delay, False)
            await client._sleep(min(delay, left))

    async def task(
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
        from openhelm_sdk.client import _left, _wait_limit

        if isinstance(prompt, SessionTaskRequest):
            body = _base.body(SessionTaskRequest, prompt, fields)
        else:
            body = _base.body(SessionTaskRequest, None, {**({"prompt": prompt} if prompt else {}), **fields})
        headers = {"Idempotency-Key": idempotency_key or _base.new_idempotency_key()}
        started = self._client._clock()
        path = f"/v1/sessions/{session_id}/tasks"
        response = await self._client.request(Request("POST", path, json=body, headers=headers))
        run_id = SessionTaskAccepted.model_validate(response.json()).task_id
        if not wait:
            return await self._client.runs.get(run_id)
        left = _left(_wait_limit(wait, timeout), started, self._client._clock())
        return await self._client.runs.wait(run_id, timeout=left, on_update=on_update)

    async def action(self, session_id: str, action: str | Mapping[str, Any] | Any, **args: Any) -> ActionResult:
        path = f"/v1/sessions/{session_id}/actions"
        response = await self._client.request(Request("POST", path, json=action_body(action, args)))
        return ActionResult.model_validate(response.json())

    async def _state(self, session_id: str, verb: str) -> Session:
        response = await self._client.request(Request("POST", f"/v1/sessions/{session_id}/{verb}"))
        return Session.model_validate(response.json())

    async def pause(self, session_id: str) -> Session:
        return await self._state(session_id, "pause")

    async def resume(self, session_id: str) -> Session:
        return await self._state(session_id, "resume")

    async def stop(self, session_id: str) -> Session:
        return await self._state(session_id, "stop")

    async def close(self, session_id: str) -> Session:
        response = await self._client.request(Request("DELETE", f"/v1/sessions/{session_id}"))
        return Session.model_validate(response.json())


class AsyncFiles:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def upload(self, file: FileInput, *, name: str | None = None, content_type: str | None = None) -> FileObject:
        filename, data, ctype = read_upload(file, name, content_type)
        if len(data) <= MAX_SMALL_UPLOAD_BYTES:
            parts = {"file": (filename, data, ctype)}
            response = await self._client.request(Request("POST", "/v1/files", files=parts))
            return FileObject.model_validate(response.json())
        body = CreateFileRequest(name=filename, size=len(data), content_type=ctype).model_dump(mode="json")
        response = await self._client.request(Request("POST", "/v1/files", json=body))
        upload = FileUpload.model_validate(response.json())
        try:
            r = await self._client._http.post(upload.url, data=upload.fields, files={"file": (filename, data, ctype)})
        except Exception as exc:
            raise APIConnectionError(f"POST {upload.url}: {exc!r}") from exc
        if r.status_code >= 400:
            raise error_from_response(r)
        return await self.get(upload.file.id)

    async def get(self, file_id: str) -> FileObject:
        return await self._client._get(f"/v1/files/{file_id}", FileObject)

    def list(self, *, limit: int | None = None, page_size: int = 100) -> AsyncIterator[FileObject]:
        return self._client._pages("/v1/files", FileList, {}, limit, page_size)

    async def download(self, file_id: str) -> bytes:
        url = not_ready_check(await self.get(file_id))
        try:
            r = await self._client._http.get(url)
        except Exception as exc:
            raise APIConnectionError(f"GET {url}: {exc!r}") from exc
        if r.status_code >= 400:
            raise error_from_response(r)
        return r.content

    async def delete(self, file_id: str) -> None:
        await self._client.request(Request("DELETE", f"/v1/files/{file_id}"))


class AsyncProfiles:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, request: CreateProfileRequest | Mapping[str, Any] | None = None, **fields: Any) -> Profile:
        body = _base.body(CreateProfileRequest, request, fields)
        return Profile.model_validate((await self._client.request(Request("POST", "/v1/profiles", json=body))).json())

    async def get(self, profile_id: str) -> Profile:
        return await self._client._get(f"/v1/profiles/{profile_id}", Profile)

    def list(self, *, limit: int | None = None, page_size: int = 100) -> AsyncIterator[Profile]:
        return self._client._pages("/v1/profiles", ProfileList, {}, limit, page_size)

    async def delete(self, profile_id: str) -> None:
        await self._client.request(Request("DELETE", f"/v1/profiles/{profile_id}"))

    async def download(self, profile_id: str) -> ProfileDownload:
        return await self._client._get(f"/v1/profiles/{profile_id}/download", ProfileDownload)

    async def upload(self, profile_id: str, storage_state: Mapping[str, Any]) -> Profile:
        path = f"/v1/profiles/{profile_id}/upload"
        return Profile.model_validate(
            (await self._client.request(Request("POST", path, json=dict(storage_state)))).json()
        )


class AsyncKeys:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, request: CreateKeyRequest | Mapping[str, Any] | None = None, **fields: Any) -> ApiKeyCreated:
        body = _base.body(CreateKeyRequest, request, fields)
        return ApiKeyCreated.model_validate((await self._client.request(Request("POST", "/v1/keys", json=body))).json())

    async def list(self) -> list[ApiKey]:
        return list((await self._client._get("/v1/keys", ApiKeyList)).data)

    async def revoke(self, key_id: str) -> None:
        await self._client.request(Request("DELETE", f"/v1/keys/{key_id}"))


class AsyncWebhooks:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self, request: CreateWebhookRequest | Mapping[str, Any] | None = None, **fields: Any
    ) -> WebhookEndpoint:
        body = _base.body(CreateWebhookRequest, request, fields)
        response = await self._client.request(Request("POST", "/v1/webhooks", json=body))
        return WebhookEndpoint.model_validate(response.json())

    async def get(self, webhook_id: str) -> WebhookEndpoint:
        return await self._client._get(f"/v1/webhooks/{webhook_id}", WebhookEndpoint)

    def list(self, *, limit: int | None = None, page_size: int = 100) -> AsyncIterator[WebhookEndpoint]:
        return self._client._pages("/v1/webhooks", WebhookEndpointList, {}, limit, page_size)

    async def delete(self, webhook_id: str) -> None:
        await self._client.request(Request("DELETE", f"/v1/webhooks/{webhook_id}"))

    async def secret(self) -> WebhookSecret:
        return await self._client._get("/v1/webhooks/secret", WebhookSecret)

    async def rotate_secret(self) -> WebhookSecret:
        response = await self._client.request(Request("POST", "/v1/webhooks/secret/rotate"))
        return WebhookSecret.model_validate(response.json())
