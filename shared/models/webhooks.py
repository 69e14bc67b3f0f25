"""Webhook models: endpoints (subscriptions), the signing secret and the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, HttpUrl, UrlConstraints

from shared.models.common import ApiModel, Model, url_without_controls

EventType = Literal[
    "run.succeeded",
    "run.failed",
    "run.cancelled",
    "run.needs_input",
    "run.tool_call",
    "session.started",
    "session.closed",
]
EVENT_TYPES: tuple[str, ...] = (
    "run.succeeded",
    "run.failed",
    "run.cancelled",
    "run.needs_input",
    "run.tool_call",
    "session.started",
    "session.closed",
)
# A session's events (data: the session envelope): to the org's endpoints that name them.
SESSION_EVENT_TYPES: tuple[str, ...] = ("session.started", "session.closed")
# What an endpoint receives when it names none (run.needs_input is asked for by name).
DEFAULT_EVENT_TYPES: tuple[str, ...] = ("run.succeeded", "run.failed", "run.cancelled")
MAX_URL_LENGTH = 2048


class CreateWebhookRequest(ApiModel):
    url: Annotated[HttpUrl, UrlConstraints(max_length=MAX_URL_LENGTH), BeforeValidator(url_without_controls)] = Field(
        description="Where events are POSTed. https in production; the host must resolve only to public "
        "addresses; no credentials in the URL; port 80, 443 or 1024 and above."
    )
    event_types: list[EventType] | None = Field(
        None,
        min_length=1,
        description="Events to receive; default all of run.succeeded, run.failed, run.cancelled. "
        "session.started and session.closed (data: the session) are sent only to endpoints that name them.",
    )
    description: str | None = Field(None, max_length=500, description="Free text for your own reference.")


class WebhookEndpoint(Model):
    """A subscription: the org's events of these types are delivered to this URL."""

    id: str = Field(description="Endpoint id (whk_...).")
    object: str = "webhook_endpoint"
    url: str
    event_types: list[EventType]
    description: str | None = None
    created_at: datetime


class WebhookEndpointList(Model):
    object: str = "list"
    data: list[WebhookEndpoint]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null at the end.")


class WebhookSecret(Model):
    """The org's signing secret (Standard Webhooks, `whsec_` + base64)."""

    object: str = "webhook_secret"
    secret: str = Field(description="Verify `webhook-signature` with this secret (`whsec_...`).")
    previous_expires_at: datetime | None = Field(
        None,
        description="After a rotation, deliveries also carry a signature made with the previous secret "
        "until this time. Null when there is no previous secret in use.",
    )


class DeliveryAttempt(Model):
    """One attempt to deliver a run's event to one target, or the final `exhausted` record."""

    id: str = Field(description="Attempt id (dlv_...).")
    object: str = "webhook_delivery"
    run_id: str
    event_type: EventType
    webhook_id: str = Field(description="The `webhook-id` header: the same on every retry and redelivery.")
    target: str = Field(description="`run` (the run's own webhook_url) or the endpoint id (whk_...).")
    url: str
    attempt: int = Field(description="Attempt number for this target, from 1.")
    outcome: Literal["delivered", "failed", "exhausted"] = Field(
        description="`delivered`: answered 2xx; `failed`: will be retried; `exhausted`: no attempts left."
    )
    status_code: int | None = Field(None, description="The receiver's HTTP status; null when none was received.")
    error: str | None = Field(None, description="Why the attempt failed (timeout, refused address, 3xx, ...).")
    duration_ms: int | None = None
    response_excerpt: str | None = Field(None, description="At most the first 256 bytes of the response body.")
    redelivery: bool = Field(False, description="True for attempts requested with the redeliver endpoint.")
    created_at: datetime


class DeliveryList(Model):
    object: str = "list"
    data: list[DeliveryAttempt] = Field(description="Newest first.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null at the end.")


class SessionRedeliveryAccepted(Model):
    object: str = "redelivery"
    session_id: str
    event_type: Literal["session.started", "session.closed"]
    webhook_id: str = Field(description="The same `webhook-id` as the first delivery, so receivers deduplicate.")
    status: Literal["queued"] = "queued"


class RedeliveryAccepted(Model):
    object: str = "redelivery"
    run_id: str
    event_type: EventType
    webhook_id: str = Field(description="The same `webhook-id` as the first delivery, so receivers deduplicate.")
    status: Literal["queued"] = "queued"
