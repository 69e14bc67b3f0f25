"""Seam between ``openhelm dev`` and the domain's org bootstrap.

The CLI must not import the domain package before the local stack has put the template's
environment in place (settings are read once per process), and tests replace the bootstrap with
a fake, so the call goes through this one small function that imports lazily.
"""

from __future__ import annotations

from collections.abc import Callable

BootstrapOrg = Callable[[str], tuple[str, str]]


def bootstrap_org(name: str) -> tuple[str, str]:
    """Create an org named ``name`` and an API key for it; returns ``(org_id, api_key)``."""
    from shared.orgs import bootstrap_org as create

    org_id, api_key = create(name)
    return org_id, api_key
