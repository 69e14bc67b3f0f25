"""The E2B provider applies the sandbox environment policy the local provider applies."""

from __future__ import annotations

import pytest

from shared.sandbox.base import SandboxStartError
from shared.sandbox.e2b_provider import E2BProvider
from tests.e2b.fake_e2b import FakeE2BCloud
from tests.e2b.test_e2b_provider import request


@pytest.mark.parametrize("name", ["LD_PRELOAD", "PYTHONHOME", "BASH_ENV", "GOOGLE_CLOUD_PROJECT"])
def test_loader_variables_are_refused_as_the_local_provider_refuses_them(
    provider: E2BProvider, e2b_env: FakeE2BCloud, name: str
) -> None:
    with pytest.raises(SandboxStartError, match=name):
        provider.start(request(envs={name: "/tmp/x"}))
    assert e2b_env.requests == []
