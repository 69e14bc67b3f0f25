"""The one public way to reset what this process cached from its environment.

A Lambda process reads its environment once (settings, the services built on them, the sandbox
provider). The embedded local stack runs many stacks in one process, one after another, each with
its own environment, so it resets these caches when a stack starts and when it stops.
"""

from __future__ import annotations

from shared.config import get_settings
from shared.sandbox.factory import close_providers
from shared.services import get_services


def reset_process_caches() -> None:
    """Forget the cached settings and services (with their AWS clients), and close the sandbox
    providers (their sandboxes are killed); the next call of each builds it afresh from the
    environment. A provider handed in through ``shared.sandbox.factory.override`` stays."""
    get_settings.cache_clear()
    get_services.cache_clear()
    close_providers()
