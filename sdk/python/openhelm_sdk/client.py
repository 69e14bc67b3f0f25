"""The synchronous client: ``Client(api_key, base_url)`` with ``runs``, ``jobs`` and ``projects`` here,
and ``sessions``, ``files``, ``profiles``, ``keys`` and ``webhooks`` in ``resources.py``.

Adding a resource: a class like ``Projects`` below whose methods build ``Request`` values and call
``self._client.request(...)``, the same in ``async_client.py``, attached in both ``__init__``; its
models come with the next ``generate_models.py --write``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from openhelm_sdk import _base
from openhelm_sdk._base import TERMINAL, Config, PollPolicy, Request, RetryPolicy
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
from openhelm_sdk.resources import Files, Keys, Profiles, Sessions, Webhooks

M = TypeVar("M", bound=BaseModel)
OnUpdate = Callable[[Run], None]


class Client:
    """OpenHelm API client. ``api_key`` defaults to $OPENHELM_API_KEY, ``base_url`` to
    $OPENHELM_BASE_URL, else ``http://127.0.0.1:8787`` (``openhelm dev``)."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = Config.resolve(api_key, base_url, timeout, retry, max_retries, poll)
        self._http = http_client or httpx.Client(timeout=timeout)
        self._owns_http = http_client is None
        self._sleep = sleep
        self._clock = clock
        self.runs = Runs(self)
        self.jobs = Jobs(self)
        self.projects = Projects(self)
        self.sessions = Sessions(self)
        self.files = Files(self)
        self.profiles = Profiles(self)
        self.keys = Keys(self)
        self.webhooks = Webhooks(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, req: Request) -> httpx.Response:
        """Send one request with the retry rule; an error status raises its ``APIError``."""
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    req.method,
                    self._config.base_url + req.path,
                    params=req.params,
                    json=req.json,
                    files=req.files,
                    headers={**self._config.headers(), **req.headers},
                    timeout=req.timeout or self._config.timeout,
                )
            except httpx.TransportError as exc:
                # Not sent at all (connect) is always safe to repeat; an unanswered request only if safe.
                delay = self._config.retry.delay(attempt, None)
                if delay is None or not (isinstance(exc, httpx.ConnectError) or req.safe):
                    raise APIConnectionError(f"{req.method} {req.path}: {exc!r}") from exc
            else:
                if response.status_code < 400:
                    return response
                delay = self._config.retry.delay(attempt, response.headers)
                if delay is None or not req.retryable(response.status_code):
                    raise error_from_response(response)
            self._sleep(delay)
            attempt += 1

    def _get(self, path: str, model: type[M], params: dict[str, Any] | None = None) -> M:
        return model.model_validate(self.request(Request("GET", path, params=params)).json())

    def _pages(
        self, path: str, page: type[BaseModel], params: dict[str, Any], limit: int | None, page_size: int = 100
    ) -> Iterator[Any]:
        params = {k: v for k, v in params.items() if v is not None}
        seen = 0
        cursor: str | None = None
        while True:
            query = {
                **params,
                "limit": _base.page_size(limit, seen, page_size),
                **({"cursor": cursor} if cursor else {}),
            }
            got = self._get(path, page, query)
            for item in got.data:  # type: ignore[attr-defined]
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = got.next_cursor  # type: ignore[attr-defined]
            if not cursor:
                return


class Runs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        prompt: str | CreateRunRequest | None = None,
        *,
        wait: bool | float = False,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Run:
        """Create a run (any field of ``CreateRunRequest`` as a keyword, or the model itself).

        Without ``wait`` returns the run as just created (queued). With ``wait=True`` returns it
        finished, whatever its status (check ``run.status``): first through the API's own
        ``?wait=`` (up to its 25 s cap), then polling with backoff. A number waits that many seconds
        at most, as does ``timeout``; past that raises ``RunWaitTimeout`` (the run goes on).
        ``on_update`` is called with every state seen while waiting (progress, steps).
        An Idempotency-Key is sent always (a fresh one unless given), so retries never make two runs.
        """
        req_body = _run_body(prompt, fields)
        key = idempotency_key or _base.new_idempotency_key()
        limit = _wait_limit(wait, timeout)
        started = self._client._clock()
        server_wait = _base.server_wait(limit, started, started) if wait and on_update is None else 0
        response = self._client.request(
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
            return self.get(accepted.task_id)
        return self.wait(accepted.task_id, timeout=_left(limit, started, self._client._clock()), on_update=on_update)

    def get(self, run_id: str) -> Run:
        return self._client._get(f"/v1/runs/{run_id}", Run)

    def list(
        self,
        *,
        status: RunStatus | str | None = None,
        project_id: str | None = None,
        job_id: str | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Iterator[Run]:
        """Newest first, page after page as the iterator is consumed (``limit``: at most that many runs)."""
        params = {"status": RunStatus(status).value if status else None, "project_id": project_id, "job_id": job_id}
        return self._client._pages("/v1/runs", RunList, params, limit, page_size)

    def list_page(self, *, cursor: str | None = None, limit: int = 20, **filters: Any) -> RunList:
        """One page, for callers that keep the cursor themselves."""
        params = {k: v for k, v in {**filters, "cursor": cursor, "limit": limit}.items() if v is not None}
        return self._client._get("/v1/runs", RunList, params)

    def cancel(self, run_id: str) -> Run:
        return Run.model_validate(self._client.request(Request("POST", f"/v1/runs/{run_id}/cancel")).json())

    def wait(self, run_id: str, *, timeout: float | None = None, on_update: OnUpdate | None = None) -> Run:
        """Poll until the run is finished (succeeded, failed or cancelled) and return it."""
        client = self._client
        policy = client._config.poll
        started = client._clock()
        delay = policy.initial
        last: Run | None = None
        while True:
            run = self.get(run_id)
            if on_update is not None:
                on_update(run)
            if run.status in TERMINAL:
                return run
            left = _left(timeout, started, client._clock())
            if left is not None and left <= 0:
                raise RunWaitTimeout(run, timeout or 0)
            delay = policy.next(delay, _base.moved(last, run))
            last = run
            client._sleep(delay if left is None else min(delay, left))


class Jobs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, request: CreateJobRequest | Mapping[str, Any] | None = None, **fields: Any) -> Job:
        body = _base.body(CreateJobRequest, request, fields)
        return Job.model_validate(self._client.request(Request("POST", "/v1/jobs", json=body)).json())

    def get(self, job_id: str) -> Job:
        return self._client._get(f"/v1/jobs/{job_id}", Job)

    def list(self, *, limit: int | None = None) -> Iterator[Job]:
        return self._client._pages("/v1/jobs", JobList, {}, limit)

    def update(self, job_id: str, request: UpdateJobRequest | Mapping[str, Any] | None = None, **fields: Any) -> Job:
        body = _base.body(UpdateJobRequest, request, fields)
        return Job.model_validate(self._client.request(Request("PATCH", f"/v1/jobs/{job_id}", json=body)).json())

    def delete(self, job_id: str) -> None:
        self._client.request(Request("DELETE", f"/v1/jobs/{job_id}"))

    def run(
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
        """Run a job (its prompt and defaults, with these inputs and overrides); ``wait`` as in ``runs.create``."""
        body = _base.body(JobRunRequest, request, fields)
        headers = {"Idempotency-Key": idempotency_key or _base.new_idempotency_key()}
        started = self._client._clock()
        response = self._client.request(Request("POST", f"/v1/jobs/{job_id}/runs", json=body, headers=headers))
        run_id = RunAccepted.model_validate(response.json()).task_id
        if not wait:
            return self._client.runs.get(run_id)
        limit = _wait_limit(wait, timeout)
        return self._client.runs.wait(run_id, timeout=_left(limit, started, self._client._clock()), on_update=on_update)


class Projects:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, request: CreateProjectRequest | Mapping[str, Any] | None = None, **fields: Any) -> Project:
        body = _base.body(CreateProjectRequest, request, fields)
        return Project.model_validate(self._client.request(Request("POST", "/v1/projects", json=body)).json())

    def get(self, project_id: str) -> Project:
        return self._client._get(f"/v1/projects/{project_id}", Project)

    def list(self, *, limit: int | None = None) -> Iterator[Project]:
        return self._client._pages("/v1/projects", ProjectList, {}, limit)


def _run_body(prompt: str | CreateRunRequest | None, fields: Mapping[str, Any]) -> Any:
    if isinstance(prompt, CreateRunRequest):
        return _base.body(CreateRunRequest, prompt, fields)
    return _base.body(CreateRunRequest, None, {**({"prompt": prompt} if prompt is not None else {}), **fields})


def _wait_limit(wait: bool | float, timeout: float | None) -> float | None:
    if wait is True or wait is False:
        return timeout
    return float(wait) if timeout is None else min(float(wait), timeout)


def _left(limit: float | None, started: float, now: float) -> float | None:
    return None if limit is None else limit - (now - started)
