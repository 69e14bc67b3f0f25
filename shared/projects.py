"""Projects: groupings of runs. Every org has a default 'API Runs' project."""

from __future__ import annotations

from shared.errors import NotFound
from shared.models.projects import CreateProjectRequest, Project, ProjectList
from shared.services import Services

DEFAULT_PROJECT_NAME = "API Runs"


def create_project(svc: Services, org_id: str, req: CreateProjectRequest, is_default: bool = False) -> Project:
    project = Project(
        id=svc.ids.new("prj"),
        name=req.name,
        description=req.description,
        metadata=req.metadata or {},
        is_default=is_default,
        created_at=svc.clock.now(),
    )
    svc.projects.put(org_id, project)
    return project


def get_project(svc: Services, org_id: str, project_id: str) -> Project:
    project = svc.projects.get(org_id, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}", code="project_not_found")
    return project


def list_projects(svc: Services, org_id: str, limit: int, cursor: str | None) -> ProjectList:
    items, next_cursor = svc.projects.list(org_id, limit, cursor)
    return ProjectList(data=items, next_cursor=next_cursor)
