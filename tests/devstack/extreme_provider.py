"""A stand-in sandbox whose agent leaves the largest out dir the agent contract allows a run to leave
(docs/agent-contract.md): many steps with long tool arguments and errors, a long network log, one
screenshot per step and a result just under the control plane's 256 KiB cap. It reports back over
real HTTP like the instant agent; used to push the pipeline against AWS's payload limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack.testing.agent_outputs import out_files, result_doc, screenshot_path
from devstack.testing.instant_provider import InstantProvider
from shared.orchestration.outputs import MAX_RESULT_BYTES
from shared.sandbox.base import SandboxRequest

STEPS = 200
NETWORK = 500


def big_result(target_bytes: int = MAX_RESULT_BYTES - 12 * 1024) -> dict[str, Any]:
    """A result.json ``result`` of about ``target_bytes`` bytes (as the agent writes it: JSON with
    non-ASCII escaped), leaving room under the 256 KiB cap for the rest of result.json."""
    row = {"name": "Ünïcode tier — " + "p" * 200, "price": "€ 1,299.00", "notes": "n" * 300, "id": 0}
    rows = [dict(row, id=i) for i in range(target_bytes // (len(json.dumps(row)) + 2))]
    return {"items": rows}


class ExtremeProvider(InstantProvider):
    name = "extreme"
    id_prefix = "ext"

    def __init__(self, steps: int = STEPS, network: int = NETWORK) -> None:
        super().__init__()
        self.steps = steps
        self.network = network

    def outputs(self, request: SandboxRequest) -> tuple[dict[str, Any], dict[str, bytes]]:
        result = result_doc(big_result(), confidence=0.8, summary="s" * 2000, steps=self.steps)
        t0 = datetime.now(UTC)
        steps = []
        for i in range(1, self.steps + 1):
            long_url = f"https://shop.example.com/catalog/{i}?" + "q=" + "a" * 1900
            step = {
                "index": i,
                "action": "type" if i < self.steps else "done",
                # A long tool argument: the agent types a whole page of text into a field.
                "args": {"ref": f"e{i}", "text": "Lorem ipsum dolor sit amet, ✓ " * 300, "submit": False},
                "url": long_url,
                "title": "Title " + "t" * 400,
                "started_at": (t0 + timedelta(seconds=i)).isoformat(timespec="milliseconds"),
                "duration_ms": 1234,
                "error": ("TimeoutError: locator.fill: Timeout 5000ms exceeded.\n" + "call log " * 300)
                if i % 3 == 0
                else None,
                "screenshot": screenshot_path(i),
            }
            steps.append(step)
        network = [
            {
                "url": f"https://cdn.example.com/{n}/" + "b" * 1900,
                "time": (t0 + timedelta(seconds=n)).isoformat(),
                "status": 200,
                "blocked": n % 10 == 0,
            }
            for n in range(self.network)
        ]
        return result, out_files(result, steps, network, screenshots=range(1, self.steps + 1))
