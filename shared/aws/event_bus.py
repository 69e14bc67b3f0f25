"""The event bus (EventBridge, source ``openhelm``). Details carry ids and a summary, never secrets."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import EventPublishFailed
from shared.logging import get_logger

SOURCE = "openhelm"
log = get_logger(__name__)


class EventPublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self.client = client
        self.bus_name = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None) -> None:
        """Put one event on the bus. Raises EventPublishFailed (the caller decides whether that is fatal)."""
        entry = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str, separators=(",", ":")),
            "EventBusName": self.bus_name,
            "Resources": resources or [],
        }
        try:
            out = self.client.put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as exc:
            raise EventPublishFailed("event bus unavailable") from exc
        if out.get("FailedEntryCount"):
            failed = out["Entries"][0]
            raise EventPublishFailed(f"event not accepted: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
        log.debug("event_published", detail_type=detail_type)
