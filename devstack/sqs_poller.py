"""A local stand-in for Lambda's SQS poller.

moto only runs an SQS event source mapping inside SendMessage (see ``patches``), so a message
that is delayed, or that failed and became visible again after its visibility timeout, is never
redelivered, and nothing ever reaches the dead-letter queue. This poller does what Lambda's does:
one thread per mapping receives batches through the SQS API (so DelaySeconds, the queue's
visibility timeout, BatchSize and the redrive policy all apply as moto implements them), invokes
the function with an SQS event, deletes what succeeded and leaves the rest to reappear.

Waiting is event-driven where possible: a poller sleeps on the queue's own condition (moto
notifies it on every SendMessage) with a short timeout, so it reacts to new messages at once and
to visibility timeouts within ``idle_wait`` seconds, and stops within the same delay.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import EventSourceMapping

from devstack import limits
from devstack.runtime import FunctionRegistry
from shared.logging import get_logger

log = get_logger("devstack.sqs")

_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
)


class SqsPoller:
    """Polls every SQS event source mapping of the stack in its own thread."""

    def __init__(
        self,
        registry: FunctionRegistry,
        sqs_client: Any,
        *,
        account_id: str,
        region: str,
        endpoint_url: str,
        idle_wait: float = 0.1,
    ) -> None:
        self.registry = registry
        self.sqs = sqs_client
        self.account_id = account_id
        self.region = region
        self.endpoint_url = endpoint_url.rstrip("/")
        self.idle_wait = idle_wait
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self._mappings: dict[str, EventSourceMapping] = {}
        self._busy: set[str] = set()
        self._changed = threading.Condition()

    # -- lifecycle

    def add(self, esm: EventSourceMapping) -> None:
        """Start polling for one mapping (called from the create_event_source_mapping patch)."""
        with self._changed:
            if esm.uuid in self._threads or self._stop.is_set():
                return
            self._mappings[esm.uuid] = esm
            thread = threading.Thread(target=self._run, args=(esm,), name=f"sqs-poller-{esm.uuid[:8]}", daemon=True)
            self._threads[esm.uuid] = thread
        thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()  # pollers notice within idle_wait
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    def drain(self, timeout: float = 10.0) -> None:
        """Block until every mapped queue is empty (nothing visible, in flight or delayed) and no
        batch is being processed. Failed messages count as in flight until they are redelivered
        and succeed or move to the dead-letter queue. Raises TimeoutError with what is left."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                left = self._leftovers()
                if not left:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"queues not drained after {timeout}s: {left}")
                # Visibility timeouts expire without any notification: re-check at short intervals.
                self._changed.wait(min(remaining, 0.02))

    def _leftovers(self) -> dict[str, int]:
        left: dict[str, int] = {}
        for uuid, esm in self._mappings.items():
            queue = self._queue(esm)
            if queue is None or not esm.enabled:
                continue
            count = (
                queue.approximate_number_of_messages
                + queue.approximate_number_of_messages_not_visible
                + queue.approximate_number_of_messages_delayed
            )
            if count or uuid in self._busy:
                left[queue.name] = count
        return left

    # -- the poll loop

    def _queue(self, esm: EventSourceMapping) -> Any:
        from moto.sqs.models import sqs_backends

        name = esm.event_source_arn.rsplit(":", 1)[-1]
        return sqs_backends[self.account_id][self.region].queues.get(name)

    def _run(self, esm: EventSourceMapping) -> None:
        queue_name = esm.event_source_arn.rsplit(":", 1)[-1]
        url = f"{self.endpoint_url}/{self.account_id}/{queue_name}"
        log.info("sqs_poller_started", queue=queue_name, function=esm.function_arn.rsplit(":", 1)[-1])
        while not self._stop.is_set():
            try:
                queue = self._queue(esm)
                if queue is None or not esm.enabled:
                    self._stop.wait(self.idle_wait)
                    continue
                # Sleeps until SendMessage notifies the queue or idle_wait passes (visibility expiry).
                queue.wait_for_messages(self.idle_wait)
                if self._stop.is_set() or not queue.messages:
                    continue
                with self._changed:
                    self._busy.add(esm.uuid)
                try:
                    received = self._poll_once(esm, url)
                finally:
                    with self._changed:
                        self._busy.discard(esm.uuid)
                        self._changed.notify_all()
                if not received:  # visible but not deliverable (FIFO group in flight, DLQ moves)
                    self._stop.wait(self.idle_wait / 2)
            except Exception:
                log.exception("sqs_poller_error", queue=queue_name)
                self._stop.wait(self.idle_wait)
        log.debug("sqs_poller_stopped", queue=queue_name)

    def _receive(self, esm: EventSourceMapping, url: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < esm.batch_size:
            got = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, esm.batch_size - len(messages)),
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(got)
            if len(got) < 10:
                break
        return messages

    def _poll_once(self, esm: EventSourceMapping, url: str) -> int:
        messages = self._receive(esm, url)
        if not messages:
            return 0
        fn = self.registry.get(esm.function_arn)
        if fn is None:
            log.error("sqs_mapping_function_unknown", function=esm.function_arn)
            return len(messages)
        failed: set[str] = set()
        for batch in _fit(messages, [self._record(m, esm.event_source_arn) for m in messages]):
            # A function past its Timeout errors like any other: the whole batch stays on the queue.
            payload, errored = fn.invoke({"Records": [record for _, record in batch]})
            failed |= self._failed_ids(esm, [m for m, _ in batch], payload, errored)
        done = [m for m in messages if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            chunk = done[i : i + 10]
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
            )
        log.info(
            "sqs_batch",
            queue=url.rsplit("/", 1)[-1],
            function=fn.logical_id,
            received=len(messages),
            deleted=len(done),
            failed=len(failed),
        )
        return len(messages)

    @staticmethod
    def _failed_ids(esm: EventSourceMapping, messages: list[dict[str, Any]], payload: str, errored: bool) -> set[str]:
        """Which messages stay on the queue: all of them when the function errored; with
        ReportBatchItemFailures, the ones it lists (a malformed answer fails the whole batch)."""
        every = {m["MessageId"] for m in messages}
        if errored:
            return every
        if "ReportBatchItemFailures" not in (esm.function_response_types or []):
            return set()
        try:
            response = json.loads(payload)
        except ValueError:
            return every
        if not isinstance(response, dict) or response.get("batchItemFailures") is None:
            return set()
        items = response["batchItemFailures"]
        if not isinstance(items, list):
            return every
        failed: set[str] = set()
        for item in items:
            ident = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not ident or ident not in every:
                log.warning("sqs_batch_response_invalid", item=item)
                return every
            failed.add(ident)
        return failed

    def _record(self, message: dict[str, Any], source_arn: str) -> dict[str, Any]:
        attrs = message.get("Attributes", {})
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": {k: attrs[k] for k in _RECORD_ATTRIBUTES if k in attrs},
            "messageAttributes": {
                name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": source_arn,
            "awsRegion": self.region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record


def _fit(messages: list[dict[str, Any]], records: list[dict[str, Any]]) -> list[list[tuple[dict[str, Any], Any]]]:
    """Split a received batch into invocations whose event fits Lambda's 6 MB synchronous payload,
    as Lambda's poller does (ten messages of up to 1 MiB each do not fit in one)."""
    batches: list[list[tuple[dict[str, Any], Any]]] = [[]]
    size = len('{"Records": []}')
    for message, record in zip(messages, records, strict=True):
        record_size = limits.json_bytes(record) + 2
        if batches[-1] and size + record_size > limits.LAMBDA_SYNC_REQUEST_BYTES:
            batches.append([])
            size = len('{"Records": []}')
        batches[-1].append((message, record))
        size += record_size
    return batches


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute -> the camelCase shape Lambda puts in an SQS event record."""
    b64: Callable[[bytes], str] = lambda b: base64.b64encode(b).decode()  # noqa: E731
    out: dict[str, Any] = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [b64(b) for b in value.get("BinaryListValues", [])],
        "dataType": value.get("DataType"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = b64(value["BinaryValue"])
    return out
