"""``openhelm dev`` as a developer starts it: a real process that takes the model settings a shell
already has (OPENAI_API_KEY, OPENAI_BASE_URL, OPENHELM_MODEL), completes a real browser run with a
scripted model behind them, and lets an explicit OPENHELM_* setting win over its dev defaults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from devstack.testing.fake_openai import FakeOpenAI, ToolCall
from tests.support.polling import poll

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = {"type": "object", "properties": {"tiers": {"type": "array"}}, "required": ["tiers"]}


def test_openhelm_dev_uses_the_shells_model_settings_and_explicit_settings_win(site: str, tmp_path: Path) -> None:
    done = ToolCall("done", {"result": {"tiers": ["Free", "Pro"]}, "confidence": 0.9, "summary": "two tiers"})
    with FakeOpenAI([done]) as llm:
        env = {
            **os.environ,
            "OPENAI_API_KEY": "sk-from-the-developers-shell-0001",
            "OPENAI_BASE_URL": llm.base_url,
            "OPENHELM_MODEL": "scripted-model",
            # The dev default is "true"; the developer said no (issue 15 item 13).
            "OPENHELM_WEBHOOK_ALLOW_LOOPBACK": "false",
        }
        stderr = (tmp_path / "stderr.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "devstack.cli", "dev", "--port", "0", "--org", "acme"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            ready = proc.stdout.readline()
            assert ready.startswith("OPENHELM_READY url="), ready + (tmp_path / "stderr.log").read_text()[-3000:]
            url = ready.strip().split("url=", 1)[1]
            key = proc.stdout.readline().strip().split("key=", 1)[1]
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {key}"

            accepted = api.post(
                f"{url}/v1/runs",
                json={"prompt": "List the pricing tiers", "start_url": f"{site}/pricing.html", "output_schema": SCHEMA},
                timeout=30,
            )
            assert accepted.status_code == 202, accepted.text
            run_id = accepted.json()["task_id"]

            def finished() -> dict | None:
                run = api.get(f"{url}/v1/runs/{run_id}", timeout=30).json()
                return run if run["status"] in ("succeeded", "failed", "cancelled") else None

            run = poll(finished, f"run {run_id} finished", 90)
            assert run["status"] == "succeeded", run.get("error")
            assert run["result"] == {"tiers": ["Free", "Pro"]} and run["model"] == "scripted-model"
            (chat,) = llm.chat_requests
            assert chat.authorization == "Bearer sk-from-the-developers-shell-0001"
            assert chat.body["model"] == "scripted-model"

            refused = api.post(f"{url}/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, timeout=30)
            assert refused.status_code == 422 and refused.json()["error"]["code"] == "webhook_url_not_allowed"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                stderr.close()
    log = (tmp_path / "stderr.log").read_text()
    assert proc.returncode == 0, log[-3000:]
    assert "sk-from-the-developers-shell-0001" not in log, "the key is never logged"
    assert '"webhook_loopback_allowed"' not in log
