"""Orgs: creation with a default project and a first API key (used by `openhelm dev` and admin tools)."""

from __future__ import annotations

from shared import billing
from shared.api_keys import create_key
from shared.models.orgs import Org, OrgLimits
from shared.models.projects import CreateProjectRequest
from shared.projects import DEFAULT_PROJECT_NAME, create_project
from shared.services import Services, get_services


def bootstrap_org(
    name: str,
    svc: Services | None = None,
    limits: OrgLimits | None = None,
    start_balance_micros: int | None = None,
    actor: str = "bootstrap",
) -> tuple[str, str]:
    """Create an org, its default project, a starting balance and an API key. Returns (org_id,
    api_key); the key is shown only here. The balance is ``start_balance_micros`` or else the
    ``OPENHELM_DEV_START_BALANCE_USD`` setting (100 USD); 0 creates none (runs then answer 402)."""
    svc = svc or get_services()
    org_id = svc.ids.new("org")
    project = create_project(
        svc,
        org_id,
        CreateProjectRequest(name=DEFAULT_PROJECT_NAME, description="Runs created without a project"),
        is_default=True,
    )
    base = limits or OrgLimits(
        rate_per_minute=svc.settings.default_rate_per_minute, rate_burst=svc.settings.default_rate_burst
    )
    org = Org(id=org_id, name=name, created_at=svc.clock.now(), default_project_id=project.id, limits=base)
    svc.orgs.create(org)
    start = svc.settings.dev_start_balance_micros if start_balance_micros is None else start_balance_micros
    if start > 0:
        billing.credit(svc, org_id, start, "starting balance", actor=actor)
    created = create_key(svc, org_id, name="first key")
    return org_id, created.key
