from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.api import deps
from shared.clock import FakeClock
from shared.orgs import bootstrap_org
from shared.services import Services
from tests.support.aws import make_services


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(moto_aws: None, clock: FakeClock) -> Iterator[Services]:
    services = make_services(clock=clock)
    deps.override(services)
    yield services
    deps.override(None)


@pytest.fixture
def org_key(svc: Services) -> tuple[str, str]:
    return bootstrap_org("acme", svc)
