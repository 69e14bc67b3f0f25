"""/v1/profiles: browser profiles (Playwright storage_state) that runs load and persist."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import profiles
from shared.api.deps import caller, services
from shared.api.errors import CONFLICT, NOT_FOUND, documented, no_content, ok
from shared.models.profiles import CreateProfileRequest, Profile, ProfileDownload, ProfileList, StorageState

router = APIGatewayHttpRouter()
ProfileId = Annotated[str, Path(description="Profile id (prof_...).")]


@router.post(
    "/v1/profiles",
    summary="Create a profile",
    description="An empty browser profile; a run with `profile_id` and `persist_profile` fills it, or upload one.",
    responses=documented(ok("Created.", Profile, 201, location="The profile (/v1/profiles/{id}).")),
    tags=["Profiles"],
)
def create_profile(body: CreateProfileRequest) -> Response[Profile]:
    profile = profiles.create_profile(services(), caller().id, body)
    return Response(
        status_code=201,
        body=profile,
        content_type="application/json",
        headers={"Location": f"/v1/profiles/{profile.id}"},
    )


@router.get("/v1/profiles", summary="List profiles", responses=documented(ok("A page of profiles.")), tags=["Profiles"])
def list_profiles(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> ProfileList:
    return profiles.list_profiles(services(), caller().id, limit, cursor)


@router.get(
    "/v1/profiles/<profile_id>",
    summary="Get a profile",
    responses=documented(ok("The profile: cookie domains, size, times, the run writing it."), NOT_FOUND),
    tags=["Profiles"],
)
def get_profile(profile_id: ProfileId) -> Profile:
    return profiles.get_profile(services(), caller().id, profile_id)


@router.delete(
    "/v1/profiles/<profile_id>",
    summary="Delete a profile",
    description="409 `profile_in_use` while a run holds its write lease.",
    responses=documented(no_content("Deleted."), NOT_FOUND, CONFLICT),
    tags=["Profiles"],
)
def delete_profile(profile_id: ProfileId) -> Response[None]:
    profiles.delete_profile(services(), caller().id, profile_id)
    return Response(status_code=204)


@router.get(
    "/v1/profiles/<profile_id>/download",
    summary="Download a profile",
    description="A presigned GET URL (5 minutes) of its Playwright storage_state JSON; 409 `profile_empty` before "
    "it has any state.",
    responses=documented(ok("The link."), NOT_FOUND, CONFLICT),
    tags=["Profiles"],
)
def download_profile(profile_id: ProfileId) -> ProfileDownload:
    return profiles.download_link(services(), caller().id, profile_id)


@router.post(
    "/v1/profiles/<profile_id>/upload",
    summary="Upload a profile",
    description="Replace its state with a Playwright storage_state (`{cookies, origins}`, validated; the request "
    "body limit applies). 409 `profile_in_use` while a run holds its write lease.",
    responses=documented(ok("The profile.", Profile), NOT_FOUND, CONFLICT),
    tags=["Profiles"],
)
def upload_profile(profile_id: ProfileId, body: StorageState) -> Profile:
    return profiles.upload_state(services(), caller().id, profile_id, body.model_dump_json().encode())
