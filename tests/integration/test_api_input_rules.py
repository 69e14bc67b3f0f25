"""Rules on request fields that the API enforces itself (issue 15: replay steps, control characters,
non-canonical webhook hosts), through the real API handler against moto. Each refusal is a 422 in
the envelope that says where, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared.services import Services
from tests.support.apigw import Reply, call, http_event

DONE = {"action": "done", "args": {"result": {"ok": True}, "confidence": 1, "summary": "s"}}


def post(key: str, path: str, body: Any) -> Reply:
    return call(http_event("POST", path, body=body, key=key))


def count(key: str, path: str) -> int:
    return len(call(http_event("GET", path, key=key)).json["data"])


@pytest.mark.parametrize(
    ("steps", "why"),
    [
        ([], "at least 1"),
        ([{"action": "navigate", "args": {"url": "https://example.com/"}}], "last replay step must be 'done'"),
        ([DONE, {"action": "click", "args": {"ref": "e1"}}, DONE], "only be the last"),
    ],
)
def test_replay_steps_of_the_wrong_shape_are_422_at_the_api(
    svc: Services, org_key: tuple[str, str], steps: list[Any], why: str
) -> None:
    _, key = org_key
    r = post(key, "/v1/runs", {"prompt": "Replay it", "replay_steps": steps})
    assert r.status == 422, r.text
    assert why in r.json["error"]["message"]
    assert r.json["error"]["details"][0]["loc"] == ["body", "replay_steps"]
    assert count(key, "/v1/runs") == 0


def test_a_replay_ending_in_done_is_accepted_as_a_replay(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    steps = [{"action": "navigate", "args": {"url": "https://example.com/"}}, DONE]
    r = post(key, "/v1/runs", {"prompt": "Replay it", "replay_steps": steps})
    assert r.status == 202, r.text
    run = call(http_event("GET", f"/v1/runs/{r.json['task_id']}", key=key)).json
    assert run["model"] == "replay"


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/v1/projects", {"name": "a\x00b"}, ["body", "name"]),
        ("/v1/projects", {"name": "line\nbreak"}, ["body", "name"]),
        ("/v1/projects", {"name": "ok", "metadata": {"k\x00": "v"}}, ["body", "metadata", "k\x00", "[key]"]),
        ("/v1/jobs", {"name": "bell\x07", "prompt": "Do it"}, ["body", "name"]),
        ("/v1/runs", {"prompt": "Do it", "metadata": {"\x1b[31m": "v"}}, ["body", "metadata", "\x1b[31m", "[key]"]),
        ("/v1/runs", {"prompt": "Do it", "model": "gpt\x00"}, ["body", "model"]),
        ("/v1/runs", {"prompt": "Do it", "webhook_url": "https://hooks.example.com/a\x00b"}, ["body", "webhook_url"]),
        ("/v1/runs", {"prompt": "Do it", "start_url": "https://example.com/\r\nX: y"}, ["body", "start_url"]),
        ("/v1/webhooks", {"url": "https://hooks.example.com/p\x00ath"}, ["body", "url"]),
    ],
)
def test_control_characters_in_names_keys_and_urls_are_422(
    svc: Services, org_key: tuple[str, str], path: str, body: dict[str, Any], loc: list[str]
) -> None:
    _, key = org_key
    before = count(key, path)
    r = post(key, path, body)
    assert r.status == 422, r.text
    assert r.json["error"]["code"] == "validation_failed"
    assert r.json["error"]["details"][0]["loc"] == loc
    assert count(key, path) == before


def test_prompts_and_metadata_values_are_kept_exactly_as_given(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    prompt = "Tab\there, NUL\x00there"
    r = post(key, "/v1/runs", {"prompt": prompt, "metadata": {"note": "a\tb\nc"}})
    assert r.status == 202, r.text
    run = call(http_event("GET", f"/v1/runs/{r.json['task_id']}", key=key)).json
    assert run["prompt"] == prompt and run["metadata"] == {"note": "a\tb\nc"}


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/hook",
        "http://[::ffff:0:10.0.0.1]/hook",
        "http://2130706433/hook",
        "http://0x7f.1/hook",
        "http://0/hook",
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hook",
    ],
)
def test_non_public_webhook_hosts_in_any_spelling_are_refused_for_runs_jobs_and_endpoints(
    svc: Services, org_key: tuple[str, str], url: str
) -> None:
    _, key = org_key
    for path, body, field in (
        ("/v1/runs", {"prompt": "Do it", "webhook_url": url}, "webhook_url"),
        ("/v1/jobs", {"name": "j", "prompt": "Do it", "webhook_url": url}, "webhook_url"),
        ("/v1/webhooks", {"url": url}, "url"),
    ):
        r = post(key, path, body)
        assert r.status == 422, (path, r.text)
        assert r.json["error"]["code"] == "webhook_url_not_allowed"
        assert r.json["error"]["details"][0]["loc"] == [field]
        assert count(key, path) == 0


def test_a_job_update_to_a_non_public_webhook_is_refused(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    job = post(key, "/v1/jobs", {"name": "j", "prompt": "Do it"}).json
    r = call(http_event("PATCH", f"/v1/jobs/{job['id']}", body={"webhook_url": "http://[::127.0.0.1]/"}, key=key))
    assert r.status == 422 and r.json["error"]["code"] == "webhook_url_not_allowed"
    assert call(http_event("GET", f"/v1/jobs/{job['id']}", key=key)).json["webhook_url"] is None


def test_a_job_run_with_a_url_at_the_length_limit_is_accepted_not_a_500(
    svc: Services, org_key: tuple[str, str]
) -> None:
    # Found by the contract test: the canonical form of a 2,083-character URL gains a "/", and the
    # job run re-validated that text against the 2,083 limit and raised past the error mapping.
    _, key = org_key
    job = post(key, "/v1/jobs", {"name": "j", "prompt": "Do it"}).json
    url = "https://" + ".".join(["a" * 63] * 40)[:2075]
    assert len(url) == 2083
    r = post(key, f"/v1/jobs/{job['id']}/runs", {"start_url": url})
    assert r.status == 202, r.text


def test_usage_window_takes_iso_timestamps_only(svc: Services, org_key: tuple[str, str]) -> None:
    # pydantic would read "0.5" as half a second after the epoch; the document promises date-time.
    _, key = org_key
    r = call(http_event("GET", "/v1/usage", key=key, query={"to": "0.5"}))
    assert r.status == 422 and r.json["error"]["details"][0]["loc"] == ["query", "to"], r.text
    assert call(http_event("GET", "/v1/usage", key=key, query={"to": "2026-01-02T00:00:00Z"})).status == 200
