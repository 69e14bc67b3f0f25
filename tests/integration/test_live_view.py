"""A session's live view through the API handler (moto, a provider that starts nothing): the
envelope's signed live_url, the page behind it (frames from the sandbox's exposed port, with a frame
token of the sandbox's secret), its state poll, read-only links refusing input, and the link's end
with its session. Real frames and clicks: tests/e2e/test_live_view_e2e.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.clock import FakeClock
from shared.orgs import bootstrap_org
from shared.services import Services
from shared.viewer.live_secret import frame_token
from tests.support.apigw import Reply, call, http_event
from tests.support.sessions import RecordingProvider, api_services, create, ready

FRAMES = "http://127.0.0.1:49999"


class LiveRecordingProvider(RecordingProvider):
    def live_endpoint(self, sandbox_id: str) -> str | None:
        return FRAMES


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def svc(moto_aws: None, clock: FakeClock) -> Iterator[Services]:
    with api_services(clock) as services:
        yield services


def _open(url: str, method: str = "GET", body: Any = None, path_suffix: str = "") -> Reply:
    parts = urlsplit(url)
    token = parse_qs(parts.query)["token"][0]
    return call(http_event(method, parts.path + path_suffix, body=body, query={"token": token}))


def _ready_session(svc: Services, key: str, provider: RecordingProvider) -> str:
    created = create(key)
    assert created.status == 201, created.text
    assert created.json["live_url"] is None  # starting: nothing to show yet
    sid = created.json["id"]
    assert ready(svc, provider, sid).status < 300
    return sid


def test_a_ready_session_has_a_signed_live_url_whose_page_shows_the_sandboxs_frames(
    svc: Services, clock: FakeClock
) -> None:
    org_id, key = bootstrap_org("acme", svc)
    provider = LiveRecordingProvider()
    svc.sandbox_provider = provider
    sid = _ready_session(svc, key, provider)
    secret = provider.requests[0].live_secret
    assert len(secret) == 64 and secret not in json.dumps(provider.requests[0].run_spec)

    got = call(http_event("GET", f"/v1/sessions/{sid}", key=key))
    live_url = got.json["live_url"]
    assert re.search(rf"/v1/sessions/{sid}/live\?token=ohlv_{org_id}\.{sid}\.view\.\d+\.", live_url)
    assert key not in live_url

    page = _open(live_url)
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    # The browser reads frames from the sandbox's port, nothing else; scripts only the page's own.
    csp = page.headers["content-security-policy"]
    assert f"img-src {FRAMES};" in csp and f"connect-src 'self' {FRAMES};" in csp and "script-src 'sha256-" in csp
    data = json.loads(re.search(r'<script type="application/json" id="live-data">(.*?)</script>', page.text)[1])
    assert data["frames"]["url"] == FRAMES and data["mode"] == "view"
    assert secret not in page.text  # only a frame token, which the sandbox accepts until the link's expiry
    # The frame token (openhelm_agent/live.py checks it) is made with the secret and ends with the link.
    link_expiry = int(parse_qs(urlsplit(live_url).query)["token"][0].split(".")[3])
    assert data["frames"]["token"] == frame_token(secret, link_expiry)
    assert link_expiry == int(clock.now().timestamp()) + svc.settings.viewer_url_ttl_s

    state = _open(live_url, path_suffix="/state")
    assert state.status == 200 and state.json["status"] == "ready" and state.json["mode"] == "view"
    assert state.json["current_url"] == "https://example.com/"

    # A read-only link acts on nothing.
    refused = _open(live_url, "POST", {"action": "click", "x": 10, "y": 10}, "/input")
    assert refused.status == 403 and refused.json["error"]["code"] == "live_link_read_only"
    assert provider.commands == []

    control = call(http_event("GET", f"/v1/sessions/{sid}", key=key, query={"live_mode": "control"}))
    assert ".control." in control.json["live_url"]
    assert _open(control.json["live_url"], path_suffix="/state").json["mode"] == "control"


def test_the_link_is_refused_when_forged_another_sessions_expired_or_its_session_ended(
    svc: Services, clock: FakeClock
) -> None:
    _org_id, key = bootstrap_org("acme", svc)
    provider = LiveRecordingProvider()
    svc.sandbox_provider = provider
    sid = _ready_session(svc, key, provider)
    other = _ready_session(svc, key, provider)
    live_url = call(http_event("GET", f"/v1/sessions/{sid}", key=key)).json["live_url"]
    token = parse_qs(urlsplit(live_url).query)["token"][0]

    forged = call(http_event("GET", f"/v1/sessions/{sid}/live", query={"token": token[:-3] + "AAA"}))
    assert forged.status == 403 and "signature" in forged.text
    assert call(http_event("GET", f"/v1/sessions/{other}/live", query={"token": token})).status == 404
    assert call(http_event("GET", f"/v1/sessions/{sid}/live")).status == 403  # no token, no API key asked

    clock.advance(svc.settings.viewer_url_ttl_s + 1)
    assert _open(live_url).status == 410  # expired
    fresh = call(http_event("GET", f"/v1/sessions/{sid}", key=key)).json["live_url"]
    assert _open(fresh).status == 200

    closed = call(http_event("DELETE", f"/v1/sessions/{sid}", key=key))
    assert closed.status == 200 and closed.json["live_url"] is None
    ended = _open(fresh, path_suffix="/state")
    assert ended.status == 410 and ended.json["error"]["code"] == "live_view_ended"
    assert _open(fresh).status == 410
    assert call(http_event("GET", f"/v1/sessions/{sid}", key=key)).json["live_url"] is None
