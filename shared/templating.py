"""``{{name}}`` placeholders in prompts, filled from a run's inputs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from shared.errors import Unprocessable

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")


def placeholders(template: str) -> list[str]:
    """Placeholder names in order of first appearance."""
    seen: dict[str, None] = {}
    for m in PLACEHOLDER.finditer(template):
        seen.setdefault(m.group(1), None)
    return list(seen)


def render(template: str, inputs: Mapping[str, Any] | None) -> str:
    """Fill every placeholder; strings go in as-is, other values as compact JSON.

    Raises Unprocessable (code ``missing_inputs``) naming every placeholder without a value.
    """
    values = inputs or {}
    missing = [name for name in placeholders(template) if name not in values]
    if missing:
        raise Unprocessable(
            f"the prompt needs inputs for: {', '.join(missing)}",
            code="missing_inputs",
            details={"missing": missing},
        )

    def fill(m: re.Match[str]) -> str:
        v = values[m.group(1)]
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    return PLACEHOLDER.sub(fill, template)
