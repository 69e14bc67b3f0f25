"""The evidence function's work against moto (S3, DynamoDB, EventBridge), with the sandbox played by
the in-memory provider: copy, manifest, presigned URLs, kill, Evidence Ready, and every failure."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from shared.evidence import collect
from shared.orchestration.cleanup import cleanup
from shared.orchestration.finalize import finalize
from shared.runs import service as runs
from shared.services import Services
from tests.integration.test_orchestration_steps import PNG, agent_outputs, env, started  # noqa: F401
from tests.support.aws import EventTap
from tests.support.fake_sandbox import FakeSandboxProvider


def finished_run(svc: Services, provider: FakeSandboxProvider, org_id: str) -> tuple[str, str]:
    run_id, sandbox_id = started(svc, provider, org_id)
    agent_outputs(provider, sandbox_id, {"status": "succeeded", "result": {"n": 3}, "confidence": 0.8})
    provider.put(sandbox_id, "screenshots/step-0002.png", PNG + b"2")
    finalize(svc, run_id, org_id, {})
    return run_id, sandbox_id


def s3_bytes(svc: Services, key: str) -> bytes:
    return svc.aws.s3.get_object(Bucket=svc.settings.evidence_bucket, Key=key)["Body"].read()


def key_of(url: str) -> str:
    """The object key a presigned URL points at (path-style or virtual-hosted)."""
    path = urlparse(url).path.lstrip("/")
    return path.split("/", 1)[1] if path.startswith("openhelm-evidence-test/") else path


def test_evidence_is_copied_with_a_manifest_then_the_sandbox_is_killed(env) -> None:  # noqa: F811
    svc, provider, org_id = env
    tap = EventTap(svc)
    run_id, sandbox_id = finished_run(svc, provider, org_id)
    tap.drain()

    outcome = collect(svc, org_id, run_id)
    assert outcome.status == "ready" and outcome.files == 5  # 3 records + 2 screenshots
    assert sandbox_id in provider.killed and sandbox_id not in provider.alive

    run = runs.get_run(svc, org_id, run_id)
    assert run.evidence_status == "ready" and run.evidence_error is None
    manifest = json.loads(s3_bytes(svc, key_of(run.evidence_manifest_url)))
    by_path = {f["path"]: f for f in manifest["files"]}
    assert set(by_path) == {
        "steps.jsonl",
        "network.jsonl",
        "result.json",
        "screenshots/step-0001.png",
        "screenshots/step-0002.png",
    }
    for item in run.evidence:
        data = s3_bytes(svc, key_of(item.screenshot_url))
        assert data.startswith(b"\x89PNG")
        assert hashlib.sha256(data).hexdigest() == item.sha256 == by_path[item.path]["sha256"]
        assert item.url == "http://shop.test/" or item.step == 2
    assert by_path["screenshots/step-0001.png"]["key"] == f"evidence/{org_id}/{run_id}/screenshots/step-0001.png"

    events = tap.drain()
    ready = [e for e in events if e["detail-type"] == "Evidence Ready"]
    assert len(ready) == 1
    assert ready[0]["detail"] == {
        "run_id": run_id,
        "org_id": org_id,
        "status": "succeeded",
        "evidence_status": "ready",
        "files": 5,
        "error": None,
    }

    # a duplicate event (EventBridge is at-least-once) changes nothing and announces nothing
    assert collect(svc, org_id, run_id).status == "skipped"
    assert tap.drain() == []


def test_sandbox_gone_before_the_copy_is_unavailable_not_lost(env) -> None:  # noqa: F811
    svc, provider, org_id = env
    tap = EventTap(svc)
    run_id, sandbox_id = finished_run(svc, provider, org_id)
    provider.kill(sandbox_id)  # e.g. E2B's own timeout hit first

    assert collect(svc, org_id, run_id).status == "unavailable"
    run = runs.get_run(svc, org_id, run_id)
    assert run.status == "succeeded" and run.result == {"n": 3}  # the result itself is kept
    assert run.evidence_status == "unavailable" and "gone" in run.evidence_error
    assert run.evidence_manifest_url is None
    ready = [e["detail"] for e in tap.drain() if e["detail-type"] == "Evidence Ready"]
    assert [d["evidence_status"] for d in ready] == ["unavailable"]


def test_run_that_never_had_a_sandbox_is_unavailable(env) -> None:  # noqa: F811
    from tests.integration.test_orchestration_steps import new_run

    svc, _provider, org_id = env
    run_id = new_run(svc, org_id)
    runs.cancel_run(svc, org_id, run_id)
    assert collect(svc, org_id, run_id).status == "unavailable"
    assert runs.get_run(svc, org_id, run_id).evidence_status == "unavailable"


def test_s3_failure_is_recorded_and_a_retry_copies_later(env, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    svc, provider, org_id = env
    run_id, sandbox_id = finished_run(svc, provider, org_id)
    s3 = svc.aws.s3
    real_put = s3.put_object

    def refused(**kw):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "slow down"}}, "PutObject")

    # S3 is the boundary here: moto cannot be told to fail, so its client method refuses.
    monkeypatch.setattr(s3, "put_object", refused)
    assert collect(svc, org_id, run_id).status == "failed"
    run = runs.get_run(svc, org_id, run_id)
    assert run.evidence_status == "failed" and "slow down" in run.evidence_error
    assert sandbox_id in provider.alive  # kept, so the files are not lost

    monkeypatch.setattr(s3, "put_object", real_put)
    assert collect(svc, org_id, run_id).status == "ready"
    assert runs.get_run(svc, org_id, run_id).evidence_status == "ready"
    assert sandbox_id in provider.killed


def test_failed_and_timed_out_runs_get_their_evidence_too(env) -> None:  # noqa: F811
    svc, provider, org_id = env
    run_id, sandbox_id = started(svc, provider, org_id, max_duration_s=60)
    provider.put(sandbox_id, "screenshots/step-0001.png", PNG)
    provider.put(sandbox_id, "steps.jsonl", json.dumps({"index": 1, "action": "navigate", "url": "http://a.test/"}))
    svc.clock.advance(61)
    cleanup(svc, run_id, org_id, {"Error": "States.Timeout"})
    assert sandbox_id in provider.alive  # Cleanup leaves it to the evidence function
    assert collect(svc, org_id, run_id).status == "ready"
    run = runs.get_run(svc, org_id, run_id)
    assert run.status == "failed" and run.error.code == "AGENT_TIMEOUT"
    assert [e.path for e in run.evidence] == ["screenshots/step-0001.png"]
    assert sandbox_id in provider.killed
