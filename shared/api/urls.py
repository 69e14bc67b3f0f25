"""Absolute URLs for responses (poll_url, Location)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from shared.models.runs import Run, RunAccepted
from shared.services import Services


def base_url(router: Any, svc: Services) -> str:
    if svc.settings.public_url:
        return svc.settings.public_url.rstrip("/")
    event = router.current_event
    host = event.headers.get("host") or event.request_context.domain_name
    proto = event.headers.get("x-forwarded-proto", "https")
    return f"{proto}://{host}"


def accepted(router: Any, svc: Services, run: Run, replayed: bool = False) -> Response[RunAccepted]:
    path = f"/v1/runs/{run.id}"
    body = RunAccepted(task_id=run.id, poll_url=base_url(router, svc) + path, status=run.status)
    headers = {"Location": path}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(status_code=202, body=body, content_type="application/json", headers=headers)
