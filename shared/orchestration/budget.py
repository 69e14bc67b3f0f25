"""Keeps a finished run's record within DynamoDB's 400 KB item quota, whatever the agent left behind.

The run item holds the request (prompt up to 20,000 characters, inputs, schema, metadata), the result
(up to 256 KiB) and the step, network and evidence lists, which the agent sizes: 200 steps with long
tool arguments and errors reach megabytes (tests/devstack/test_devstack_extremes.py). A write
past the quota fails, and Finalize would fail with it. So the lists get what room the request and
the result leave: long strings are clipped with a visible marker first, and only if that is not
enough are records dropped from the middle (the first and last ones stay). The evidence bundle in S3
keeps every record whole (shared/evidence.py copies steps.jsonl and network.jsonl as they were).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# DynamoDB's item quota (attribute names and values, UTF-8).
ITEM_QUOTA_BYTES = 400 * 1024
# What Finalize may fill the item to. The rest is headroom for what is written afterwards (evidence
# status, manifest key and announcement flags, progress), none of it more than a few hundred bytes.
RUN_ITEM_BUDGET_BYTES = 360 * 1024
# The evidence function rewrites the evidence list with each screenshot's SHA-256 added.
EVIDENCE_SHA_BYTES = len(',"sha256":""') + 64
# Share of the lists' room the network log may take; the steps get the rest.
NETWORK_SHARE = 0.25
# Longest string kept in a step or network record before any budget applies, and the shortest a
# string is clipped to when the budget is tight.
MAX_STRING_CHARS = 2000
MIN_STRING_CHARS = 64
LIST_FIELDS = ("steps", "network", "evidence")


class ResultTooLarge(Exception):
    """The result and the run's own request leave no room in the record (both are kept whole or not at all)."""


def value_bytes(value: Any) -> int:
    """An attribute value's size, as its compact UTF-8 JSON (a little above DynamoDB's own count)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8", "replace"))


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(str(k).encode()) + value_bytes(v) for k, v in item.items() if v is not None)


def clip(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit} more characters not kept]"


def clip_strings(value: Any, limit: int) -> Any:
    """Every string inside ``value`` (dict keys included) clipped to ``limit`` characters."""
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, dict):
        return {clip(str(k), limit): clip_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clip_strings(v, limit) for v in value]
    return value


def fit_records(
    records: list[dict[str, Any]], budget: int, *, max_chars: int = MAX_STRING_CHARS
) -> list[dict[str, Any]]:
    """``records`` within ``budget`` bytes: strings clipped (halving the cap down to MIN_STRING_CHARS),
    then records dropped from the middle."""
    limit = max_chars
    fitted = [clip_strings(r, limit) for r in records]
    while value_bytes(fitted) > budget and limit > MIN_STRING_CHARS:
        limit = max(MIN_STRING_CHARS, limit // 2)
        fitted = [clip_strings(r, limit) for r in records]
    while fitted and value_bytes(fitted) > budget:
        del fitted[len(fitted) // 2]
    return fitted


def fit_run_item(
    stored: dict[str, Any], fields: dict[str, Any], note: Callable[[str], None] = lambda _msg: None
) -> dict[str, Any]:
    """``fields`` (what Finalize writes) adjusted so the run item stays within RUN_ITEM_BUDGET_BYTES.
    ``stored``: the run's item as it is now (:func:`shared.db.runs.stored_attributes`).
    Raises ResultTooLarge when even empty step and network lists would not fit."""
    evidence = fields.get("evidence") or []
    others = {k: v for k, v in fields.items() if k not in LIST_FIELDS}
    base = item_bytes({**{k: v for k, v in stored.items() if k not in LIST_FIELDS and k not in fields}, **others})
    reserved = base + 64 + value_bytes(evidence) + EVIDENCE_SHA_BYTES * len(evidence)  # 64: list names
    room = RUN_ITEM_BUDGET_BYTES - reserved
    if room < 0:
        raise ResultTooLarge(
            f"the result ({value_bytes(fields.get('result'))} bytes) and the run's request leave no room in "
            f"the run record ({RUN_ITEM_BUDGET_BYTES} bytes)"
        )
    out = dict(fields)
    network = fields.get("network") or []
    out["network"] = fit_records(network, int(room * NETWORK_SHARE))
    steps = fields.get("steps") or []
    out["steps"] = fit_records(steps, room - value_bytes(out["network"]))
    for name, before in (("steps", steps), ("network", network)):
        if value_bytes(out[name]) < value_bytes(before):
            note(f"{name}: {len(out[name])} of {len(before)} records kept, long strings clipped to fit the run record")
    return out
