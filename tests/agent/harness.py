"""Helpers of the agent tests: the fake control plane, specs, running the agent in-process."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openhelm_agent.evidence import RunResult
from openhelm_agent.options import AgentOptions
from openhelm_agent.run import run_agent

from devstack.testing.fake_openai import FakeOpenAI, FakeResponse

PAGES = Path(__file__).resolve().parent / "pages"
CHROMIUM = "/usr/bin/chromium"
TOKEN = "tok_test_0123456789"


@dataclass
class FakeControlPlane:
    """The control plane as the agent sees it: LLM gateway (scripted) + progress + completion."""

    llm: FakeOpenAI
    progress: list[dict[str, Any]] = field(default_factory=list)
    completions: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    completed: threading.Event = field(default_factory=threading.Event)

    def respond(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> FakeResponse:
        if path.startswith("/internal/llm/v1/"):
            return self.llm.respond(method, path, headers, raw)
        match = re.fullmatch(r"/internal/runs/([^/]+)/(progress|complete)", path)
        if method != "POST" or match is None:
            return FakeResponse(404, {}, b"{}")
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization")
        self.authorizations.append(auth)
        body = json.loads(raw)
        if match.group(2) == "progress":
            self.progress.append(body)
        else:
            self.completions.append({"run_id": match.group(1), "authorization": auth, "body": body})
            self.completed.set()
        return FakeResponse(200, {"Content-Type": "application/json"}, b"{}")


PLANS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["plans"],
    "additionalProperties": False,
    "properties": {
        "plans": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "price", "sso"],
                "properties": {
                    "name": {"type": "string"},
                    "price": {"type": "number"},
                    "sso": {"type": "boolean"},
                },
            },
        }
    },
}

VALID_PLANS = {
    "plans": [
        {"name": "Free", "price": 0, "sso": False},
        {"name": "Team", "price": 29, "sso": False},
        {"name": "Enterprise", "price": 99, "sso": True},
    ]
}


def make_spec(site: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "run_id": "run_test0001",
        "prompt": "List every plan on Acme Cloud's pricing page with its monthly price and whether it has SSO.",
        "start_url": f"{site}/index.html",
        "output_schema": PLANS_SCHEMA,
        "model": "gpt-test",
        "max_steps": 10,
        "max_duration_s": 60,
        "allowed_domains": [],
        "blocked_domains": [],
        "replay": None,
    }
    spec.update(overrides)
    return spec


def run(spec: Mapping[str, Any], out_dir: Path, control_url: str, browser: Any, **options: Any) -> RunResult:
    """run_agent in-process with test-friendly options (shared browser, quick retries)."""
    opts = AgentOptions(chromium_path=CHROMIUM, **{"action_timeout_s": 3.0, **options})
    return run_agent(spec, out_dir, control_url, TOKEN, options=opts, browser=browser)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
