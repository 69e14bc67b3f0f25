"""Helpers shared by the benchmarks: a local stack with a fake model, percentiles, printing."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.logging import configure  # noqa: E402

# Before any module creates its logger: benchmarks print figures on stdout, errors only on stderr.
configure("ERROR", stream=sys.stderr)


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def line(name: str, value: Any, unit: str = "", note: str = "") -> None:
    text = f"{value:.1f}" if isinstance(value, float) else str(value)
    sys.stdout.write(f"{name:<52} {text:>12} {unit:<6} {note}\n")
    sys.stdout.flush()


@contextmanager
def local_stack(llm_base_url: str = "http://127.0.0.1:9/v1", **env: str) -> Iterator[Any]:
    """The real template in the local stack, loopback allowed, quiet logs."""
    from devstack.local_env import local_config
    from devstack.stack import EmbeddedStack

    # The same mapping as `openhelm dev`, from a fixed environment (never the developer's own key).
    config = local_config(
        {"OPENAI_BASE_URL": llm_base_url, "OPENAI_API_KEY": "sk-bench", "OPENHELM_MODEL": "bench-model", **env}
    )
    params = {**config.params, "RunTokenSecret": "bench-" + "s" * 40, "LogLevel": "ERROR"}
    base_env = config.env
    with EmbeddedStack(ROOT / "template.yaml", params, env=base_env, schedules=False) as stack:
        yield stack
