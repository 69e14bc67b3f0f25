"""Browser profiles' metadata and write lease, under their org's partition (the state is in S3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.db import keys
from shared.db.dynamo import ConditionalCheckFailed, Table, decode_cursor, encode_cursor


class ProfileRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, org_id: str, item: Mapping[str, Any]) -> None:
        record = {"pk": keys.org_pk(org_id), "sk": keys.profile_sk(item["id"]), "type": "profile", **item}
        self.table.put(record, condition="attribute_not_exists(pk)")

    def get(self, org_id: str, profile_id: str) -> dict[str, Any] | None:
        return self.table.get(keys.org_pk(org_id), keys.profile_sk(profile_id), consistent=True)

    def list(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        pk = keys.org_pk(org_id)
        items, last = self.table.query_page(
            key_condition="pk = :pk AND begins_with(sk, :p)",
            values={":pk": pk, ":p": "profile#"},
            limit=limit,
            start_key=decode_cursor(cursor, {"pk": pk}) if cursor else None,
        )
        return items, encode_cursor(last) if last else None

    def delete(self, org_id: str, profile_id: str) -> bool:
        try:
            self.table.delete(keys.org_pk(org_id), keys.profile_sk(profile_id), condition="attribute_exists(pk)")
        except ConditionalCheckFailed:
            return False
        return True

    def acquire(self, org_id: str, profile_id: str, holder: str, now_s: int, until_s: int) -> bool:
        """Take the single-writer lease for ``holder`` (a run id) until ``until_s``: a conditional
        write that succeeds when nobody holds it, or the holder's lease ran out. False otherwise."""
        try:
            self.table.update(
                keys.org_pk(org_id),
                keys.profile_sk(profile_id),
                update="SET lease_holder = :h, lease_until = :u",
                condition="attribute_exists(pk) AND (attribute_not_exists(lease_holder) OR lease_until < :now"
                " OR lease_holder = :h)",
                values={":h": holder, ":u": until_s, ":now": now_s},
            )
        except ConditionalCheckFailed:
            return False
        return True

    def release(self, org_id: str, profile_id: str, holder: str) -> bool:
        try:
            self.table.update(
                keys.org_pk(org_id),
                keys.profile_sk(profile_id),
                update="REMOVE lease_holder, lease_until",
                condition="lease_holder = :h",
                values={":h": holder},
            )
        except ConditionalCheckFailed:
            return False
        return True

    def saved(self, org_id: str, profile_id: str, fields: Mapping[str, Any], *, holder: str | None = None) -> bool:
        """Record a saved state (size, cookie domains, updated_at); with ``holder``, only while that
        run holds the lease (which the same write releases). False when the condition fails."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values())}
        update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        condition = "attribute_exists(pk)"
        if holder is not None:
            update += " REMOVE lease_holder, lease_until"
            condition += " AND lease_holder = :h"
            values[":h"] = holder
        try:
            self.table.update(
                keys.org_pk(org_id),
                keys.profile_sk(profile_id),
                update=update,
                condition=condition,
                names=names,
                values=values,
            )
        except ConditionalCheckFailed:
            return False
        return True
