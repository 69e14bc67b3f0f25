"""Unauthenticated routes: health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from shared.api.errors import PUBLIC_ERRORS, ok

router = APIGatewayHttpRouter()
PUBLIC_PATHS = frozenset({"/v1/health", "/openapi.json", "/docs"})


class Health(BaseModel):
    status: str = "ok"
    version: str


@router.get(
    "/v1/health",
    summary="Liveness",
    tags=["Meta"],
    security=[],
    responses={**ok("Alive."), **PUBLIC_ERRORS},
)
def health() -> Health:
    from shared.version import VERSION

    return Health(version=VERSION)


@router.get("/openapi.json", summary="This OpenAPI document", tags=["Meta"], include_in_schema=False)
def openapi_document() -> Response[Any]:
    from shared.api.openapi import openapi_json

    return Response(status_code=200, content_type="application/json", body=openapi_json())
