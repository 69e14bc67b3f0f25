"""What routes depend on: the services container, the authenticated caller and the raw event.

Routes call :func:`services`, :func:`caller` and :func:`event`; tests may :func:`override` the
container. The caller and event live in context variables rather than on the (module-global)
router, so the handler is safe to call from several threads at once, as the local stack does.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from shared.auth import Authenticator
from shared.models.orgs import ApiKeyRecord, Org, OrgLimits
from shared.services import Services, get_services

_override: Services | None = None
_caller: ContextVar[Org | None] = ContextVar("openhelm_caller", default=None)
_caller_key: ContextVar[ApiKeyRecord | None] = ContextVar("openhelm_caller_key", default=None)
_event: ContextVar[dict[str, Any]] = ContextVar("openhelm_event")
_authenticators: dict[int, Authenticator] = {}


def services() -> Services:
    return _override or get_services()


def override(svc: Services | None) -> None:
    global _override
    _override = svc
    _authenticators.clear()


def authenticator(svc: Services) -> Authenticator:
    auth = _authenticators.get(id(svc))
    if auth is None:
        auth = _authenticators[id(svc)] = Authenticator(svc.orgs, clock=svc.clock)
    return auth


def set_caller(org: Org, key: ApiKeyRecord | None = None) -> None:
    _caller.set(org)
    _caller_key.set(key)


def caller() -> Org:
    """The org of the API key that authenticated this request (set by the auth middleware)."""
    org = _caller.get()
    if org is None:
        raise LookupError("no authenticated caller")
    return org


def caller_key() -> ApiKeyRecord:
    """The API key record of this request (its scopes: the MCP tools apply them per call)."""
    key = _caller_key.get()
    if key is None:
        raise LookupError("no authenticated caller")
    return key


def current_limits() -> OrgLimits | None:
    """The caller's limits when this request was authenticated (for rate-limit headers), else None."""
    org = _caller.get()
    return org.limits if org is not None else None


def set_event(event: dict[str, Any]) -> None:
    # A new request: forget the previous request's caller (Lambda reuses the process and its context).
    _caller.set(None)
    _caller_key.set(None)
    _event.set(event)


def event() -> dict[str, Any]:
    """The raw API Gateway (payload 2.0) event of this request."""
    return _event.get()


def header(name: str) -> str | None:
    return (event().get("headers") or {}).get(name.lower())
