"""/v1/keys: the org's API keys (a key is shown once, when made)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import api_keys
from shared.api.deps import caller, services
from shared.api.errors import CONFLICT, NOT_FOUND, documented, no_content, ok
from shared.models.keys import ApiKeyCreated, ApiKeyList, CreateKeyRequest

router = APIGatewayHttpRouter()
TAGS = ["API keys"]
KeyId = Annotated[str, Path(description="API key id (key_...).")]
JSON = "application/json"


@router.post(
    "/v1/keys",
    summary="Create an API key",
    description="Makes a key of your org. The key itself is in this response only; it is stored as a SHA-256 "
    "hash. Scopes: `full` (everything) or `read` (GET only). At most 100 live keys per org (409 `too_many_keys`).",
    responses=documented(
        ok("Created; `key` is shown only now.", ApiKeyCreated, 201, location="The key (/v1/keys/{id})."), CONFLICT
    ),
    tags=TAGS,
)
def create_key(body: CreateKeyRequest) -> Response[ApiKeyCreated]:
    created = api_keys.create_key(
        services(), caller().id, name=body.name, scopes=body.scopes, expires_at=body.expires_at
    )
    return Response(status_code=201, body=created, content_type=JSON, headers={"Location": f"/v1/keys/{created.id}"})


@router.get(
    "/v1/keys",
    summary="List API keys",
    description="Every key of your org, revoked ones too, oldest first: prefix, name, scopes, times; never the key.",
    responses=documented(ok("The keys.", ApiKeyList)),
    tags=TAGS,
)
def list_keys() -> ApiKeyList:
    return api_keys.list_keys(services(), caller().id)


@router.delete(
    "/v1/keys/<key_id>",
    summary="Revoke an API key",
    description="Revoked at once: the next request with the key answers 401 `api_key_revoked`. Your org's last "
    "live key cannot be revoked (409 `last_key`): create another first.",
    responses=documented(no_content("Revoked."), NOT_FOUND, CONFLICT),
    tags=TAGS,
)
def revoke_key(key_id: KeyId) -> Response[None]:
    api_keys.revoke_key(services(), caller().id, key_id)
    return Response(status_code=204)
