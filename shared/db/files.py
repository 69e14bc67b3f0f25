"""Uploaded files' metadata, under their org's partition (the bytes are in the files bucket)."""

from __future__ import annotations

from typing import Any

from shared.db import keys
from shared.db.dynamo import ConditionalCheckFailed, Table, decode_cursor, encode_cursor, serialize
from shared.models.files import FileObject


class FileQuotaReached(Exception):
    """The org holds its maximum number of files."""


class FileRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, org_id: str, file: FileObject, object_key: str, max_files: int) -> None:
        """Put the file and count it, in one transaction; FileQuotaReached at ``max_files``."""
        pk = keys.org_pk(org_id)
        item = {
            "pk": pk,
            "sk": keys.file_sk(file.id),
            "type": "file",
            "object_key": object_key,
            **file.model_dump(mode="json", exclude={"download_url"}),
        }
        count = self.table.update_request(
            pk,
            keys.FILE_COUNT_SK,
            update="SET n = if_not_exists(n, :zero) + :one",
            condition="attribute_not_exists(n) OR n < :max",
            values={":zero": 0, ":one": 1, ":max": max_files},
        )
        put = {"TableName": self.table.name, "Item": serialize(item), "ConditionExpression": "attribute_not_exists(pk)"}
        try:
            self.table.transact_write([("Update", count), ("Put", put)])
        except ConditionalCheckFailed as exc:
            if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                raise FileQuotaReached() from exc
            raise

    def get(self, org_id: str, file_id: str) -> dict[str, Any] | None:
        return self.table.get(keys.org_pk(org_id), keys.file_sk(file_id), consistent=True)

    def mark_ready(self, org_id: str, file_id: str) -> None:
        self.table.update(
            keys.org_pk(org_id),
            keys.file_sk(file_id),
            update="SET #s = :ready",
            condition="attribute_exists(pk)",
            names={"#s": "status"},
            values={":ready": "ready"},
        )

    def delete(self, org_id: str, file_id: str) -> bool:
        """Delete and uncount the file in one transaction; False if it did not exist."""
        pk = keys.org_pk(org_id)
        delete = self.table.delete_request(pk, keys.file_sk(file_id), condition="attribute_exists(pk)")
        uncount = self.table.update_request(
            pk, keys.FILE_COUNT_SK, update="SET n = n - :one", condition="n > :zero", values={":one": 1, ":zero": 0}
        )
        try:
            self.table.transact_write([("Delete", delete), ("Update", uncount)])
        except ConditionalCheckFailed:
            return False
        return True

    def list(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        pk = keys.org_pk(org_id)
        items, last = self.table.query_page(
            key_condition="pk = :pk AND begins_with(sk, :p)",
            values={":pk": pk, ":p": "file#"},
            limit=limit,
            start_key=decode_cursor(cursor, {"pk": pk}) if cursor else None,
            newest_first=True,
        )
        return items, encode_cursor(last) if last else None
