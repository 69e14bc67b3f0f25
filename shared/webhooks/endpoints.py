"""Webhook endpoints: an org's subscriptions to run events (at most MAX_ENDPOINTS per org)."""

from __future__ import annotations

from shared.db.webhooks import EndpointLimitReached
from shared.errors import Conflict, NotFound
from shared.ids import is_id
from shared.models.webhooks import (
    DEFAULT_EVENT_TYPES,
    EVENT_TYPES,
    CreateWebhookRequest,
    WebhookEndpoint,
    WebhookEndpointList,
)
from shared.services import Services
from shared.webhooks.ssrf import Resolver, UrlPolicy, check_url

MAX_ENDPOINTS = 20


def create_endpoint(
    svc: Services, org_id: str, req: CreateWebhookRequest, resolver: Resolver | None = None
) -> WebhookEndpoint:
    url = str(req.url)
    check_url(url, UrlPolicy.from_settings(svc.settings), resolver=resolver)
    wanted = set(req.event_types or DEFAULT_EVENT_TYPES)
    endpoint = WebhookEndpoint(
        id=svc.ids.new("whk"),
        url=url,
        event_types=[e for e in EVENT_TYPES if e in wanted],  # type: ignore[misc]
        description=req.description,
        created_at=svc.clock.now(),
    )
    try:
        svc.webhooks.create_endpoint(org_id, endpoint, MAX_ENDPOINTS)
    except EndpointLimitReached as exc:
        raise Conflict(
            f"an org may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first",
            code="webhook_limit_reached",
            details={"limit": MAX_ENDPOINTS},
        ) from exc
    return endpoint


def get_endpoint(svc: Services, org_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = svc.webhooks.get_endpoint(org_id, endpoint_id) if is_id(endpoint_id, "whk") else None
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}", code="webhook_not_found")
    return endpoint


def list_endpoints(svc: Services, org_id: str, limit: int, cursor: str | None) -> WebhookEndpointList:
    items, next_cursor = svc.webhooks.list_endpoints(org_id, limit, cursor)
    return WebhookEndpointList(data=items, next_cursor=next_cursor)


def delete_endpoint(svc: Services, org_id: str, endpoint_id: str) -> None:
    if not is_id(endpoint_id, "whk") or not svc.webhooks.delete_endpoint(org_id, endpoint_id):
        raise NotFound(f"no webhook endpoint {endpoint_id}", code="webhook_not_found")


def subscribed(svc: Services, org_id: str, event_type: str) -> list[WebhookEndpoint]:
    return [e for e in svc.webhooks.all_endpoints(org_id) if event_type in e.event_types]
