"""Reads what the agent left in its out dir (docs/agent-contract.md), defensively: the sandbox is
untrusted, so every file is size-capped, parsed leniently and validated before it reaches a record."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared.models.runs import EvidenceItem, NetworkEntry, StepRecord
from shared.orchestration.budget import clip
from shared.sandbox.base import SandboxError, SandboxProvider

MAX_RESULT_BYTES = 256 * 1024
MAX_LOG_BYTES = 2 * 1024 * 1024
MAX_STEPS_KEPT = 200
MAX_NETWORK_KEPT = 500
EVIDENCE_URL_CHARS = 200


@dataclass
class AgentOutputs:
    result: dict[str, Any] | None  # result.json, or None if missing/unreadable
    steps: list[StepRecord] = field(default_factory=list)
    network: list[NetworkEntry] = field(default_factory=list)
    screenshots: dict[int, str] = field(default_factory=dict)  # step index -> path in the out dir
    problems: list[str] = field(default_factory=list)


def _jsonl(raw: bytes, model: type, limit: int, problems: list[str], name: str) -> list[Any]:
    out = []
    for n, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(model.model_validate(json.loads(line)))
        except (ValueError, ValidationError):
            problems.append(f"{name}: line {n} unreadable")
        if len(out) >= limit:
            problems.append(f"{name}: truncated at {limit} entries")
            break
    return out


def evidence_item(outputs: AgentOutputs, index: int, path: str, sha256: str | None = None) -> dict[str, Any]:
    """The run envelope's entry for the screenshot of step ``index``, with that step's URL and time."""
    step = next((s for s in outputs.steps if s.index == index), None)
    return EvidenceItem(
        step=index,
        # Up to 200 of these sit in the run record (DynamoDB, 400 KB): the URL is clipped here, the
        # step record has it whole.
        url=clip(step.url, EVIDENCE_URL_CHARS) if step and step.url else None,
        time=step.started_at if step else None,
        sha256=sha256,
        path=path,
    ).model_dump(mode="json")


def read_outputs(provider: SandboxProvider, sandbox_id: str, base: str = "") -> AgentOutputs:
    """``base``: the run's folder in the out dir (a session's task has its own: shared/sessions/paths.py)."""
    problems: list[str] = []
    result: dict[str, Any] | None = None
    try:
        raw = provider.read_file(sandbox_id, base + "result.json")
        if len(raw) > MAX_RESULT_BYTES:
            problems.append("result.json larger than 256 KiB")
        else:
            parsed = json.loads(raw)
            result = parsed if isinstance(parsed, dict) else None
    except (SandboxError, ValueError) as exc:
        problems.append(f"result.json: {exc}")
    outputs = AgentOutputs(result=result, problems=problems)
    for name, model, limit, attr in (
        ("steps.jsonl", StepRecord, MAX_STEPS_KEPT, "steps"),
        ("network.jsonl", NetworkEntry, MAX_NETWORK_KEPT, "network"),
    ):
        try:
            raw = provider.read_file(sandbox_id, base + name)[:MAX_LOG_BYTES]
        except SandboxError:
            continue
        setattr(outputs, attr, _jsonl(raw, model, limit, problems, name))
    try:
        for path in provider.list_files(sandbox_id, base + "screenshots"):
            stem = path.rsplit("/", 1)[-1]
            if stem.startswith("step-") and stem.endswith(".png") and stem[5:-4].isdigit():
                outputs.screenshots[int(stem[5:-4])] = path[len(base) :]  # relative to the run's folder
    except SandboxError:
        pass
    return outputs
