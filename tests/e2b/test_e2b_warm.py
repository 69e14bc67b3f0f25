"""The warm E2B template at the wire: sandboxes resume with the real agent waiting and Chromium up
(the fake cloud's snapshot of the template's start command), and the provider hands each one run."""

from __future__ import annotations

import importlib.util
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from devstack.testing.fake_openai import FakeOpenAI, ToolCall, make_handler
from shared.sandbox.base import SandboxRequest
from shared.sandbox.e2b_provider import E2BProvider
from tests.agent.harness import CHROMIUM, FakeControlPlane
from tests.e2b.fake_e2b import FakeE2BCloud, make_image

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")

API_KEY = "e2b_test_warm_0123456789"
WARM, COLD = "openhelm-agent-warm", "openhelm-agent-cold"
SANDBOX_IMAGE = Path(__file__).resolve().parents[2] / "sandbox_image"
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
DONE = ToolCall("done", {"result": {"title": "Warm page"}, "confidence": 0.9, "summary": "read the title"})


def template_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openhelm_sandbox_template", SANDBOX_IMAGE / "template.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeE2BCloud]:
    # The image holds the real agent (the template pip-installs sandbox_image/agent).
    image = make_image(tmp_path_factory.mktemp("e2b-warm-image"), SANDBOX_IMAGE / "agent")
    template = template_module()
    fake = FakeE2BCloud(
        tmp_path_factory.mktemp("e2b-warm-sandboxes"),
        api_key=API_KEY,
        templates={COLD},
        image_dir=image,
        start_cmds={WARM: (template.WARM_START_COMMAND, template.WARM_READY_FILE)},
    )
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def env(cloud: FakeE2BCloud, monkeypatch: pytest.MonkeyPatch) -> FakeE2BCloud:
    for var in ("E2B_DEBUG", "E2B_API_KEY", "E2B_DOMAIN", "E2B_HTTP_VERSION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("E2B_API_URL", cloud.api_url)
    monkeypatch.setenv("E2B_SANDBOX_URL", cloud.envd_url)
    yield cloud
    for sbx in cloud.alive():
        cloud.kill_sandbox(sbx.sandbox_id)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><head><title>Warm page</title></head><body><h1>Warm page</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def plane() -> Iterator[tuple[FakeControlPlane, str]]:
    fake = FakeControlPlane(FakeOpenAI([], when_exhausted=DONE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake.respond))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def request(control_url: str, site: str, **kwargs: Any) -> SandboxRequest:
    run_id = f"run_{secrets.token_hex(6)}"
    spec = {
        "run_id": run_id,
        "prompt": "Read the page title",
        "start_url": f"{site}/warm",
        "output_schema": SCHEMA,
        "model": "gpt-test",
        "max_steps": 3,
        "max_duration_s": 60,
    }
    return SandboxRequest(
        run_id=run_id,
        org_id="org_test",
        timeout_s=120,
        run_spec=spec,
        control_url=control_url,
        run_token=f"ohrt_{secrets.token_hex(16)}",
        **kwargs,
    )


def completion(fake: FakeControlPlane, run_id: str) -> dict[str, Any]:
    found = wait_until(lambda: [c for c in fake.completions if c["run_id"] == run_id], timeout=90)
    return found[0]["body"]  # type: ignore[no-any-return]


def process_starts(cloud: FakeE2BCloud, sandbox_id: str) -> int:
    return sum(1 for p in cloud.sandboxes[sandbox_id].processes.values() if "openhelm_agent" in " ".join(p.config.args))


def test_a_warm_sandbox_runs_its_run_in_the_agent_already_waiting(
    env: FakeE2BCloud, plane: tuple[FakeControlPlane, str], site: str
) -> None:
    fake, url = plane
    env.snapshot(WARM, 2)
    provider = E2BProvider(api_key=API_KEY, template=WARM, domain="e2b.example", deployment="test")
    first, second = request(url, site), request(url, site)
    a, b = provider.start(first), provider.start(second)
    assert a.metadata["warm"] == "true" and b.metadata["warm"] == "true"
    assert a.sandbox_id != b.sandbox_id  # one resumed snapshot per run
    for info, req in ((a, first), (b, second)):
        body = completion(fake, req.run_id)
        assert body["status"] == "succeeded", body
        assert body["result"] == {"title": "Warm page"}
        assert process_starts(env, info.sandbox_id) == 0  # no agent started over envd: it was running
        steps = provider.read_file(info.sandbox_id, "steps.jsonl").decode().splitlines()
        assert steps and json.loads(steps[-1])["action"] == "done"
    # Each run's token reached its own sandbox only, and the agent authenticated with it.
    assert {c["authorization"] for c in fake.completions} == {f"Bearer {first.run_token}", f"Bearer {second.run_token}"}


def test_a_run_with_envs_stands_the_warm_agent_down_and_starts_cold(
    env: FakeE2BCloud, plane: tuple[FakeControlPlane, str], site: str
) -> None:
    fake, url = plane
    env.snapshot(WARM, 1)
    provider = E2BProvider(api_key=API_KEY, template=WARM, domain="e2b.example", deployment="test")
    req = request(url, site, envs={"GREETING": "hello"})
    info = provider.start(req)
    assert "warm" not in info.metadata
    assert completion(fake, req.run_id)["status"] == "succeeded"
    assert process_starts(env, info.sandbox_id) == 1
    started = env.sandboxes[info.sandbox_id].started[0]
    assert wait_until(lambda: started.poll() is not None) is not None and started.returncode == 0  # stood down
    assert len(fake.completions) == 1  # the stood-down agent reported nothing


def test_a_template_without_the_warm_start_starts_the_agent_per_run(
    env: FakeE2BCloud, plane: tuple[FakeControlPlane, str], site: str
) -> None:
    fake, url = plane
    provider = E2BProvider(api_key=API_KEY, template=COLD, domain="e2b.example", deployment="test")
    req = request(url, site)
    info = provider.start(req)
    assert "warm" not in info.metadata
    assert completion(fake, req.run_id)["status"] == "succeeded"
    assert process_starts(env, info.sandbox_id) == 1
