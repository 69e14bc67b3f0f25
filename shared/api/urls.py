"""Absolute URLs for responses (poll_url, Location)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared.api import deps
from shared.db.ratelimit import RateDecision
from shared.models.runs import Run, RunAccepted
from shared.ratelimit import decision_headers
from shared.services import Services


def base_url(svc: Services) -> str:
    """The API's own base URL: the configured one, else the domain API Gateway received the request
    on (``requestContext.domainName`` is set by API Gateway; the Host header is the client's word)."""
    if svc.settings.public_url:
        return svc.settings.public_url.rstrip("/")
    return f"https://{deps.event()['requestContext']['domainName']}"


def accepted(
    svc: Services, run: Run, replayed: bool = False, rate: RateDecision | None = None
) -> Response[RunAccepted]:
    path = f"/v1/runs/{run.id}"
    body = RunAccepted(task_id=run.id, poll_url=base_url(svc) + path, status=run.status)
    headers = {"Location": path, **(decision_headers(rate) if rate else {})}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(status_code=202, body=body, content_type="application/json", headers=headers)
