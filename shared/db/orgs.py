"""Orgs and API keys. Keys are stored only as SHA-256 hashes and looked up by hash.

A key item (apikey#{hash}) is also listed under its org through gsi1 (org#{org}#keys, key#{id}).
The org's count of live keys (org#{org}, keycount) moves in the same transaction as a key is made
or revoked, so two concurrent revocations can never take an org's last key.
"""

from __future__ import annotations

import contextlib
from typing import Any

from shared.db import keys
from shared.db.dynamo import ConditionalCheckFailed, Table, deserialize, serialize
from shared.errors import Conflict
from shared.models.orgs import ApiKeyRecord, Org, OrgLimits


class LastKey(Exception):
    """Revoking this key would leave the org with no live key."""


class TooManyKeys(Exception):
    """The org has as many live keys as it may."""


class OrgRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- orgs ------------------------------------------------------------------------------------

    def create(self, org: Org) -> None:
        item = {"pk": keys.org_pk(org.id), "sk": keys.ORG_SK, "type": "org", **org.model_dump(mode="json")}
        try:
            self.table.put(item, condition="attribute_not_exists(pk)")
        except ConditionalCheckFailed as exc:
            raise Conflict(f"org {org.id} exists", code="org_exists") from exc

    def get(self, org_id: str) -> Org | None:
        item = self.table.get(keys.org_pk(org_id), keys.ORG_SK)
        return Org.model_validate(item) if item else None

    def set_limits(self, org_id: str, limits: OrgLimits) -> Org:
        item = self.table.update(
            keys.org_pk(org_id),
            keys.ORG_SK,
            update="SET limits = :l",
            condition="attribute_exists(pk)",
            values={":l": limits.model_dump(mode="json")},
        )
        return Org.model_validate(item)

    def list_all(self, limit: int = 1000) -> list[Org]:
        """Every org (operators only: a scan of the table, filtered on the item type)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table.name,
            "FilterExpression": "#t = :org AND sk = :sk",
            "ExpressionAttributeNames": {"#t": "type"},
            "ExpressionAttributeValues": serialize({":org": "org", ":sk": keys.ORG_SK}),
        }
        out: list[Org] = []
        while len(out) < limit:
            page = self.table._call("scan", **kwargs)
            out.extend(Org.model_validate(deserialize(i)) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(out[:limit], key=lambda o: o.created_at)

    # -- keys ------------------------------------------------------------------------------------

    def _key_item(self, key_hash: str, record: ApiKeyRecord) -> dict[str, Any]:
        return {
            "pk": keys.apikey_pk(key_hash),
            "sk": keys.APIKEY_SK,
            "type": "apikey",
            "gsi1pk": keys.org_keys_pk(record.org_id),
            "gsi1sk": keys.org_key_sk(record.key_id),
            **record.model_dump(mode="json"),
        }

    def put_api_key(self, key_hash: str, record: ApiKeyRecord, max_live: int = 100) -> None:
        """Store a new key and count it among the org's live keys (TooManyKeys past ``max_live``)."""
        put = {
            "TableName": self.table.name,
            "Item": serialize(self._key_item(key_hash, record)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        count = self.table.update_request(
            keys.org_pk(record.org_id),
            keys.KEYCOUNT_SK,
            update="ADD active :one SET #t = :type",
            condition="attribute_not_exists(active) OR active < :max",
            names={"#t": "type"},
            values={":one": 1, ":max": max_live, ":type": "keycount"},
        )
        try:
            self.table.transact_write([("Put", put), ("Update", count)])
        except ConditionalCheckFailed as exc:
            if [*exc.reasons, "None", "None"][1] == "ConditionalCheckFailed":
                raise TooManyKeys() from exc
            raise

    def get_api_key(self, key_hash: str, consistent: bool = False) -> ApiKeyRecord | None:
        item = self.table.get(keys.apikey_pk(key_hash), keys.APIKEY_SK, consistent=consistent)
        return ApiKeyRecord.model_validate(item) if item else None

    def list_api_keys(self, org_id: str) -> list[tuple[str, ApiKeyRecord]]:
        """(key hash, record) of every key of the org, revoked ones too, oldest first."""
        items, _ = self.table.query_page(
            key_condition="gsi1pk = :pk",
            values={":pk": keys.org_keys_pk(org_id)},
            index="gsi1",
            limit=1000,
            newest_first=False,
        )
        return [(i["pk"].removeprefix("apikey#"), ApiKeyRecord.model_validate(i)) for i in items]

    def key_count(self, org_id: str) -> int | None:
        item = self.table.get(keys.org_pk(org_id), keys.KEYCOUNT_SK, consistent=True)
        return int(item["active"]) if item and "active" in item else None

    def init_key_count(self, org_id: str, live: int) -> None:
        """Start counting an org's live keys (orgs made before keys were counted); a no-op if counted."""
        with contextlib.suppress(ConditionalCheckFailed):
            self.table.update(
                keys.org_pk(org_id),
                keys.KEYCOUNT_SK,
                update="SET active = :n, #t = :type",
                condition="attribute_not_exists(active)",
                names={"#t": "type"},
                values={":n": live, ":type": "keycount"},
            )

    def revoke_api_key(self, key_hash: str, org_id: str, now_iso: str, *, force: bool) -> None:
        """Revoke the key and count it out of the org's live keys, atomically. Unless ``force``, at
        least one live key must remain (LastKey). ConditionalCheckFailed when already revoked."""
        revoke = self.table.update_request(
            keys.apikey_pk(key_hash),
            keys.APIKEY_SK,
            update="SET revoked = :t, revoked_at = :now",
            condition="attribute_exists(pk) AND revoked = :f AND org_id = :org",
            values={":t": True, ":f": False, ":now": now_iso, ":org": org_id},
        )
        count = self.table.update_request(
            keys.org_pk(org_id),
            keys.KEYCOUNT_SK,
            update="ADD active :minus",
            condition=None if force else "active > :one",
            values={":minus": -1} if force else {":minus": -1, ":one": 1},
        )
        try:
            self.table.transact_write([("Update", revoke), ("Update", count)])
        except ConditionalCheckFailed as exc:
            reasons = [*exc.reasons, "None", "None"]
            if reasons[0] != "ConditionalCheckFailed" and reasons[1] == "ConditionalCheckFailed":
                raise LastKey() from exc
            raise

    def touch_api_key(self, key_hash: str, now_iso: str, older_than_iso: str) -> None:
        """Record a use of the key, at most once per interval (a conditional write, lost races ignored)."""
        with contextlib.suppress(ConditionalCheckFailed):
            self.table.update(
                keys.apikey_pk(key_hash),
                keys.APIKEY_SK,
                update="SET last_used_at = :now",
                condition="attribute_exists(pk) AND (attribute_not_exists(last_used_at) "
                "OR attribute_type(last_used_at, :null) OR last_used_at < :old)",
                values={":now": now_iso, ":old": older_than_iso, ":null": "NULL"},
            )
