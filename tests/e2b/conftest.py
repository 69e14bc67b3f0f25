"""Fixtures: a fake E2B cloud (REST API + envd over real HTTP) and an E2BProvider pointed at it.

The provider is configured exactly as in production (api key, template, domain); only the SDK's own
endpoint overrides ``E2B_API_URL`` and ``E2B_SANDBOX_URL`` point it at the fakes, so the whole
non-debug code path of the SDK runs: create/connect/kill/list over REST, commands and filesystem
over envd's Connect-RPC and ``/files``. No fixed port is used (both servers bind port 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.sandbox.e2b_provider import E2BProvider
from tests.e2b.fake_e2b import FakeE2BCloud, make_image

API_KEY = "e2b_test_0123456789abcdef"
TEMPLATE = "openhelm-agent-test"
STANDIN = Path(__file__).parent / "standin_agent"


@pytest.fixture(scope="session")
def fake_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeE2BCloud]:
    image = make_image(tmp_path_factory.mktemp("e2b-image"), STANDIN)
    cloud = FakeE2BCloud(
        tmp_path_factory.mktemp("e2b-sandboxes"), api_key=API_KEY, templates={TEMPLATE}, image_dir=image
    )
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def e2b_env(fake_cloud: FakeE2BCloud, monkeypatch: pytest.MonkeyPatch) -> FakeE2BCloud:
    for var in ("E2B_DEBUG", "E2B_API_KEY", "E2B_DOMAIN", "E2B_HTTP_VERSION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("E2B_API_URL", fake_cloud.api_url)
    monkeypatch.setenv("E2B_SANDBOX_URL", fake_cloud.envd_url)
    for sbx in fake_cloud.alive():
        fake_cloud.kill_sandbox(sbx.sandbox_id)
    fake_cloud.sandboxes.clear()
    fake_cloud.requests.clear()
    fake_cloud.create_keys.clear()
    return fake_cloud


@pytest.fixture
def provider(e2b_env: FakeE2BCloud) -> Iterator[E2BProvider]:
    prov = E2BProvider(api_key=API_KEY, template=TEMPLATE, domain="e2b.example", deployment="test")
    try:
        yield prov
    finally:
        for sbx in e2b_env.alive():
            e2b_env.kill_sandbox(sbx.sandbox_id)
