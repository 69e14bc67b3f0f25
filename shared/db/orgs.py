"""Orgs and API keys. Keys are stored only as SHA-256 hashes and looked up by hash."""

from __future__ import annotations

from shared.db import keys
from shared.db.dynamo import ConditionalCheckFailed, Table
from shared.errors import Conflict
from shared.models.orgs import ApiKeyRecord, Org


class OrgRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, org: Org) -> None:
        item = {"pk": keys.org_pk(org.id), "sk": keys.ORG_SK, "type": "org", **org.model_dump(mode="json")}
        try:
            self.table.put(item, condition="attribute_not_exists(pk)")
        except ConditionalCheckFailed as exc:
            raise Conflict(f"org {org.id} exists", code="org_exists") from exc

    def get(self, org_id: str) -> Org | None:
        item = self.table.get(keys.org_pk(org_id), keys.ORG_SK)
        return Org.model_validate(item) if item else None

    def put_api_key(self, key_hash: str, record: ApiKeyRecord) -> None:
        item = {
            "pk": keys.apikey_pk(key_hash),
            "sk": keys.APIKEY_SK,
            "type": "apikey",
            **record.model_dump(mode="json"),
        }
        self.table.put(item, condition="attribute_not_exists(pk)")

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        item = self.table.get(keys.apikey_pk(key_hash), keys.APIKEY_SK)
        return ApiKeyRecord.model_validate(item) if item else None
