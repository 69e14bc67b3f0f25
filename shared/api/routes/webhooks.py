"""/v1/webhooks (endpoints and the signing secret), /v1/runs/{id}/deliveries and /v1/sessions/{id}/deliveries."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.api.deps import caller, services
from shared.api.errors import CONFLICT, NOT_FOUND, documented, no_content, ok
from shared.models.webhooks import (
    CreateWebhookRequest,
    DeliveryList,
    RedeliveryAccepted,
    SessionRedeliveryAccepted,
    WebhookEndpoint,
    WebhookEndpointList,
    WebhookSecret,
)
from shared.webhooks import delivery, endpoints, queue, secrets, session_deliveries

router = APIGatewayHttpRouter()
TAGS = ["Webhooks"]
WebhookId = Annotated[str, Path(description="Webhook endpoint id (whk_...).")]
RunId = Annotated[str, Path(description="Run id (run_...).")]
SessionId = Annotated[str, Path(description="Session id (ses_...).")]
SIGNING = (
    "Deliveries follow Standard Webhooks: headers `webhook-id` (the same on every retry), "
    "`webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`)."
)


@router.get(
    "/v1/webhooks/secret",
    summary="Get the webhook signing secret",
    description=f"The org's signing secret, created on first use. {SIGNING}",
    responses=documented(ok("The signing secret.")),
    tags=TAGS,
)
def get_secret() -> WebhookSecret:
    return secrets.get_secret(services(), caller().id)


@router.post(
    "/v1/webhooks/secret/rotate",
    summary="Rotate the webhook signing secret",
    description="Makes a new secret. Until `previous_expires_at` (24 h) deliveries carry two signatures, "
    "new secret first, so receivers can switch over without missing events.",
    responses=documented(ok("The new secret."), CONFLICT),
    tags=TAGS,
)
def rotate_secret() -> WebhookSecret:
    return secrets.rotate_secret(services(), caller().id)


@router.post(
    "/v1/webhooks",
    summary="Create a webhook endpoint",
    description="Subscribes a URL to run events. The URL must be https in production and its host must "
    "resolve only to public addresses (422 `webhook_url_not_allowed`). At most 20 endpoints per org "
    f"(409 `webhook_limit_reached`). {SIGNING}",
    responses=documented(ok("Created.", WebhookEndpoint, 201, location="The endpoint (/v1/webhooks/{id})."), CONFLICT),
    tags=TAGS,
)
def create_webhook(body: CreateWebhookRequest) -> Response[WebhookEndpoint]:
    endpoint = endpoints.create_endpoint(services(), caller().id, body)
    return Response(
        status_code=201,
        body=endpoint,
        content_type="application/json",
        headers={"Location": f"/v1/webhooks/{endpoint.id}"},
    )


@router.get(
    "/v1/webhooks", summary="List webhook endpoints", responses=documented(ok("A page of endpoints.")), tags=TAGS
)
def list_webhooks(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> WebhookEndpointList:
    return endpoints.list_endpoints(services(), caller().id, limit, cursor)


@router.get(
    "/v1/webhooks/<webhook_id>",
    summary="Get a webhook endpoint",
    responses=documented(ok("The endpoint."), NOT_FOUND),
    tags=TAGS,
)
def get_webhook(webhook_id: WebhookId) -> WebhookEndpoint:
    return endpoints.get_endpoint(services(), caller().id, webhook_id)


@router.delete(
    "/v1/webhooks/<webhook_id>",
    summary="Delete a webhook endpoint",
    description="Pending retries to this endpoint stop.",
    responses=documented(no_content("Deleted."), NOT_FOUND),
    tags=TAGS,
)
def delete_webhook(webhook_id: WebhookId) -> Response[None]:
    endpoints.delete_endpoint(services(), caller().id, webhook_id)
    return Response(status_code=204)


@router.get(
    "/v1/runs/<run_id>/deliveries",
    summary="List a run's webhook deliveries",
    description="Every delivery attempt of the run's event to each target, newest first.",
    responses=documented(ok("A page of delivery attempts."), NOT_FOUND),
    tags=TAGS,
)
def list_deliveries(
    run_id: RunId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> DeliveryList:
    return delivery.list_deliveries(services(), caller().id, run_id, limit, cursor)


@router.post(
    "/v1/runs/<run_id>/deliveries/redeliver",
    summary="Redeliver a run's webhook event",
    description="Queues the finished run's event again for all its targets, with the same `webhook-id`. "
    "A run that has not finished answers 409.",
    responses=documented(ok("Queued.", RedeliveryAccepted, 202), NOT_FOUND, CONFLICT),
    tags=TAGS,
)
def redeliver(run_id: RunId) -> Response[RedeliveryAccepted]:
    accepted = queue.redeliver(services(), caller().id, run_id)
    return Response(status_code=202, body=accepted, content_type="application/json")


@router.get(
    "/v1/sessions/<session_id>/deliveries",
    summary="List a session's webhook deliveries",
    description="Every delivery attempt of the session's events (`session.started`, `session.closed`) to each "
    "endpoint that names them, newest first. An attempt's `run_id` is the session's id.",
    responses=documented(ok("A page of delivery attempts."), NOT_FOUND),
    tags=TAGS,
)
def list_session_deliveries(
    session_id: SessionId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> DeliveryList:
    return session_deliveries.list_session_deliveries(services(), caller().id, session_id, limit, cursor)


@router.post(
    "/v1/sessions/<session_id>/deliveries/redeliver",
    summary="Redeliver a session's webhook event",
    description="Queues the session's latest event again (`session.closed` once it is closed, else "
    "`session.started`) for all the endpoints that name it, with the same `webhook-id`. A session that has "
    "not been ready yet answers 409.",
    responses=documented(ok("Queued.", SessionRedeliveryAccepted, 202), NOT_FOUND, CONFLICT),
    tags=TAGS,
)
def redeliver_session(session_id: SessionId) -> Response[SessionRedeliveryAccepted]:
    accepted = session_deliveries.redeliver_session(services(), caller().id, session_id)
    return Response(status_code=202, body=accepted, content_type="application/json")
