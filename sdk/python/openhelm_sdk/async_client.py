"""The asynchronous client: the same resources and rules as ``client.py``, on ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from openhelm_sdk import _base
from openhelm_sdk._base import TERMINAL, Config, PollPolicy, Request, RetryPolicy
from openhelm_sdk.async_resources import AsyncFiles, AsyncKeys, AsyncProfiles, AsyncSessions, AsyncWebhooks
from openhelm_sdk.client import _left, _run_body, _wait_limit
from openhelm_sdk.errors import APIConnectionError, RunWaitTimeout, error_from_response
from openhelm_sdk.models import (
    CreateJobRequest,
    CreateProjectRequest,
    CreateRunRequest,
    Job,
    JobList,
    JobRunRequest,
    Project,
    ProjectList,
    Run,
    RunAccepted,
    RunList,
    RunStatus,
    UpdateJobRequest,
)

M = TypeVar("M", bound=BaseModel)
OnUpdate = Callable[[Run], Awaitable[None] | None]


class AsyncClient:
    """``async with AsyncClient(api_key, base_url) as client: run = await client.runs.create(...)``."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = Config.resolve(api_key, base_url, timeout, retry, max_retries, poll)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http_client is None
        self._sleep = sleep
        self._clock = clock
        self.runs = AsyncRuns(self)
        self.jobs = AsyncJobs(self)
        self.projects = AsyncProjects(self)
        self.sessions = AsyncSessions(self)
        self.files = AsyncFiles(self)
        self.profiles = AsyncProfiles(self)
        self.keys = AsyncKeys(self)
        self.webhooks = AsyncWebhooks(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(self, req: Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    req.method,
                    self._config.base_url + req.path,
                    params=req.params,
                    json=req.json,
                    files=req.files,
                    headers={**self._config.headers(), **req.headers},
                    timeout=req.timeout or self._config.timeout,
                )
            except httpx.TransportError as exc:
                delay = self._config.retry.delay(attempt, None)
                if delay is None or not (isinstance(exc, httpx.ConnectError) or req.safe):
                    raise APIConnectionError(f"{req.method} {req.path}: {exc!r}") from exc
            else:
                if response.status_code < 400:
                    return response
                delay = self._config.retry.delay(attempt, response.headers)
                if delay is None or not req.retryable(response.status_code):
                    raise error_from_response(response)
            await self._sleep(delay)
            attempt += 1

    async def _get(self, path: str, model: type[M], params: dict[str, Any] | None = None) -> M:
        return model.model_validate((await self.request(Request("GET", path, params=params))).json())

    async def _pages(
        self, path: str, page: type[BaseModel], params: dict[str, Any], limit: int | None, page_size: int = 100
    ) -> AsyncIterator[Any]:
        params = {k: v for k, v in params.items() if v is not None}
        seen = 0
        cursor: str | None = None
        while True:
            query = {
                **params,
                "limit": _base.page_size(limit, seen, page_size),
                **({"cursor": cursor} if cursor else {}),
            }
            got = await self._get(path, page, query)
            for item in got.data:  # type: ignore[attr-defined]
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = got.next_cursor  # type: ignore[attr-defined]
            if not cursor:
                return


class AsyncRuns:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        prompt: str | CreateRunRequest | None = None,
        *,
        wait: bool | float = False,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Run:
        """As ``Client.runs.create``; ``on_update`` may be a coroutine function."""
        req_body = _run_body(prompt, fields)
        key = idempotency_key or _base.new_idempotency_key()
        limit = _wait_limit(wait, timeout)
        started = self._client._clock()
        server_wait = _base.server_wait(limit, started, started) if wait and on_update is None else 0
        response = await self._client.request(
            Request(
                "POST",
                "/v1/runs",
                params={"wait": server_wait} if server_wait else None,
                json=req_body,
                headers={"Idempotency-Key": key},
                timeout=self._client._config.timeout + server_wait,
            )
        )
        if response.status_code == 200:
            return Run.model_validate(response.json())
        accepted = RunAccepted.model_validate(response.json())
        if not wait:
            return await self.get(accepted.task_id)
        left = _left(limit, started, self._client._clock())
        return await self.wait(accepted.task_id, timeout=left, on_update=on_update)

    async def get(self, run_id: str) -> Run:
        return await self._client._get(f"/v1/runs/{run_id}", Run)

    def list(
        self,
        *,
        status: RunStatus | str | None = None,
        project_id: str | None = None,
        job_id: str | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Run]:
        """``async for run in client.runs.list(): ...`` — newest first, every page."""
        params = {"status": RunStatus(status).value if status else None, "project_id": project_id, "job_id": job_id}
        return self._client._pages("/v1/runs", RunList, params, limit, page_size)

    async def list_page(self, *, cursor: str | None = None, limit: int = 20, **filters: Any) -> RunList:
        params = {k: v for k, v in {**filters, "cursor": cursor, "limit": limit}.items() if v is not None}
        return await self._client._get("/v1/runs", RunList, params)

    async def cancel(self, run_id: str) -> Run:
        return Run.model_validate((await self._client.request(Request("POST", f"/v1/runs/{run_id}/cancel"))).json())

    async def wait(self, run_id: str, *, timeout: float | None = None, on_update: OnUpdate | None = None) -> Run:
        client = self._client
        policy = client._config.poll
        started = client._clock()
        delay = policy.initial
        last: Run | None = None
        while True:
            run = await self.get(run_id)
            if on_update is not None:
                maybe = on_update(run)
                if inspect.isawaitable(maybe):
                    await maybe
            if run.status in TERMINAL:
                return run
            left = _left(timeout, started, client._clock())
            if left is not None and left <= 0:
                raise RunWaitTimeout(run, timeout or 0)
            delay = policy.next(delay, _base.moved(last, run))
            last = run
            await client._sleep(delay if left is None else min(delay, left))


class AsyncJobs:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, request: CreateJobRequest | Mapping[str, Any] | None = None, **fields: Any) -> Job:
        body = _base.body(CreateJobRequest, request, fields)
        return Job.model_validate((await self._client.request(Request("POST", "/v1/jobs", json=body))).json())

    async def get(self, job_id: str) -> Job:
        return await self._client._get(f"/v1/jobs/{job_id}", Job)

    def list(self, *, limit: int | None = None) -> AsyncIterator[Job]:
        return self._client._pages("/v1/jobs", JobList, {}, limit)

    async def update(
        self, job_id: str, request: UpdateJobRequest | Mapping[str, Any] | None = None, **fields: Any
    ) -> Job:
        body = _base.body(UpdateJobRequest, request, fields)
        response = await self._client.request(Request("PATCH", f"/v1/jobs/{job_id}", json=body))
        return Job.model_validate(response.json())

    async def delete(self, job_id: str) -> None:
        await self._client.request(Request("DELETE", f"/v1/jobs/{job_id}"))

    async def run(
        self,
        job_id: str,
        request: JobRunRequest | Mapping[str, Any] | None = None,
        *,
        wait: bool | float = False,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Run:
        body = _base.body(JobRunRequest, request, fields)
        headers = {"Idempotency-Key": idempotency_key or _base.new_idempotency_key()}
        started = self._client._clock()
        response = await self._client.request(Request("POST", f"/v1/jobs/{job_id}/runs", json=body, headers=headers))
        run_id = RunAccepted.model_validate(response.json()).task_id
        if not wait:
            return await self._client.runs.get(run_id)
        left = _left(_wait_limit(wait, timeout), started, self._client._clock())
        return await self._client.runs.wait(run_id, timeout=left, on_update=on_update)


class AsyncProjects:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, request: CreateProjectRequest | Mapping[str, Any] | None = None, **fields: Any) -> Project:
        body = _base.body(CreateProjectRequest, request, fields)
        return Project.model_validate((await self._client.request(Request("POST", "/v1/projects", json=body))).json())

    async def get(self, project_id: str) -> Project:
        return await self._client._get(f"/v1/projects/{project_id}", Project)

    def list(self, *, limit: int | None = None) -> AsyncIterator[Project]:
        return self._client._pages("/v1/projects", ProjectList, {}, limit)
