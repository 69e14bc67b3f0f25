"""Jobs (named task templates), under their org's partition."""

from __future__ import annotations

from shared.db import keys
from shared.db.dynamo import (
    ConditionalCheckFailed,
    Table,
    decode_cursor,
    encode_cursor,
    pack_json,
    unpack_json,
)
from shared.errors import Conflict
from shared.models.jobs import Job

_JSON_FIELDS = ("output_schema", "default_inputs", "tools")


def _to_item(org_id: str, job: Job) -> dict:
    item = {
        "pk": keys.org_pk(org_id),
        "sk": keys.job_sk(job.id),
        "type": "job",
        **job.model_dump(mode="json"),
    }
    return pack_json(item, _JSON_FIELDS)


def _from_item(item: dict) -> Job:
    return Job.model_validate(unpack_json(item, _JSON_FIELDS))


class JobRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, org_id: str, job: Job) -> None:
        self.table.put(_to_item(org_id, job), condition="attribute_not_exists(pk)")

    def replace(self, org_id: str, job: Job, expected_updated_at: str) -> None:
        """Write a changed job, only if nobody changed or deleted it since it was read."""
        try:
            self.table.put(
                _to_item(org_id, job),
                condition="attribute_exists(pk) AND updated_at = :u",
                values={":u": expected_updated_at},
            )
        except ConditionalCheckFailed as exc:
            raise Conflict(
                f"job {job.id} changed or was deleted meanwhile; read it again", code="job_conflict"
            ) from exc

    def get(self, org_id: str, job_id: str) -> Job | None:
        item = self.table.get(keys.org_pk(org_id), keys.job_sk(job_id), consistent=True)
        return _from_item(item) if item else None

    def delete(self, org_id: str, job_id: str) -> bool:
        try:
            self.table.delete(keys.org_pk(org_id), keys.job_sk(job_id), condition="attribute_exists(pk)")
        except ConditionalCheckFailed:
            return False
        return True

    def list(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
        pk = keys.org_pk(org_id)
        items, last = self.table.query_page(
            key_condition="pk = :pk AND begins_with(sk, :p)",
            values={":pk": pk, ":p": "job#"},
            limit=limit,
            start_key=decode_cursor(cursor, {"pk": pk}) if cursor else None,
        )
        return [_from_item(i) for i in items], encode_cursor(last) if last else None
