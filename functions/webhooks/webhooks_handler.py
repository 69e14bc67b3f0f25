"""Webhook delivery: consumes the webhook queue (SQS, ReportBatchItemFailures).

Each record is one run event; a record whose targets did not all answer 2xx is reported as a batch
item failure after its visibility was set to the next backoff delay (see shared/webhooks/queue.py).
"""

from __future__ import annotations

from typing import Any

from shared.logging import bind_context, clear_context, get_logger
from shared.services import get_services
from shared.webhooks.queue import process_sqs_record

log = get_logger("webhooks")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    svc = get_services()
    failures = []
    for record in event.get("Records") or []:
        clear_context()
        bind_context(message_id=record.get("messageId"))
        try:
            done = process_sqs_record(svc, record)
        except Exception:  # one bad record must not fail the batch; SQS retries it
            log.exception("webhook_record_failed")
            done = False
        if not done:
            failures.append({"itemIdentifier": record["messageId"]})
    clear_context()
    return {"batchItemFailures": failures}
