"""Projects, under their org's partition."""

from __future__ import annotations

from shared.db import keys
from shared.db.dynamo import Table, decode_cursor, encode_cursor
from shared.models.projects import Project


class ProjectRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, org_id: str, project: Project) -> None:
        item = {
            "pk": keys.org_pk(org_id),
            "sk": keys.project_sk(project.id),
            "type": "project",
            **project.model_dump(mode="json"),
        }
        self.table.put(item, condition="attribute_not_exists(pk)")

    def get(self, org_id: str, project_id: str) -> Project | None:
        item = self.table.get(keys.org_pk(org_id), keys.project_sk(project_id))
        return Project.model_validate(item) if item else None

    def list(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[Project], str | None]:
        pk = keys.org_pk(org_id)
        items, last = self.table.query_page(
            key_condition="pk = :pk AND begins_with(sk, :p)",
            values={":pk": pk, ":p": "project#"},
            limit=limit,
            start_key=decode_cursor(cursor, {"pk": pk}) if cursor else None,
        )
        return [Project.model_validate(i) for i in items], encode_cursor(last) if last else None
