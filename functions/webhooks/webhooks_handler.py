"""Webhook delivery: consumes the webhook queue (SQS, ReportBatchItemFailures).

Each record is one run event; a record whose targets did not all answer 2xx is reported as a batch
item failure after its visibility was set to the next backoff delay (see shared/webhooks/queue.py).
The records of a batch are delivered side by side, so a batch fits the function's Timeout.
"""

from __future__ import annotations

from typing import Any

from shared.services import get_services
from shared.webhooks.queue import process_sqs_batch


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failed = process_sqs_batch(get_services(), event.get("Records") or [])
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
