"""The trace bundle and the viewer page against moto (S3, DynamoDB) with the in-memory sandbox: when a
bundle exists, that it is built once per state of the run, and what the page and its routes answer."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from shared import billing
from shared.errors import Conflict
from shared.evidence import collect
from shared.orchestration.finalize import finalize
from shared.viewer import bundle
from shared.viewer.service import run_bundle, viewer_url
from tests.integration.test_evidence import key_of, s3_bytes
from tests.integration.test_orchestration_steps import PNG, agent_outputs, env, started  # noqa: F401
from tests.support.apigw import call, http_event


def _zip(svc, info) -> zipfile.ZipFile:  # type: ignore[no-untyped-def]
    return zipfile.ZipFile(io.BytesIO(s3_bytes(svc, key_of(info.url))))


def test_a_bundle_waits_for_the_run_and_its_evidence_then_is_built_once_per_state(env) -> None:  # noqa: F811
    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id)
    with pytest.raises(Conflict) as going:
        run_bundle(svc, org_id, run_id)
    assert going.value.code == "run_not_finished"

    agent_outputs(provider, sandbox_id, {"status": "succeeded", "result": {"n": 3}, "confidence": 0.8})
    finalize(svc, run_id, org_id, {})
    with pytest.raises(Conflict) as pending:
        run_bundle(svc, org_id, run_id)
    assert pending.value.code == "evidence_not_ready"

    assert collect(svc, org_id, run_id).status == "ready"
    first = run_bundle(svc, org_id, run_id)
    assert not first.cached and first.files == 8  # run.json, evidence manifest, 3 records, 2 screenshots, index.html
    again = run_bundle(svc, org_id, run_id)
    assert again.cached and again.bytes == first.bytes and again.url.split("?")[0] == first.url.split("?")[0]
    with _zip(svc, first) as zf:
        check = bundle.open_bundle(zf, bundle.signing_key(svc.settings.viewer_key()))
        assert check.intact and check.signature == "valid"
        assert json.loads(zf.read("run.json"))["usage"]["cost_status"] == "estimate"
        assert zf.read("screenshots/step-0001.png") == PNG

    # billed after the first download: the next one is a new bundle with the billed usage
    svc.clock.advance(5)  # type: ignore[attr-defined]
    billing.record_usage(svc, org_id, run_id)
    billed = run_bundle(svc, org_id, run_id)
    assert not billed.cached and billed.url.split("?")[0] != first.url.split("?")[0]
    with _zip(svc, billed) as zf:
        assert json.loads(zf.read("run.json"))["usage"]["cost_status"] == "billed"


def test_the_page_by_its_link_and_the_bundle_by_the_api(env) -> None:  # noqa: F811
    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id)
    agent_outputs(provider, sandbox_id, {"status": "succeeded", "result": {"n": 3}, "confidence": 0.8})
    finalize(svc, run_id, org_id, {})
    collect(svc, org_id, run_id)

    from shared.api import deps

    deps.override(svc)
    try:
        url = viewer_url(svc, run_id, org_id, "https://api.test")
        path, _, query = url.removeprefix("https://api.test").partition("?")
        page = call(http_event("GET", path, query=dict([query.split("=", 1)])))
        assert page.status == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        shots = re.findall(r'<img class="shot" src="([^"]+)"', html)
        assert html.count('class="step"') == 2 and len(shots) == 2
        # the screenshots are presigned S3 URLs: the page never carries image bytes
        assert all("openhelm-evidence-test" in u and "Signature=" in u for u in shots), shots
        assert "data:image" not in html
        assert "script-src" not in page.headers["content-security-policy"]

        no_token = call(http_event("GET", path))
        assert no_token.status == 403 and "This link is not valid" in no_token.text
        svc.clock.advance(svc.settings.viewer_url_ttl_s + 1)  # type: ignore[attr-defined]
        late = call(http_event("GET", path, query=dict([query.split("=", 1)])))
        assert late.status == 410 and "expired" in late.text

        # the bundle route needs an API key, like every other
        assert call(http_event("GET", f"/v1/runs/{run_id}/bundle")).status == 401
    finally:
        deps.override(None)
