"""E2BProvider through the real e2b SDK against the fake E2B cloud (REST API + envd over HTTP)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import e2b
import pytest

from shared.sandbox.base import SandboxError, SandboxNotFound, SandboxRequest, SandboxStartError
from shared.sandbox.e2b_network import PRIVATE_IPV4_RANGES, network_policy
from shared.sandbox.e2b_provider import AGENT_COMMAND, OUT_DIR, RUN_SPEC_PATH, E2BProvider
from tests.e2b.conftest import API_KEY, TEMPLATE
from tests.e2b.fake_e2b import FakeE2BCloud

TOKEN = "ohrt_run-token-0123456789"


def request(run_id: str = "run_01", **overrides: Any) -> SandboxRequest:
    spec = {"run_id": run_id, "prompt": "find the price", "start_url": "https://example.com/", "max_steps": 5}
    spec.update(overrides.pop("spec", {}))
    fields: dict[str, Any] = {
        "run_id": run_id,
        "org_id": "org_01",
        "timeout_s": 300,
        "run_spec": spec,
        "control_url": "https://api.openhelm.example",
        "run_token": TOKEN,
        "allowed_domains": ("example.com", "*.example.org"),
        "blocked_domains": ("ads.example.org",),
        "envs": {"OPENHELM_LOG_LEVEL": "debug"},
        "metadata": {"project_id": "prj_01"},
    }
    fields.update(overrides)
    return SandboxRequest(**fields)


def wait_for_result(provider: E2BProvider, sandbox_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return json.loads(provider.read_file(sandbox_id, "result.json"))
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def creates(cloud: FakeE2BCloud) -> list[dict[str, Any]]:
    return [body or {} for method, path, body in cloud.requests if method == "POST" and path == "/v2/sandboxes"]


def deletes(cloud: FakeE2BCloud) -> list[str]:
    return [path for method, path, _ in cloud.requests if method == "DELETE"]


def test_start_runs_the_agent_and_the_evidence_reads_back(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    info = provider.start(request())

    assert info.provider == "e2b" and info.run_id == "run_01"
    result = wait_for_result(provider, info.sandbox_id)
    assert result["status"] == "succeeded" and result["result"] == {"echo": "find the price"}
    assert provider.list_files(info.sandbox_id) == [
        "env.json",
        "network.jsonl",
        "result.json",
        "screenshots/step-0001.png",
        "steps.jsonl",
    ]
    assert provider.list_files(info.sandbox_id, "screenshots") == ["screenshots/step-0001.png"]
    assert provider.read_file(info.sandbox_id, "screenshots/step-0001.png").startswith(b"\x89PNG\r\n\x1a\n")

    # The spec file is exactly the run spec, at the contract's path.
    sbx = e2b_env.sandboxes[info.sandbox_id]
    assert json.loads(sbx.host_path(RUN_SPEC_PATH).read_text()) == request().run_spec

    # What E2B was asked for, on the wire.
    (body,) = creates(e2b_env)
    assert body["templateID"] == TEMPLATE and body["timeout"] == 300
    assert body["metadata"] == {
        "project_id": "prj_01",
        "openhelm": "1",
        "deployment": "test",
        "run_id": "run_01",
        "org_id": "org_01",
    }
    assert body["network"] == {
        "allowOut": ["example.com", "example.org", "*.example.org", "api.openhelm.example"],
        "denyOut": ["0.0.0.0/0"],
        "allowPublicTraffic": False,
    }
    assert body["allow_internet_access"] is True
    # The run token reaches the agent process only, never the sandbox-wide environment.
    assert TOKEN not in json.dumps(body)
    assert body["envVars"]["OPENHELM_OUT_DIR"] == OUT_DIR

    # The agent ran as the contract says: env, cwd, no command deadline (timeout=0).
    seen = json.loads(provider.read_file(info.sandbox_id, "env.json"))
    assert seen["OPENHELM_RUN_TOKEN"] == TOKEN
    assert seen["OPENHELM_RUN_SPEC"] == str(sbx.host_path(RUN_SPEC_PATH))
    assert seen["OPENHELM_OUT_DIR"] == str(sbx.host_path(OUT_DIR))
    assert seen["OPENHELM_CONTROL_URL"] == "https://api.openhelm.example"
    assert seen["OPENHELM_CHROMIUM"] == "/usr/bin/chromium"
    assert seen["cwd"] == str(sbx.host_path("/home/user"))
    (proc,) = sbx.processes.values()
    assert proc.config.cmd == "/bin/bash" and proc.config.args[-1] == AGENT_COMMAND
    assert proc.deadline_ms is None
    assert info.metadata["agent_pid"] == str(proc.pid)


def test_the_agent_reaches_the_llm_gateway_at_its_own_url(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    gateway = "https://a1b2c3.lambda-url.us-east-1.on.aws/v1"
    info = provider.start(request(llm_url=gateway))
    wait_for_result(provider, info.sandbox_id)
    (body,) = creates(e2b_env)
    # The function URL's host is let out like the control plane's; nothing else new.
    assert body["network"]["allowOut"][-2:] == ["api.openhelm.example", "a1b2c3.lambda-url.us-east-1.on.aws"]
    seen = json.loads(provider.read_file(info.sandbox_id, "env.json"))
    assert seen["OPENHELM_LLM_URL"] == gateway


def test_a_fresh_provider_connects_before_reading(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    info = provider.start(request())
    wait_for_result(provider, info.sandbox_id)

    # Another Lambda (evidence, finalize) has no cached handle: it connects, then reads with the
    # envd access token the connect call returned (the fake envd rejects any other).
    other = E2BProvider(api_key=API_KEY, template=TEMPLATE, deployment="test")
    e2b_env.requests.clear()
    assert json.loads(other.read_file(info.sandbox_id, "result.json"))["status"] == "succeeded"
    assert other.list_files(info.sandbox_id, "screenshots") == ["screenshots/step-0001.png"]
    connects = [(path, body) for method, path, body in e2b_env.requests if path.endswith("/connect")]
    assert connects == [(f"/v2/sandboxes/{info.sandbox_id}/connect", {"timeout": 60})]


def test_kill_stops_the_agent_and_is_safe_to_repeat(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    info = provider.start(request(spec={"standin_linger_s": 60}))
    wait_for_result(provider, info.sandbox_id)
    reader = E2BProvider(api_key=API_KEY, template=TEMPLATE, deployment="test")
    reader.read_file(info.sandbox_id, "result.json")  # caches a connected handle
    (pid,) = e2b_env.running_pids(info.sandbox_id)
    os.kill(pid, 0)  # alive

    assert provider.kill(info.sandbox_id) is True

    deadline = time.monotonic() + 10
    while e2b_env.running_pids(info.sandbox_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert e2b_env.running_pids(info.sandbox_id) == []
    assert provider.kill(info.sandbox_id) is False
    # Gone, whether through a fresh connect (REST 404) or a cached handle (edge 502 "not found").
    with pytest.raises(SandboxNotFound):
        provider.read_file(info.sandbox_id, "result.json")
    with pytest.raises(SandboxNotFound):
        reader.read_file(info.sandbox_id, "result.json")
    with pytest.raises(SandboxNotFound):
        reader.list_files(info.sandbox_id)


def test_kill_of_an_unknown_sandbox_returns_false(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    assert provider.kill("inosuchsandbox00") is False
    assert deletes(e2b_env) == ["/sandboxes/inosuchsandbox00"]


@pytest.mark.parametrize(
    ("fault", "status", "cause"),
    [
        ("files_write", 507, e2b.NotEnoughSpaceException),
        ("process_start", 400, e2b.InvalidArgumentException),
    ],
)
def test_a_failure_after_create_kills_the_sandbox(
    provider: E2BProvider, e2b_env: FakeE2BCloud, fault: str, status: int, cause: type[Exception]
) -> None:
    e2b_env.inject_fault(fault, status, "injected failure")

    with pytest.raises(SandboxStartError) as caught:
        provider.start(request())

    assert isinstance(caught.value.__cause__, cause)
    (sandbox_id,) = e2b_env.sandboxes  # created once ...
    assert deletes(e2b_env) == [f"/sandboxes/{sandbox_id}"]  # ... and killed
    assert e2b_env.alive() == []


@pytest.mark.parametrize("case", ["unknown-template", "bad-key", "rate-limited"])
def test_a_failed_create_raises_start_error(e2b_env: FakeE2BCloud, case: str) -> None:
    if case == "rate-limited":  # still 429 after the SDK's three retries
        e2b_env.inject_fault("create", 429, "concurrent sandbox limit reached", times=4, retry_after="0")
    prov = E2BProvider(
        api_key="e2b_wrong" if case == "bad-key" else API_KEY,
        template="nope" if case == "unknown-template" else TEMPLATE,
    )
    with pytest.raises(SandboxStartError) as caught:
        prov.start(request())
    expected = {
        "unknown-template": e2b.SandboxException,
        "bad-key": e2b.AuthenticationException,
        "rate-limited": e2b.RateLimitException,
    }[case]
    assert isinstance(caught.value.__cause__, expected)
    assert e2b_env.alive() == [] and deletes(e2b_env) == []
    assert len(creates(e2b_env)) == (4 if case == "rate-limited" else 1)


def test_a_create_retried_after_a_lost_answer_makes_one_sandbox(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    # E2B created the sandbox but the answer was lost (502); the SDK retries with the same
    # Idempotency-Key, so the retry returns that sandbox instead of leaking a second one.
    e2b_env.inject_fault("create_committed", 502, "upstream connect error", retry_after="0")

    info = provider.start(request())

    assert list(e2b_env.sandboxes) == [info.sandbox_id]
    first, retry = e2b_env.create_keys
    assert first and first == retry
    wait_for_result(provider, info.sandbox_id)
    # A second start is a new attempt: a new key, a new sandbox.
    provider.start(request(run_id="run_02"))
    assert len(set(e2b_env.create_keys)) == 2 and len(e2b_env.alive()) == 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"envs": {"AWS_SECRET_ACCESS_KEY": "x"}},
        {"envs": {"OPENAI_API_KEY": "sk-x"}},
        {"envs": {"E2B_API_KEY": "e2b_x"}},
        {"allowed_domains": ("not a domain",)},
        {"control_url": "not-a-url"},
        {"timeout_s": 0},
    ],
)
def test_an_invalid_request_fails_before_anything_is_created(
    provider: E2BProvider, e2b_env: FakeE2BCloud, overrides: dict[str, Any]
) -> None:
    with pytest.raises(SandboxStartError):
        provider.start(request(**overrides))
    assert e2b_env.requests == []


def test_list_running_reads_every_page_of_this_deployment_only(
    provider: E2BProvider, e2b_env: FakeE2BCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(e2b_env, "max_page", 2)
    started = {provider.start(request(run_id=f"run_{i}")).sandbox_id for i in range(3)}
    other = E2BProvider(api_key=API_KEY, template=TEMPLATE, deployment="another-stack")
    foreign = other.start(request(run_id="run_other")).sandbox_id

    running = provider.list_running()

    assert {s.sandbox_id for s in running} == started
    assert {s.run_id for s in running} == {"run_0", "run_1", "run_2"}
    assert all(s.provider == "e2b" and s.started_at.tzinfo is not None for s in running)
    lists = [path for method, path, _ in e2b_env.requests if method == "GET"]
    assert len(lists) == 2 and "nextToken=2" in lists[1]
    assert {s.sandbox_id for s in other.list_running()} == {foreign}


def test_reads_are_confined_to_the_out_dir(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    info = provider.start(request())
    wait_for_result(provider, info.sandbox_id)
    for path in ("../run_spec.json", "/home/user/run_spec.json", "screenshots/../../run_spec.json"):
        with pytest.raises(SandboxError):
            provider.read_file(info.sandbox_id, path)
    with pytest.raises(SandboxError):
        provider.list_files(info.sandbox_id, "..")
    # A missing file is a SandboxError (what the control plane catches) and a FileNotFoundError.
    with pytest.raises(SandboxError) as missing:
        provider.read_file(info.sandbox_id, "missing.json")
    assert isinstance(missing.value, FileNotFoundError) and not isinstance(missing.value, SandboxNotFound)
    assert provider.list_files(info.sandbox_id, "no-such-dir") == []


def test_reads_are_capped(e2b_env: FakeE2BCloud) -> None:
    small = E2BProvider(api_key=API_KEY, template=TEMPLATE, max_read_bytes=100)
    info = small.start(request())
    done = e2b_env.sandboxes[info.sandbox_id].host_path(f"{OUT_DIR}/result.json")
    deadline = time.monotonic() + 20
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(small.read_file(info.sandbox_id, "screenshots/step-0001.png")) < 100
    with pytest.raises(SandboxError, match="larger than 100 bytes"):
        small.read_file(info.sandbox_id, "env.json")


def test_network_policy_without_an_allow_list_denies_private_ranges() -> None:
    opts, unenforced = network_policy((), ("tracker.example", "203.0.113.0/24"), "https://api.openhelm.example")
    assert opts["allow_out"] == ["api.openhelm.example"]
    assert opts["deny_out"] == [*PRIVATE_IPV4_RANGES, "203.0.113.0/24"]
    assert "169.254.0.0/16" in opts["deny_out"]  # cloud metadata
    assert unenforced == ["tracker.example"]  # E2B cannot deny host names


def test_network_policy_normalises_patterns_like_the_agent() -> None:
    opts, _ = network_policy(
        ["https://Shop.Example.com:443/cart", "*.Example.org.", "bücher.de", "198.51.100.7", "*"],
        [],
        "http://10.0.0.5:8787",
    )
    # "*" opens the internet (minus private ranges); the control plane's private IP stays reachable
    # because allowed entries win over denied ones.
    assert opts["allow_out"] == ["10.0.0.5"]
    opts, _ = network_policy(
        ["https://Shop.Example.com:443/cart", "*.Example.org.", "bücher.de", "198.51.100.7"], [], "http://10.0.0.5"
    )
    assert opts["allow_out"] == [
        "shop.example.com",
        "example.org",
        "*.example.org",
        "xn--bcher-kva.de",
        "198.51.100.7",
        "10.0.0.5",
    ]
    assert opts["deny_out"] == ["0.0.0.0/0"]


def test_network_policy_fails_closed_when_nothing_is_expressible() -> None:
    opts, _ = network_policy(["[2001:db8::1]"], [], "https://api.openhelm.example")
    assert opts == {"allow_out": ["api.openhelm.example"], "deny_out": ["0.0.0.0/0"], "allow_public_traffic": False}


@pytest.mark.parametrize("bad", ["a b", "*.1.2.3.4", "x..y", "http://", "*.", "exa*mple.com"])
def test_network_policy_rejects_invalid_patterns(bad: str) -> None:
    with pytest.raises(ValueError):
        network_policy([bad], [], "https://api.openhelm.example")


def test_importing_the_provider_does_not_import_e2b() -> None:
    code = "import sys, shared.sandbox.e2b_provider as p; p.E2BProvider('k'); print('e2b' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


class _Recorder(BaseHTTPRequestHandler):
    hits: queue.Queue[tuple[float, str, dict[str, str], bytes]] = queue.Queue()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.hits.put((time.monotonic(), self.path, dict(self.headers), body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_an_agent_killed_in_the_sandbox_is_reported_at_once(provider: E2BProvider, e2b_env: FakeE2BCloud) -> None:
    """No Lambda is alive while the agent runs: the supervisor (the start command) reports the exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        started = time.monotonic()
        info = provider.start(request(spec={"standin_die": True}, control_url=url, allowed_domains=()))
        at, path, headers, body = _Recorder.hits.get(timeout=20)
    finally:
        server.shutdown()
        server.server_close()
    assert path == "/internal/runs/run_01/exit"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    report = json.loads(body)
    assert report["reporter"] == "supervisor" and report["signal"] == 9 and report["exit_code"] is None
    assert at - started < 10
    # the agent is gone, the sandbox (and its evidence so far) is still there for Finalize
    assert json.loads(provider.read_file(info.sandbox_id, "env.json"))["OPENHELM_RUN_TOKEN"] == TOKEN
