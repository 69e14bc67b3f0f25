"""Browser profiles through the API handler against moto: storage_state validation, the write lease."""

from __future__ import annotations

import json

from shared import profiles
from shared.clock import FakeClock
from shared.models.common import RunStatus
from shared.models.runs import RunError
from shared.orgs import bootstrap_org
from shared.services import Services
from tests.support.apigw import call, http_event

STATE = {
    "cookies": [
        {
            "name": "sid",
            "value": "abc",
            "domain": ".shop.example",
            "path": "/",
            "expires": -1,
            "httpOnly": True,
            "secure": False,
            "sameSite": "Lax",
        }
    ],
    "origins": [{"origin": "https://shop.example", "localStorage": [{"name": "k", "value": "v"}]}],
}


def test_upload_download_and_isolation(svc: Services, org_key: tuple[str, str]) -> None:
    org_id, key = org_key
    pid = call(http_event("POST", "/v1/profiles", body={"name": "shop"}, key=key)).json["id"]
    up = call(http_event("POST", f"/v1/profiles/{pid}/upload", body=STATE, key=key))
    assert up.status == 200, up.text
    assert up.json["cookie_domains"] == ["shop.example"] and up.json["size"] > 0
    stored = svc.aws.s3.get_object(Bucket="openhelm-profiles-test", Key=profiles.state_key(org_id, pid))
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert call(http_event("GET", f"/v1/profiles/{pid}/download", key=key)).json["url"]
    bad = call(http_event("POST", f"/v1/profiles/{pid}/upload", body={"cookies": [{"value": "x"}]}, key=key))
    assert bad.status == 422
    item = svc.profiles.get(org_id, pid)
    assert "abc" not in str(item)  # the table never holds the state

    _, other = bootstrap_org("globex", svc)
    assert call(http_event("GET", f"/v1/profiles/{pid}", key=other)).status == 404
    assert call(http_event("POST", f"/v1/profiles/{pid}/upload", body=STATE, key=other)).status == 404
    run = call(http_event("POST", "/v1/runs", body={"prompt": "go on", "profile_id": pid}, key=other))
    assert run.status == 422 and run.json["error"]["code"] == "profile_not_found"


def test_one_writer_at_a_time_readers_share_and_a_lost_lease_runs_out(
    svc: Services, org_key: tuple[str, str], clock: FakeClock
) -> None:
    org_id, key = org_key
    pid = call(http_event("POST", "/v1/profiles", body={"name": "shop"}, key=key)).json["id"]
    writer = {"prompt": "go on", "profile_id": pid, "persist_profile": True, "max_duration_s": 60}
    numeric = call(http_event("POST", "/v1/runs", body={**writer, "persist_profile": 1}, key=key))
    assert numeric.status == 422  # a boolean, not a number: and nothing was claimed
    first = call(http_event("POST", "/v1/runs", body=writer, key=key))
    assert first.status == 202, first.text
    assert call(http_event("POST", "/v1/runs", body=writer, key=key)).status == 409
    reader = call(http_event("POST", "/v1/runs", body={"prompt": "go on", "profile_id": pid}, key=key))
    assert reader.status == 202
    assert call(http_event("POST", f"/v1/profiles/{pid}/upload", body=STATE, key=key)).status == 409
    assert call(http_event("DELETE", f"/v1/profiles/{pid}", key=key)).status == 409

    # A crashed or cancelled run saves nothing and frees the profile.
    run = svc.runs.get(org_id, first.json["task_id"])
    crashed = run.model_copy(
        update={"status": RunStatus.failed, "error": RunError(code="AGENT_CRASHED", message="gone")}
    )
    assert profiles.save_after_run(svc, crashed, b"{}") == "released without saving"
    cancelled = run.model_copy(update={"status": RunStatus.cancelled})
    assert not profiles.graceful_end(cancelled)
    second = call(http_event("POST", "/v1/runs", body=writer, key=key))
    assert second.status == 202

    # A graceful end that is not a success (the run's own step limit) still saves the state.
    ran_out = svc.runs.get(org_id, second.json["task_id"]).model_copy(
        update={"status": RunStatus.failed, "error": RunError(code="AGENT_MAX_STEPS", message="25 steps")}
    )
    assert profiles.save_after_run(svc, ran_out, json.dumps(STATE).encode()) == "saved"
    assert call(http_event("GET", f"/v1/profiles/{pid}", key=key)).json["locked_by_run"] is None
    second = call(http_event("POST", "/v1/runs", body=writer, key=key))
    assert second.status == 202

    # A lease whose release was lost runs out after the run's latest end.
    clock.advance(60 + svc.settings.sandbox_grace_s + profiles.LEASE_GRACE_S + 1)
    assert call(http_event("POST", "/v1/runs", body=writer, key=key)).status == 202
    late = svc.runs.get(org_id, second.json["task_id"]).model_copy(update={"status": RunStatus.succeeded})
    assert profiles.save_after_run(svc, late, b'{"cookies": [], "origins": []}') == "lease not held: state not saved"
