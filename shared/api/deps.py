"""What routes depend on: the services container and the authenticated caller.

Routes call :func:`services` and :func:`caller`; tests may :func:`override` the container.
"""

from __future__ import annotations

from typing import Any

from shared.auth import Authenticator
from shared.models.orgs import Org
from shared.services import Services, get_services

_override: Services | None = None
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
        auth = _authenticators[id(svc)] = Authenticator(svc.orgs, svc.clock.monotonic)
    return auth


def caller(context: dict[str, Any]) -> Org:
    """The org the auth middleware put in the router context."""
    return context["org"]  # type: ignore[no-any-return]
