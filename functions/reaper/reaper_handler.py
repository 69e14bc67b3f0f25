"""Scheduled every minute: end runs whose agent died or overran, kill orphaned sandboxes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from shared.reaper import reap
from shared.services import get_services


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return asdict(reap(get_services()))
