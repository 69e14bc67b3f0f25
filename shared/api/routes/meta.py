"""Unauthenticated routes: health. (The OpenAPI document's route is the app's own: shared/api/app.py.)"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.api.errors import PUBLIC_ERRORS, ok
from shared.api.route_table import PUBLIC_PATHS as PUBLIC_PATHS
from shared.models.common import Model
from shared.version import VERSION

router = APIGatewayHttpRouter()


class Health(Model):
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
    return Health(version=VERSION)
