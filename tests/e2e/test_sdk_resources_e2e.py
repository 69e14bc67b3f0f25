"""The SDK's sessions, files, profiles, keys and webhooks through the embedded local stack: real API,
real sandbox and Chromium for the session, the model scripted (devstack/testing/fake_openai.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openhelm_sdk import Client, RunStatus
from openhelm_sdk.errors import AuthenticationError, ConflictError, NotFoundError
from openhelm_sdk.models import SessionStatus

from devstack.testing.fake_openai import ToolCall, find_ref

pytestmark = pytest.mark.e2e

SCHEMA = {
    "type": "object",
    "properties": {"tiers": {"type": "array", "items": {"type": "object"}, "minItems": 1}},
    "required": ["tiers"],
}
TIERS = [{"name": "Deckhand"}, {"name": "Crew"}, {"name": "Fleet"}]


@pytest.fixture
def client(stack: Any) -> Iterator[Client]:
    from shared.orgs import bootstrap_org

    key = bootstrap_org(f"sdk-res-{time.monotonic_ns()}")[1]
    with Client(key, stack.url) as c:
        yield c


def test_a_session_opened_by_the_sdk_acts_runs_a_task_and_closes(client: Client, llm, site) -> None:
    llm.reset(
        lambda body: ToolCall("click", {"ref": find_ref(body, r"link Pricing")}),
        ToolCall("done", {"result": {"tiers": TIERS}, "confidence": 0.9, "summary": "three tiers"}),
    )
    session = client.sessions.create(start_url=site + "/", wait_ready=True)
    assert session.status == SessionStatus.READY and session.current_url.startswith(site)
    seen = client.sessions.action(session.id, "evaluate", expression="document.title")
    assert seen.ok is True and seen.step is not None and seen.step.url.startswith(site)

    run = client.sessions.task(session.id, "List the pricing tiers", output_schema=SCHEMA, wait=60)
    assert run.status == RunStatus.SUCCEEDED and run.result == {"tiers": TIERS}
    assert run.model_dump()["session_id"] == session.id
    assert client.sessions.get(session.id).tasks == [run.id]
    assert [s.id for s in client.sessions.list(status="ready")] == [session.id]
    with pytest.raises(ConflictError):
        client.sessions.stop(session.id)  # no task is running

    closed = client.sessions.close(session.id)
    assert closed.status == SessionStatus.CLOSED and closed.close_reason == "terminated"
    with pytest.raises(ConflictError):
        client.sessions.close(session.id)


def test_files_go_up_both_ways_and_are_listed_read_and_deleted(client: Client, tmp_path) -> None:
    small = tmp_path / "orders.csv"
    small.write_bytes(b"id,total\n1,2\n")
    one = client.files.upload(small)
    assert (one.name, one.size, one.content_type, one.status) == ("orders.csv", 13, "text/csv", "ready")
    big = client.files.upload(b"x" * (4 * 1024 * 1024 + 10), name="big.bin")  # the presigned POST
    assert big.status == "ready" and big.size == 4 * 1024 * 1024 + 10
    assert httpx.get(client.files.get(one.id).download_url, timeout=30).content == b"id,total\n1,2\n"
    assert sorted(f.id for f in client.files.list()) == sorted([one.id, big.id])
    client.files.delete(one.id)
    with pytest.raises(NotFoundError):
        client.files.get(one.id)


def test_profiles_keys_and_webhooks_round_trip(client: Client, stack) -> None:
    profile = client.profiles.create(name="shop")
    state = {
        "cookies": [
            {
                "name": "sid",
                "value": "abc",
                "domain": "shop.example.com",
                "path": "/",
                "expires": -1,
                "httpOnly": True,
                "secure": True,
                "sameSite": "Lax",
            }
        ],
        "origins": [],
    }
    assert client.profiles.upload(profile.id, state).cookie_domains == ["shop.example.com"]
    stored = httpx.get(client.profiles.download(profile.id).url, timeout=30).json()
    assert stored["cookies"][0]["value"] == "abc"
    assert [p.id for p in client.profiles.list()] == [profile.id]
    client.profiles.delete(profile.id)
    with pytest.raises(NotFoundError):
        client.profiles.get(profile.id)

    created = client.keys.create(name="reader", scopes=["read"])
    assert created.key and created.id in [k.id for k in client.keys.list()]
    with Client(created.key, stack.url) as reader:
        assert list(reader.runs.list()) == []
    client.keys.revoke(created.id)
    with Client(created.key, stack.url, max_retries=0) as reader, pytest.raises(AuthenticationError):
        list(reader.runs.list())

    hook = client.webhooks.create(url="http://127.0.0.1:9/hook", event_types=["run.succeeded"])
    assert client.webhooks.get(hook.id).event_types == ["run.succeeded"]
    assert [w.id for w in client.webhooks.list()] == [hook.id]
    first = client.webhooks.secret().secret
    rotated = client.webhooks.rotate_secret()
    assert rotated.secret != first and rotated.previous_expires_at is not None
    client.webhooks.delete(hook.id)
    assert list(client.webhooks.list()) == []
