"""Webhooks: Standard Webhooks signing, per-org secrets with rotation, endpoints, an SSRF-safe
transport, delivery with per-target state and a delivery log, and the SQS retry loop.

Modules: ``signing`` (headers), ``secrets`` (the org's secret), ``endpoints`` (subscriptions),
``ssrf`` (URL and address policy), ``transport`` (one POST to a checked address), ``retry``
(backoff), ``delivery`` (fan-out to targets), ``queue`` (enqueue, SQS record processing, redeliver).
"""
