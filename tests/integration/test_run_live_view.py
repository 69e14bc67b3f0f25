"""A one-shot run's live view through the API handler (moto, a fake provider that starts nothing):
the envelope's read-only live_url while the run runs, the page behind it (frames from the sandbox's
exposed port, with a frame token of the run sandbox's own secret), its state poll, control refused
(manual control is a sessions feature), no link for a sandbox that serves no live view (a warm local
one), and the link's end with the run (410). Real frames: tests/e2e/test_live_view_e2e.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.clock import FakeClock
from shared.models.runs import CreateRunRequest
from shared.orchestration.admit import admit
from shared.orchestration.finalize import finalize
from shared.orchestration.start_sandbox import start_sandbox
from shared.orgs import bootstrap_org
from shared.runs import service as runs
from shared.sandbox.base import LIVE_VIEW_KEY, SandboxInfo, SandboxRequest
from shared.services import Services
from shared.viewer.live_secret import frame_token, sandbox_secret
from tests.support.apigw import Reply, call, http_event
from tests.support.aws import make_services
from tests.support.fake_sandbox import FakeSandboxProvider

FRAMES = "http://127.0.0.1:49998"


class LiveFakeProvider(FakeSandboxProvider):
    """Serves a live view as the real providers do: only for a request with a live secret, and
    (``warm``) not at all for a sandbox handed a run without one."""

    def __init__(self, *, warm: bool = False) -> None:
        super().__init__()
        self.warm = warm

    def start(self, request: SandboxRequest) -> SandboxInfo:
        info = super().start(request)
        if request.live_secret and not self.warm:
            info.metadata[LIVE_VIEW_KEY] = "1"
        return info

    def live_endpoint(self, sandbox_id: str) -> str | None:
        return None if self.warm else FRAMES


@pytest.fixture
def env(moto_aws: None) -> Iterator[tuple[Services, str, str]]:
    from shared.api import deps

    svc = make_services(clock=FakeClock(), OPENHELM_RUN_TOKEN_SECRET="x" * 40, OPENHELM_PUBLIC_URL="http://127.0.0.1:9")
    deps.override(svc)
    org_id, key = bootstrap_org("acme", svc)
    yield svc, org_id, key
    deps.override(None)


def _started(svc: Services, org_id: str, provider: LiveFakeProvider) -> tuple[str, str]:
    svc.sandbox_provider = provider
    run_id = runs.create_run(svc, svc.orgs.get(org_id), CreateRunRequest(prompt="Look around")).run.id
    assert admit(svc, run_id, org_id)["admitted"]
    return run_id, start_sandbox(svc, run_id, org_id, task_token=f"tok-{run_id}")["sandbox_id"]


def _get(key: str, run_id: str, **query: str) -> Reply:
    return call(http_event("GET", f"/v1/runs/{run_id}", key=key, query=query or None))


def _open(url: str, method: str = "GET", body: Any = None, path_suffix: str = "") -> Reply:
    parts = urlsplit(url)
    token = parse_qs(parts.query)["token"][0]
    return call(http_event(method, parts.path + path_suffix, body=body, query={"token": token}))


def test_a_running_run_has_a_read_only_live_url_that_ends_with_the_run(env) -> None:
    svc, org_id, key = env
    provider = LiveFakeProvider()
    run_id, sandbox_id = _started(svc, org_id, provider)
    secret = provider.requests[0].live_secret
    assert secret == sandbox_secret(svc, run_id) and len(secret) == 64
    assert secret not in json.dumps(provider.requests[0].run_spec)

    got = _get(key, run_id)
    assert got.json["status"] == "running"
    live_url = got.json["live_url"]
    assert re.search(rf"/v1/runs/{run_id}/live\?token=ohlv_{org_id}\.{run_id}\.view\.\d+\.", live_url)
    assert key not in live_url

    page = _open(live_url)
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert f"img-src {FRAMES};" in page.headers["content-security-policy"]
    assert run_id in page.text and "Release to the agent" not in page.text
    data = json.loads(re.search(r'<script type="application/json" id="live-data">(.*?)</script>', page.text)[1])
    link_expiry = int(parse_qs(urlsplit(live_url).query)["token"][0].split(".")[3])
    assert data["frames"] == {"url": FRAMES, "token": frame_token(secret, link_expiry)} and data["mode"] == "view"
    assert secret not in page.text

    state = _open(live_url, path_suffix="/state")
    assert state.status == 200, state.text
    assert state.json["run_id"] == run_id and state.json["session_id"] is None
    assert state.json["status"] == "running" and state.json["mode"] == "view"

    # Control is a sessions feature: no control link, and the picture takes no input.
    control = _get(key, run_id, live_mode="control")
    assert control.status == 409 and control.json["error"]["code"] == "live_control_unsupported"
    assert "sessions feature" in control.json["error"]["message"]
    page_input = _open(live_url, "POST", {"action": "click", "x": 10, "y": 10}, "/input")
    assert page_input.status in (401, 404, 405)  # no such endpoint for a run: nothing acts on its picture

    # Another run's link opens nothing here; a session's live page does not take a run's link.
    other_id, _ = _started(svc, org_id, provider)
    token = parse_qs(urlsplit(live_url).query)["token"][0]
    assert call(http_event("GET", f"/v1/runs/{other_id}/live", query={"token": token})).status == 404

    provider.put(sandbox_id, "result.json", json.dumps({"status": "succeeded", "result": "done"}))
    finalize(svc, run_id, org_id, {})
    ended = _get(key, run_id)
    assert ended.json["status"] == "succeeded" and ended.json["live_url"] is None
    gone = _open(live_url, path_suffix="/state")
    assert gone.status == 410 and gone.json["error"]["code"] == "live_view_ended"
    assert _open(live_url).status == 410


def test_a_run_on_a_sandbox_without_a_live_view_has_no_live_url(env) -> None:
    svc, org_id, key = env
    run_id, _ = _started(svc, org_id, LiveFakeProvider(warm=True))
    got = _get(key, run_id)
    assert got.json["status"] == "running" and got.json["live_url"] is None
