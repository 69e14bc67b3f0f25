"""The API resolver: routers, auth middleware, error handlers, OpenAPI settings.

``handle(event, context)`` is what the API Lambda calls: guard → resolve → response.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from shared.api import deps, errors, guard, hosting
from shared.api.openapi import build_document, docs_page
from shared.api.routes import (
    billing,
    files,
    internal,
    jobs,
    keys,
    live,
    mcp,
    meta,
    profiles,
    projects,
    runs,
    sessions,
    viewer,
    webhooks,
)
from shared.auth import require_scope
from shared.errors import OpenHelmError
from shared.logging import bind_context, clear_context, get_logger

log = get_logger(__name__)


def authenticate(event: dict[str, Any], routes: list[tuple[str, re.Pattern[str]]]) -> None:
    """Authenticate the caller of a route (public and internal paths aside) before the resolver runs.

    Powertools validates a request's body before any middleware, so a middleware would answer an
    unauthenticated request with 422 and the body's faults; the key is checked first instead."""
    http = (event.get("requestContext") or {}).get("http") or {}
    path, method = str(http.get("path") or event.get("rawPath") or ""), str(http.get("method") or "").upper()
    if path in meta.PUBLIC_PATHS or path.startswith(internal.PREFIX) or viewer.PUBLIC_PATH.match(path):
        return
    if not any(rule.match(path) for _, rule in routes):
        return  # no such route: the resolver answers 404
    svc = deps.services()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    key, org = deps.authenticator(svc).authenticate(headers.get("authorization"))
    bind_context(org_id=org.id, key_id=key.key_id)
    if path != mcp.PATH:  # every MCP message is a POST: its tools apply the key's scope per call
        require_scope(key, method)
    deps.set_caller(org, key)


class _Resolver(APIGatewayHttpResolver):
    """One request at a time per instance, many instances per process.

    Powertools 3.37 ``resolve`` stores the request on the class (``BaseRouter.current_event``), so two
    resolvers in one process read each other's request under concurrency (seen as one request's body
    validated against another's route). An instance attribute shadows the class attribute: set it
    before resolving and each resolver reads only its own request. Lambda runs one request per
    process and never needs this; the local stack's threaded gateway does (shared/api/hosting.py).
    tests/integration/test_api_concurrency.py holds the behaviour."""

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.current_event = self._to_proxy_event(event)
        self.lambda_context = context
        return super().resolve(event, context)


def build_app() -> APIGatewayHttpResolver:
    app = _Resolver(enable_validation=True)
    for module in (
        runs,
        sessions,
        viewer,
        live,
        jobs,
        projects,
        files,
        profiles,
        billing,
        keys,
        webhooks,
        mcp,
        meta,
        internal,
    ):
        app.include_router(module.router)
    app.exception_handler(OpenHelmError)(errors.from_domain)
    app.exception_handler(RequestValidationError)(errors.from_validation)

    @app.not_found
    def not_found(_exc: Exception) -> Response:
        return errors.error_response(404, "not_found_error", "route_not_found", f"no route {app.current_event.path}")

    @app.get("/openapi.json", summary="This OpenAPI document", tags=["Meta"], include_in_schema=False)
    def openapi_document() -> Response[Any]:
        return Response(status_code=200, content_type="application/json", body=openapi_json())

    @app.get("/docs", summary="This API's Swagger UI", tags=["Meta"], include_in_schema=False)
    def swagger_ui() -> Response[Any]:
        fmt = (app.current_event.query_string_parameters or {}).get("format")
        content_type, body = docs_page(openapi_json(), fmt)
        return Response(status_code=200, content_type=content_type, body=body)

    return app


# The one resolver of a Lambda process; it also serves the OpenAPI document and the route table. A
# host that calls handle() from many threads installs its own resolvers (shared/api/hosting.py).
app = build_app()


def _route_table() -> list[tuple[str, re.Pattern[str]]]:
    # Powertools 3.37 keeps compiled routes in these two lists; pinned in pyproject, tested in
    # tests/unit/test_api_guard.py so an upgrade that moves them fails loudly.
    routes = app._static_routes + app._dynamic_routes
    return [(r.method.upper(), r.rule) for r in routes if r.rule.pattern not in ("^/docs$",)]


ROUTES = _route_table()


@lru_cache(maxsize=1)
def openapi_json() -> str:
    """The API's OpenAPI document (built once per process, from the first app's routes)."""
    return build_document(app)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    clear_context()
    request_id = (event.get("requestContext") or {}).get("requestId")
    bind_context(request_id=request_id)
    svc = deps.services()
    try:
        rejected = guard.check_event(event, svc.settings.max_body_bytes, ROUTES)
    except Exception as exc:  # a body the guard did not foresee: still an answer in the envelope
        return errors.to_gateway(errors.internal_error(exc))
    if rejected is not None:
        return rejected
    deps.set_event(event)
    try:
        authenticate(event, ROUTES)
    except OpenHelmError as exc:
        return errors.to_gateway(errors.from_domain(exc))
    lease = hosting.current_lease()
    with lease() if lease is not None else nullcontext(app) as resolver:
        try:
            return resolver.resolve(event, context)  # type: ignore[no-any-return]
        except Exception as exc:  # the resolver let something escape: never a bare 500 without envelope
            return errors.to_gateway(errors.internal_error(exc))
