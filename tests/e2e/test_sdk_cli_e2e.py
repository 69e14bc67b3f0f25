"""The Python SDK and the ``openhelm`` CLI through the embedded local stack: real API, real Step
Functions interpreter, real sandbox and Chromium, the model scripted (devstack/testing/fake_openai.py).
The CLI is driven both in-process (exit codes, --json) and in a real terminal under tmux (the live
progress line, the printed result)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from openhelm_sdk import AsyncClient, Client, RunStatus
from openhelm_sdk.cli import main as cli
from openhelm_sdk.errors import ConflictError, NotFoundError

from devstack.testing.fake_openai import ToolCall, find_ref
from tests.support.polling import poll

pytestmark = pytest.mark.e2e

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "devstack" / "demo_site" / "task.json").read_text())[
    "output_schema"
]
TIERS = [
    {"name": "Deckhand", "monthly_price_usd": 0, "per_member": False},
    {"name": "Crew", "monthly_price_usd": 12, "per_member": True},
    {"name": "Fleet", "monthly_price_usd": 29, "per_member": True},
]
DONE = ToolCall("done", {"result": {"tiers": TIERS}, "confidence": 0.9, "summary": "three tiers"})
STALL = [ToolCall("wait", {"seconds": 5})] * 20


def click_pricing(body: dict) -> ToolCall:
    return ToolCall("click", {"ref": find_ref(body, r"link Pricing")})


@pytest.fixture
def key(stack: Any) -> str:
    from shared.orgs import bootstrap_org

    return bootstrap_org(f"sdk-{time.monotonic_ns()}")[1]


@pytest.fixture
def client(stack: Any, key: str) -> Client:
    with Client(key, stack.url) as c:
        yield c


def run_cli(stack: Any, key: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli([*argv, "--api-key", key, "--base-url", stack.url], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_create_and_wait_returns_the_typed_envelope_and_a_repeated_key_the_same_run(client, llm, site) -> None:
    llm.reset(click_pricing, DONE)
    run = client.runs.create(
        "List the pricing tiers", start_url=site + "/", output_schema=SCHEMA, wait=True, idempotency_key="order-1"
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result == {"tiers": TIERS} and run.confidence.score == 0.9
    assert [s.action for s in run.steps][-2:] == ["click", "done"] and run.progress.step >= 2
    assert run.usage.llm_calls == 2

    again = client.runs.create(
        "List the pricing tiers", start_url=site + "/", output_schema=SCHEMA, idempotency_key="order-1"
    )
    assert again.id == run.id and again.status == RunStatus.SUCCEEDED
    with pytest.raises(ConflictError) as caught:  # the same key with another body
        client.runs.create("Something else entirely", idempotency_key="order-1")
    assert caught.value.code == "idempotency_key_reused"
    assert client.runs.get(run.id).result == {"tiers": TIERS}


def test_cancel_list_pages_and_errors(client, llm, site) -> None:
    llm.reset(*STALL)
    run = client.runs.create("Wait around for a while", start_url=site + "/", max_duration_s=120)
    poll(lambda: client.runs.get(run.id).status == RunStatus.RUNNING, "run running", 60)
    cancelled = client.runs.cancel(run.id)
    assert cancelled.status == RunStatus.CANCELLED
    with pytest.raises(ConflictError):
        client.runs.cancel(run.id)
    with pytest.raises(NotFoundError) as caught:
        client.runs.get("run_" + "0" * 26)
    assert caught.value.status_code == 404

    project = client.projects.create(name=f"Growth {uuid.uuid4().hex[:6]}")
    assert client.projects.get(project.id).name == project.name
    assert project.id in {p.id for p in client.projects.list()}
    job = client.jobs.create(
        name="Pricing",
        prompt="List the pricing tiers",
        start_url=site + "/",
        output_schema=SCHEMA,
        project_id=project.id,
    )
    assert client.jobs.update(job.id, description="weekly").description == "weekly"
    llm.reset(DONE)
    job_run = client.jobs.run(job.id, start_url=site + "/pricing.html", wait=True, timeout=90)
    assert job_run.status == RunStatus.SUCCEEDED and job_run.job_id == job.id and job_run.project_id == project.id

    # newest first, one run a page: the iterator follows the cursors
    listed = [r.id for r in client.runs.list(page_size=1)]
    assert listed == [job_run.id, run.id]
    assert [r.id for r in client.runs.list(status="cancelled")] == [run.id]
    assert [r.id for r in client.runs.list(job_id=job.id)] == [job_run.id]
    client.jobs.delete(job.id)
    with pytest.raises(NotFoundError):
        client.jobs.get(job.id)


def test_a_rate_limited_create_waits_the_apis_retry_after_and_goes_through(stack, llm, site) -> None:
    import threading

    from shared.models.orgs import OrgLimits
    from shared.orgs import bootstrap_org

    _, key = bootstrap_org(f"sdk-rate-{time.monotonic_ns()}", limits=OrgLimits(rate_per_minute=12, rate_burst=1))
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the SDK's own wait for the bucket, recorded
        slept.append(seconds)
        threading.Event().wait(seconds)

    llm.reset(*STALL)
    with Client(key, stack.url, sleep=sleep) as client:
        first = client.runs.create("Wait around for a while", start_url=site + "/")
        second = client.runs.create("Wait around for a while", start_url=site + "/")  # 429, then accepted
        assert second.id != first.id and slept and slept[0] >= 1
        for run in (first, second):
            assert client.runs.cancel(run.id).status == RunStatus.CANCELLED


def test_the_async_client_waits_with_progress_updates(stack, key, llm, site) -> None:
    llm.reset(click_pricing, DONE)
    seen: list[tuple[str, int]] = []

    async def go() -> Any:
        async with AsyncClient(key, stack.url) as client:
            run = await client.runs.create(
                "List the pricing tiers",
                start_url=site + "/",
                output_schema=SCHEMA,
                wait=True,
                on_update=lambda r: seen.append((r.status.value, r.progress.step if r.progress else 0)),
            )
            return run, [r.id async for r in client.runs.list()]

    run, listed = asyncio.run(go())
    assert run.status == RunStatus.SUCCEEDED and run.result == {"tiers": TIERS}
    assert listed == [run.id]
    assert seen[-1][0] == "succeeded" and seen[0][0] in {"queued", "starting", "running"}


def test_the_cli_exit_codes_and_json(stack, key, llm, site, tmp_path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    llm.reset(click_pricing, DONE)
    code, out, err = run_cli(
        stack, key, "run", "List the pricing tiers", "--start-url", site + "/", "--schema", str(schema), "--wait"
    )
    assert code == 0, err
    assert json.loads(out) == {"tiers": TIERS}
    assert "succeeded" in err and "confidence 0.90" in err  # the progress (plain off a terminal) and summary

    llm.reset(*[ToolCall("scroll", {"direction": "down", "amount": 1})] * 5)
    code, out, err = run_cli(
        stack,
        key,
        "run",
        "Scroll forever",
        "--start-url",
        site + "/",
        "--max-steps",
        "2",
        "--wait",
        "--json",
        "--quiet",
    )
    failed = json.loads(out)
    assert code == 1 and failed["status"] == "failed" and failed["error"]["code"] == "AGENT_MAX_STEPS"

    code, out, _ = run_cli(stack, key, "runs", "list", "--json")
    assert code == 0 and [json.loads(line)["status"] for line in out.splitlines()] == ["failed", "succeeded"]
    code, out, _ = run_cli(stack, key, "runs", "get", failed["id"])
    assert code == 0 and "AGENT_MAX_STEPS" in out and failed["id"] in out
    code, _, err = run_cli(stack, key, "runs", "cancel", failed["id"])
    assert code == 5 and "409" in err
    code, _, err = run_cli(stack, key, "runs", "get", "run_nope")
    assert code == 5 and "404" in err
    assert run_cli(stack, "oh_test_wrong", "runs", "list")[0] == 5
    assert run_cli(stack, key, "run", "x y z", "--schema", str(tmp_path / "missing.json"))[0] == 2

    llm.reset(*STALL)
    code, out, err = run_cli(stack, key, "run", "Wait around", "--start-url", site + "/", "--wait", "--timeout", "3")
    assert code == 4 and "still" in err
    run_id = re.search(r"runs watch (run_\w+)", err).group(1)
    assert run_cli(stack, key, "runs", "cancel", run_id)[0] == 0
    code, out, err = run_cli(stack, key, "runs", "watch", run_id)
    assert code == 3 and "CANCELLED" in err


class Terminal:
    """A real terminal: bash in a detached tmux session (250x40, UTF-8), typed into and read back."""

    def __init__(self, env: dict[str, str]) -> None:
        self.sock = f"openhelm-test-{uuid.uuid4().hex[:8]}"
        self.env = {**env, "LANG": "C.UTF-8", "PS1": "$ "}
        self.screens: list[str] = []

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-u", "-L", self.sock, *args], check=True, capture_output=True, text=True).stdout

    def __enter__(self) -> Terminal:
        if shutil.which("tmux") is None:  # scripts/system-deps.sh installs it for `make test`
            (pytest.fail if os.environ.get("CI") else pytest.skip)("tmux is not installed")
        env = [a for k, v in self.env.items() for a in ("-e", f"{k}={v}")]
        self.tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "cli",
            "-x",
            "250",
            "-y",
            "40",
            *env,
            "bash",
            "--norc",
            "--noprofile",
        )
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], check=False, capture_output=True)

    def run(self, command: str, timeout: float = 120) -> str:
        """Type ``command``, wait for its exit status; the screens seen meanwhile are in ``screens``."""
        marker = f"EXIT{uuid.uuid4().hex[:6]}"
        self.screens = []
        self.tmux("send-keys", "-t", "cli", f"clear; {command}; echo {marker}=$?", "Enter")

        def finished() -> bool:
            self.screens.append(self.tmux("capture-pane", "-p", "-t", "cli"))
            return re.search(rf"^{marker}=\d+", self.screens[-1], re.MULTILINE) is not None

        poll(finished, f"`{command}` to finish in tmux", timeout, interval=0.1)
        final = self.screens[-1]
        self.code = int(re.search(rf"^{marker}=(\d+)", final, re.MULTILINE).group(1))
        return final


OPENHELM = Path(sys.executable).parent / "openhelm"
LIVE = re.compile(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] running · step \d+/\d+ · \w+")


def test_the_cli_in_a_real_terminal_shows_live_progress_then_the_result(stack, key, llm, site, tmp_path) -> None:
    assert OPENHELM.exists(), "the SDK's console script: `make install` installs sdk/python"
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    llm.reset(click_pricing, ToolCall("wait", {"seconds": 3}), DONE)
    with Terminal({"OPENHELM_API_KEY": key, "OPENHELM_BASE_URL": stack.url}) as term:
        final = term.run(
            f"cd {tmp_path} && {OPENHELM} run 'List the pricing tiers' --start-url {site}/ --schema schema.json --wait"
        )
        screens = term.screens
    live = [s for s in screens if LIVE.search(s)]
    assert live, "no live progress line was seen:\n" + "\n=====\n".join(screens[-3:])
    assert any("http://127.0.0.1" in s for s in live)  # the current URL
    assert re.search(r"✓ succeeded · step \d+/\d+", final), final
    assert '"name": "Deckhand"' in final and term.code == 0


def test_a_session_and_a_file_from_a_real_terminal(stack, key, llm, site, tmp_path) -> None:
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "orders.csv").write_text("id,total\n1,2\n")
    llm.reset(click_pricing, ToolCall("wait", {"seconds": 3}), DONE)
    with Terminal({"OPENHELM_API_KEY": key, "OPENHELM_BASE_URL": stack.url}) as term:
        screen = term.run(f"cd {tmp_path} && {OPENHELM} files upload orders.csv")
        assert term.code == 0 and "orders.csv · 13 bytes · ready" in screen, screen
        file_id = re.search(r"^(file_\w+)$", screen, re.MULTILINE).group(1)
        screen = term.run(f"{OPENHELM} files list")
        assert term.code == 0 and re.search(rf"^{file_id}\s+ready\s+13 .* orders\.csv$", screen, re.MULTILINE), screen

        screen = term.run(f"SID=$({OPENHELM} sessions create --start-url {site}/ --wait-ready) && echo SID=$SID")
        assert term.code == 0 and "ready · http://127.0.0.1" in screen, screen
        session_id = re.search(r"^SID=(ses_\w+)$", screen, re.MULTILINE).group(1)

        final = term.run(f"{OPENHELM} sessions task $SID 'List the pricing tiers' --schema schema.json --wait")
        live = [s for s in term.screens if LIVE.search(s)]
        assert live, "no live progress line was seen:\n" + "\n=====\n".join(term.screens[-3:])
        assert re.search(r"✓ succeeded · step \d+/\d+", final) and '"name": "Deckhand"' in final, final
        assert term.code == 0 and f"in session {session_id}" in final

        screen = term.run(f"{OPENHELM} sessions get $SID")
        assert term.code == 0 and re.search(r"^tasks\s+run_\w+$", screen, re.MULTILINE), screen
        screen = term.run(f"{OPENHELM} sessions close $SID")
        assert term.code == 0 and f"{session_id} closed" in screen, screen
        term.run(f"{OPENHELM} sessions close $SID")  # closed already: the API refuses
        assert term.code == 5
