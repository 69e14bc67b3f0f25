"""AWS's published limits on the paths the local stack emulates, in one place.

The local stack enforces these so that what passes locally also fits AWS (issue 9). Per-function
and per-route values come from the template (a function's ``Timeout``, a route's
``TimeoutInMillis``); the figures here are the service quotas that no template can raise. Each one
says where it is documented, as read in December 2026. Several were raised in 2025-2026 (SQS, Lambda
asynchronous invocation and EventBridge to 1 MB); where a product on our path keeps a stricter limit
(Step Functions 256 KiB, DynamoDB 400 KB) that one is used.
"""

from __future__ import annotations

import json
import threading
from typing import Any

KIB = 1024
MIB = 1024 * KIB

# -- API Gateway HTTP APIs: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
# "Payload size: 10 MB, cannot be increased". Past it API Gateway answers 413 {"message":"Request Entity
# Too Large"} without invoking the integration.
HTTP_API_PAYLOAD_BYTES = 10 * MIB
# "Maximum integration timeout: 30 seconds, cannot be increased" (a route may set a shorter
# TimeoutInMillis, 50..30000). Past it API Gateway answers 503 {"message":"Service Unavailable"};
# the Lambda invocation itself goes on until the function's own Timeout.
HTTP_API_INTEGRATION_TIMEOUT_S = 30.0

# -- Lambda: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html and the Invoke API
# ("For synchronous invocations, the maximum payload size is 6 MB. For asynchronous invocations, the
# maximum payload size is 1 MB", raised from 256 KB in 2025; AWS Compute Blog, "More room to build",
# 2026-01-29). The byte figures are the ones Lambda's own errors name.
LAMBDA_SYNC_REQUEST_BYTES = 6 * MIB  # RequestTooLargeException: "... (limit 6291456 bytes)"
LAMBDA_SYNC_RESPONSE_BYTES = 6 * MIB + 100  # Function.ResponseSizeTooLarge: "... (6291556 bytes)."
LAMBDA_ASYNC_REQUEST_BYTES = 1 * MIB  # InvocationType=Event, EventBridge and Scheduler targets
# A function past its Timeout: the sync answer Lambda gives ({"errorType": "Sandbox.Timedout",
# "errorMessage": "RequestId: ... Error: Task timed out after 1.00 seconds"}). Step Functions reports a
# Lambda error under its errorType, so Retry/Catch can name this one; its best-practices page still
# says timeouts surface as "Lambda.Unknown" (from before Lambda gave timeouts an errorType), so a
# definition meant to retry timeouts names both.
LAMBDA_TIMEOUT_ERROR = "Sandbox.Timedout"

# -- Step Functions: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
# "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8 encoded
# string". Past it the state fails with States.DataLimitExceeded, which States.ALL does not catch.
SFN_PAYLOAD_BYTES = 256 * KIB
SFN_DATA_LIMIT_ERROR = "States.DataLimitExceeded"

# -- EventBridge: PutEvents entry size (Time 14 bytes + UTF-8 bytes of Source, DetailType, Detail and
# each Resource; https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html),
# raised from 256 KB to 1 MB on 2026-01-29 (AWS Compute Blog, "More room to build"). An entry past it
# is refused in PutEvents' answer (FailedEntryCount) and reaches no rule.
EVENTBRIDGE_ENTRY_BYTES = 1 * MIB

# -- SQS: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
# Message size up to 1 MiB (1,048,576 bytes, raised from 256 KiB in 2025), which is also the
# MaximumMessageSize of a queue that sets none. moto 5.2.5 enforces the queue's attribute itself.
SQS_MESSAGE_BYTES = 1 * MIB

# -- DynamoDB: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
# "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length
# (UTF-8 length) and attribute value lengths". moto 5.2.5 enforces it (ValidationException "Item size
# has exceeded the maximum allowed size"), at a slightly stricter 405,000 bytes on updates.
DYNAMODB_ITEM_BYTES = 400 * KIB


# The largest payload the stack has seen per quota since the process started (what the extremes test
# and the benchmarks report next to the limits).
PEAKS: dict[str, int] = {}
_peaks_lock = threading.Lock()


def note(name: str, size: int) -> None:
    """Remember ``size`` if it is the largest ``name`` payload so far."""
    with _peaks_lock:
        if size > PEAKS.get(name, -1):
            PEAKS[name] = size


def json_bytes(value: Any) -> int:
    """Size of ``value`` as the UTF-8 JSON string the services measure."""
    if isinstance(value, bytes):
        return len(value)
    if not isinstance(value, str):
        value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(value.encode("utf-8", "surrogatepass"))


def eventbridge_entry_bytes(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size by EventBridge's published rule."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        if entry.get(key) is not None:
            size += len(str(entry[key]).encode("utf-8", "surrogatepass"))
    size += sum(len(str(r).encode("utf-8", "surrogatepass")) for r in entry.get("Resources") or [] if r is not None)
    return size
