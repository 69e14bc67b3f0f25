"""``openhelm demo``: the main job, end to end on one machine.

Starts the local stack, serves the bundled demo website (devstack/demo_site) on 127.0.0.1, submits
one run ("list the pricing tiers with their monthly prices", with an output schema) and prints the
finished run: result, confidence, steps, visited URLs, usage and the screenshots.

With ``OPENAI_API_KEY`` (and optionally ``OPENAI_BASE_URL``, ``OPENHELM_MODEL``) a real model drives
the browser through the LLM gateway. Without one, the run replays a recorded workflow for the demo
site (``model: "replay"``): real sandbox, real Chromium, real screenshots, no LLM.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import requests

from devstack.local_env import announce, local_config

SITE = Path(__file__).resolve().parent / "demo_site"
ROOT = Path(__file__).resolve().parent.parent


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_site() -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_SiteHandler, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, name="demo-site", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def recorded_workflow(site: str) -> list[dict[str, Any]]:
    """The workflow a model-driven run of this task recorded, with the site's address of today."""
    recorded = json.loads((SITE / "workflow.json").read_text())
    text = json.dumps(recorded).replace("{site}", site)
    return json.loads(text)["steps"]  # type: ignore[no-any-return]


def stack_settings(environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str], bool]:
    """Template parameters and environment for the demo stack; and whether a real model is used."""
    config = local_config(environ, interactive=True)
    params = {**config.params, "RunTokenSecret": secrets.token_urlsafe(48)}
    params.setdefault("OpenAIBaseUrl", config.llm_base_url)
    params.setdefault("DefaultModel", config.model)
    return params, config.env, config.uses_model


def run_demo(out: TextIO, environ: Mapping[str, str] | None = None) -> int:
    from devstack.stack import EmbeddedStack
    from shared.logging import get_logger

    log = get_logger("devstack.demo")
    environ = os.environ if environ is None else environ
    params, env, use_llm = stack_settings(environ)
    site_server, site = serve_site()
    try:
        with EmbeddedStack(ROOT / "template.yaml", params, env=env, schedules=False) as stack:
            announce(log, env)
            from shared.orgs import bootstrap_org

            _org_id, key = bootstrap_org("demo")
            task = json.loads((SITE / "task.json").read_text())
            body: dict[str, Any] = {**task, "start_url": site + "/"}
            if use_llm:
                out.write(f"Using the model {params['DefaultModel']} at {params['OpenAIBaseUrl']}.\n")
            else:
                out.write(
                    "OPENAI_API_KEY is not set: replaying a recorded workflow for the demo site (no LLM).\n"
                    "Set OPENAI_API_KEY (and optionally OPENAI_BASE_URL, OPENHELM_MODEL) to let a model drive.\n"
                )
                body["replay_steps"] = recorded_workflow(site)
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {key}"
            out.write(f"Local stack at {stack.url}; demo site at {site}.\nPOST /v1/runs ...\n")
            out.flush()
            accepted = session.post(f"{stack.url}/v1/runs", json=body, timeout=30)
            if accepted.status_code != 202:
                out.write(f"the API refused the run: {accepted.status_code} {accepted.text}\n")
                return 1
            run_id = accepted.json()["task_id"]
            out.write(f"202 {json.dumps(accepted.json())}\n")
            run = _wait(session, stack.url, run_id, timeout_s=int(task["max_duration_s"]) + 60)
            shots = _download_screenshots(run)
            _print_run(out, run, shots)
            return 0 if run["status"] == "succeeded" else 1
    finally:
        site_server.shutdown()
        site_server.server_close()


def _wait(session: requests.Session, url: str, run_id: str, timeout_s: int) -> dict[str, Any]:
    """Poll with GET until the run is finished and its evidence handled (bounded)."""
    import time

    deadline = time.monotonic() + timeout_s
    tick = threading.Event()
    while True:
        run: dict[str, Any] = session.get(f"{url}/v1/runs/{run_id}", timeout=30).json()
        done = run["status"] in ("succeeded", "failed", "cancelled") and run.get("evidence_status")
        if done or time.monotonic() > deadline:
            return run
        tick.wait(0.2)


def _download_screenshots(run: dict[str, Any]) -> list[Path]:
    """Download the run's screenshots into .openhelm/demo/<run>/ through their presigned URLs (served
    by the local stack's S3, as AWS would), checking each against its SHA-256."""
    dest = ROOT / ".openhelm" / "demo" / run["id"]
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for ev in run.get("evidence") or []:
        if not ev.get("screenshot_url"):
            continue
        data = requests.get(ev["screenshot_url"], timeout=30).content
        if hashlib.sha256(data).hexdigest() != ev.get("sha256"):
            raise RuntimeError(f"screenshot of step {ev['step']} does not match its SHA-256")
        target = dest / Path(ev["path"]).name
        target.write_bytes(data)
        copied.append(target)
    return copied


def _print_run(out: TextIO, run: dict[str, Any], shots: list[Path]) -> None:
    out.write(f"\nRun {run['id']}: {run['status']}\n")
    if run.get("error"):
        out.write(f"  error: {run['error']['code']}: {run['error']['message']}\n")
    out.write(f"  result: {json.dumps(run.get('result'), indent=2)}\n")
    if run.get("confidence"):
        out.write(f"  confidence: {run['confidence']['score']} ({run['confidence']['reason']})\n")
    out.write("  steps:\n")
    for step in run.get("steps") or []:
        args = json.dumps(step.get("args") or {})[:100]
        error = f"  [error: {step['error']}]" if step.get("error") else ""
        out.write(f"    {step['index']:>2}. {step['action']} {args} @ {step.get('url')}{error}\n")
    out.write("  visited:\n")
    for entry in run.get("network") or []:
        flag = " (blocked)" if entry.get("blocked") else ""
        out.write(f"    {entry.get('time')} {entry.get('status')} {entry['url']}{flag}\n")
    usage = run.get("usage") or {}
    out.write(
        f"  usage: {usage.get('input_tokens', 0)} input / {usage.get('output_tokens', 0)} output tokens, "
        f"{usage.get('llm_calls', 0)} LLM calls, {usage.get('sandbox_seconds', 0)} sandbox seconds, "
        f"${usage.get('cost_usd', '0.00')} ({usage.get('cost_status', 'estimate')})\n"
    )
    out.write(f"  evidence: {run.get('evidence_status')}")
    if run.get("evidence_manifest_url"):
        out.write(f" (manifest: {run['evidence_manifest_url'][:80]}...)")
    out.write("\n  screenshots (downloaded through their presigned URLs, SHA-256 checked):\n")
    for path in shots:
        out.write(f"    {path}\n")
    out.flush()
