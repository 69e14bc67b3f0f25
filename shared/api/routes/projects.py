"""/v1/projects."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import projects
from shared.api.deps import caller, services
from shared.api.errors import NOT_FOUND, documented, ok
from shared.models.projects import CreateProjectRequest, Project, ProjectList

router = APIGatewayHttpRouter()


@router.post(
    "/v1/projects",
    summary="Create a project",
    responses=documented(ok("Created.", Project, 201, location="The project (/v1/projects/{id}).")),
    tags=["Projects"],
)
def create_project(body: CreateProjectRequest) -> Response[Project]:
    project = projects.create_project(services(), caller().id, body)
    return Response(
        status_code=201,
        body=project,
        content_type="application/json",
        headers={"Location": f"/v1/projects/{project.id}"},
    )


@router.get("/v1/projects", summary="List projects", responses=documented(ok("A page of projects.")), tags=["Projects"])
def list_projects(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> ProjectList:
    return projects.list_projects(services(), caller().id, limit, cursor)


@router.get(
    "/v1/projects/<project_id>",
    summary="Get a project",
    responses=documented(ok("The project."), NOT_FOUND),
    tags=["Projects"],
)
def get_project(project_id: Annotated[str, Path()]) -> Project:
    return projects.get_project(services(), caller().id, project_id)
