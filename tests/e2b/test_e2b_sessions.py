"""A session's E2B paths at the wire (fake E2B cloud, real SDK): the agent starts in serve mode with
its mailbox, commands are pushed in with envd's files.write, replies read back with files.read, and
the sandbox's life is moved with set_timeout. The stand-in agent echoes each command."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.sandbox.base import SandboxFile, SandboxNotFound
from shared.sandbox.e2b_provider import FILES_DIR, MAILBOX_DIR, E2BProvider
from tests.e2b.fake_e2b import FakeE2BCloud
from tests.e2b.test_e2b_provider import TOKEN, request


def await_reply(provider: E2BProvider, sandbox_id: str, command_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = provider.read_reply(sandbox_id, command_id)
        if reply is not None:
            return reply
        assert time.monotonic() < deadline, f"no reply to {command_id}"
        time.sleep(0.05)


def session_request() -> Any:
    return request(
        "ses_01",
        run_spec={"mode": "session", "session_id": "ses_01", "start_url": "https://example.com/"},
        metadata={"session_id": "ses_01"},
        mailbox=True,
    )


def test_commands_go_in_by_files_write_and_replies_come_back(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    info = provider.start(session_request())
    sbx = e2b_env.sandboxes[info.sandbox_id]
    assert provider.read_reply(info.sandbox_id, "cmd_0001") is None  # nothing answered yet

    first = {"id": "cmd_0001", "kind": "action", "action": "evaluate", "args": {"expression": "1 + 1"}}
    task = {"id": "cmd_0002", "kind": "task", "run_id": "run_01", "spec": {"run_id": "run_01"}, "token": TOKEN}
    provider.send_command(info.sandbox_id, first)
    provider.send_command(info.sandbox_id, task)
    assert await_reply(provider, info.sandbox_id, "cmd_0001")["result"]["echo"] == first
    assert await_reply(provider, info.sandbox_id, "cmd_0002")["result"]["echo"] == task

    # On the wire: the mailbox file at the contract's path, written through envd (POST /files).
    assert json.loads(sbx.host_path(f"{MAILBOX_DIR}/cmd_0001.json").read_text()) == first
    # The agent found its mailbox through the environment the provider set.
    (create,) = [b for m, p, b in e2b_env.requests if m == "POST" and p == "/v2/sandboxes"]
    assert create["envVars"]["OPENHELM_MAILBOX"] == MAILBOX_DIR
    # A task's own token travels in its command (to the agent only), never in the sandbox's envs.
    assert TOKEN not in json.dumps(create["envVars"])


def test_extend_moves_the_sandbox_end_with_set_timeout(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    info = provider.start(session_request())
    before = e2b_env.sandboxes[info.sandbox_id].end_at
    provider.extend(info.sandbox_id, 3000)
    after = e2b_env.sandboxes[info.sandbox_id].end_at
    assert after > before and (after - datetime.now(UTC)).total_seconds() > 2900
    assert ("POST", f"/sandboxes/{info.sandbox_id}/timeout", {"timeout": 3000}) in e2b_env.requests


def test_a_dead_sandbox_refuses_commands(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    info = provider.start(session_request())
    e2b_env.kill_sandbox(info.sandbox_id)
    with pytest.raises(SandboxNotFound):
        provider.send_command(info.sandbox_id, {"id": "cmd_0001", "kind": "close"})
    with pytest.raises(SandboxNotFound):
        provider.extend(info.sandbox_id, 60)


def test_a_command_id_cannot_leave_the_mailbox(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    info = provider.start(session_request())
    with pytest.raises(Exception, match="bad command id"):
        provider.send_command(info.sandbox_id, {"id": "../out/result", "kind": "close"})


def test_files_go_into_a_running_sandbox_and_a_taken_command_can_be_removed(
    provider: E2BProvider, e2b_env: FakeE2BCloud
) -> None:
    info = provider.start(session_request())
    sbx = e2b_env.sandboxes[info.sandbox_id]
    where = provider.put_files(info.sandbox_id, "files-run_01", [SandboxFile("cv.txt", b"my cv", "text/plain")])
    assert where == f"{FILES_DIR}/files-run_01"
    assert sbx.host_path(f"{where}/cv.txt").read_bytes() == b"my cv"
    with pytest.raises(Exception, match="bad files dir"):
        provider.put_files(info.sandbox_id, "../out", [SandboxFile("x", b"x")])

    task = {"id": "cmd_0001", "kind": "task", "run_id": "run_01", "spec": {"secrets": [{"match": "x", "fields": {}}]}}
    provider.send_command(info.sandbox_id, task)
    await_reply(provider, info.sandbox_id, "cmd_0001")
    provider.remove_command(info.sandbox_id, "cmd_0001")
    assert not sbx.host_path(f"{MAILBOX_DIR}/cmd_0001.json").exists()
    provider.remove_command(info.sandbox_id, "cmd_0001")  # gone already: never raises


def test_a_live_session_serves_its_frames_on_the_sandbox_ports_public_host(
    provider: E2BProvider, e2b_env: FakeE2BCloud
) -> None:
    from dataclasses import replace

    from shared.sandbox.base import LIVE_PORT

    info = provider.start(replace(session_request(), live_secret="frame-secret-1"))
    (create,) = [b for m, p, b in e2b_env.requests if m == "POST" and p == "/v2/sandboxes"]
    # The agent listens on the one port; a viewer's <img> carries no E2B traffic token, so the
    # sandbox's public traffic is allowed (the endpoint checks its own frame token).
    assert create["envVars"]["OPENHELM_LIVE_LISTEN"] == f"tcp:0.0.0.0:{LIVE_PORT}"
    assert create["network"]["allowPublicTraffic"] is True
    # The secret goes to the agent process only, never into the sandbox-wide envs.
    assert "frame-secret-1" not in json.dumps(create)
    # E2B's convention for a sandbox port: <port>-<sandboxId>.<domain>.
    assert provider.live_endpoint(info.sandbox_id) == f"https://{LIVE_PORT}-{info.sandbox_id}.e2b.example"


def test_a_one_shot_run_with_a_live_secret_serves_its_frames_too(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    from dataclasses import replace

    from shared.sandbox.base import LIVE_PORT, LIVE_VIEW_KEY

    info = provider.start(replace(request("run_live"), live_secret="frame-secret-2"))
    (create,) = [b for m, p, b in e2b_env.requests if m == "POST" and p == "/v2/sandboxes"]
    assert create["envVars"]["OPENHELM_LIVE_LISTEN"] == f"tcp:0.0.0.0:{LIVE_PORT}"
    assert "OPENHELM_MAILBOX" not in create["envVars"]  # run mode: no mailbox, still a frame endpoint
    assert create["network"]["allowPublicTraffic"] is True
    assert "frame-secret-2" not in json.dumps(create)
    # Started cold with the secret: the control plane may hand out its live_url.
    assert info.metadata[LIVE_VIEW_KEY] == "1"
    assert provider.live_endpoint(info.sandbox_id) == f"https://{LIVE_PORT}-{info.sandbox_id}.e2b.example"


def test_a_run_without_a_live_secret_serves_no_frames(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    from shared.sandbox.base import LIVE_VIEW_KEY

    info = provider.start(request("run_plain"))
    (create,) = [b for m, p, b in e2b_env.requests if m == "POST" and p == "/v2/sandboxes"]
    assert "OPENHELM_LIVE_LISTEN" not in create["envVars"] and create["network"]["allowPublicTraffic"] is False
    assert LIVE_VIEW_KEY not in info.metadata


def test_a_session_without_a_live_secret_serves_nothing() -> None:
    from shared.sandbox.e2b_network import network_policy

    opts, _ = network_policy((), (), "https://api.openhelm.example")
    assert opts["allow_public_traffic"] is False
