"""Webhook items under the org's partition: the signing secret, endpoints with their counter,
per-(run, event) delivery state and the delivery log (see docs/data-model.md)."""

from __future__ import annotations

from typing import Any

from shared.db import keys
from shared.db.dynamo import ConditionalCheckFailed, Table, decode_cursor, encode_cursor, serialize
from shared.errors import BadRequest
from shared.models.webhooks import DeliveryAttempt, WebhookEndpoint


class EndpointLimitReached(Exception):
    """The org already has the maximum number of endpoints."""


class WebhookRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- signing secret

    def get_secret(self, org_id: str) -> dict[str, Any] | None:
        return self.table.get(keys.org_pk(org_id), keys.WEBHOOK_SECRET_SK, consistent=True)

    def create_secret(self, org_id: str, secret: str, created_at: str) -> None:
        """Put the first secret; ConditionalCheckFailed if one exists (another creator won)."""
        item = {
            "pk": keys.org_pk(org_id),
            "sk": keys.WEBHOOK_SECRET_SK,
            "type": "webhooksecret",
            "current": secret,
            "version": 1,
            "created_at": created_at,
        }
        self.table.put(item, condition="attribute_not_exists(pk)")

    def rotate_secret(
        self, org_id: str, *, expected_version: int, new: str, previous: str, previous_expires_at: str, now: str
    ) -> dict[str, Any]:
        """Replace the current secret if nobody rotated since ``expected_version`` was read;
        ConditionalCheckFailed otherwise."""
        return self.table.update(
            keys.org_pk(org_id),
            keys.WEBHOOK_SECRET_SK,
            update="SET #current = :new, previous = :prev, previous_expires_at = :exp, rotated_at = :now, "
            "version = version + :one",
            condition="version = :v",
            names={"#current": "current"},
            values={":new": new, ":prev": previous, ":exp": previous_expires_at, ":now": now, ":one": 1,
                    ":v": expected_version},
        )  # fmt: skip

    # -- endpoints

    def create_endpoint(self, org_id: str, endpoint: WebhookEndpoint, max_count: int) -> None:
        """Put the endpoint and count it, in one transaction; EndpointLimitReached at ``max_count``."""
        pk = keys.org_pk(org_id)
        item = {"pk": pk, "sk": keys.webhook_sk(endpoint.id), "type": "webhook", **endpoint.model_dump(mode="json")}
        count = self.table.update_request(
            pk,
            keys.WEBHOOK_COUNT_SK,
            update="SET n = if_not_exists(n, :zero) + :one",
            condition="attribute_not_exists(n) OR n < :max",
            values={":zero": 0, ":one": 1, ":max": max_count},
        )
        put = {"TableName": self.table.name, "Item": serialize(item), "ConditionExpression": "attribute_not_exists(pk)"}
        try:
            self.table.transact_write([("Update", count), ("Put", put)])
        except ConditionalCheckFailed as exc:
            if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                raise EndpointLimitReached() from exc
            raise

    def get_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        item = self.table.get(keys.org_pk(org_id), keys.webhook_sk(endpoint_id))
        return WebhookEndpoint.model_validate(item) if item else None

    def list_endpoints(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[WebhookEndpoint], str | None]:
        pk = keys.org_pk(org_id)
        items, last = self.table.query_page(
            key_condition="pk = :pk AND begins_with(sk, :p)",
            values={":pk": pk, ":p": "webhook#"},
            limit=limit,
            start_key=decode_cursor(cursor, {"pk": pk}) if cursor else None,
        )
        return [WebhookEndpoint.model_validate(i) for i in items], encode_cursor(last) if last else None

    def all_endpoints(self, org_id: str) -> list[WebhookEndpoint]:
        out: list[WebhookEndpoint] = []
        cursor = None
        while True:
            page, cursor = self.list_endpoints(org_id, 100, cursor)
            out.extend(page)
            if cursor is None:
                return out

    def delete_endpoint(self, org_id: str, endpoint_id: str) -> bool:
        """Delete and uncount the endpoint in one transaction; False if it did not exist."""
        pk = keys.org_pk(org_id)
        delete = self.table.delete_request(pk, keys.webhook_sk(endpoint_id), condition="attribute_exists(pk)")
        uncount = self.table.update_request(
            pk, keys.WEBHOOK_COUNT_SK, update="SET n = n - :one", condition="n > :zero", values={":one": 1, ":zero": 0}
        )
        try:
            self.table.transact_write([("Delete", delete), ("Update", uncount)])
        except ConditionalCheckFailed:
            return False
        return True

    # -- delivery state: one item per (run, event type)

    def start_delivery(
        self, org_id: str, run_id: str, event_type: str, *, webhook_id: str, now: str, expires_at: int
    ) -> dict[str, Any]:
        """The delivery state, created on first use (the event time is fixed then)."""
        return self.table.update(
            keys.org_pk(org_id),
            keys.delivery_state_sk(run_id, event_type),
            update="SET #type = :type, run_id = :run, event_type = :event, webhook_id = :wid, "
            "event_time = if_not_exists(event_time, :now), targets = if_not_exists(targets, :empty), "
            "expires_at = :exp",
            names={"#type": "type"},
            values={":type": "dlvstate", ":run": run_id, ":event": event_type, ":wid": webhook_id, ":now": now,
                    ":empty": {}, ":exp": expires_at},
        )  # fmt: skip

    def record_target(self, org_id: str, run_id: str, event_type: str, target: str, state: dict[str, Any]) -> None:
        self.table.update(
            keys.org_pk(org_id),
            keys.delivery_state_sk(run_id, event_type),
            update="SET targets.#t = :s",
            names={"#t": target},
            values={":s": state},
        )

    def finish_delivery(self, org_id: str, run_id: str, event_type: str, final: str, now: str) -> None:
        self.table.update(
            keys.org_pk(org_id),
            keys.delivery_state_sk(run_id, event_type),
            update="SET #final = :f, finished_at = :now",
            names={"#final": "final"},
            values={":f": final, ":now": now},
        )

    def reset_delivery(self, org_id: str, run_id: str, event_type: str) -> None:
        """Forget which targets were reached, so the next delivery sends to all of them again."""
        self.table.update(
            keys.org_pk(org_id),
            keys.delivery_state_sk(run_id, event_type),
            update="SET targets = :empty ADD #round :one REMOVE #final, finished_at",
            names={"#round": "round", "#final": "final"},
            values={":empty": {}, ":one": 1},
        )

    def get_delivery(self, org_id: str, run_id: str, event_type: str) -> dict[str, Any] | None:
        return self.table.get(keys.org_pk(org_id), keys.delivery_state_sk(run_id, event_type), consistent=True)

    # -- delivery log

    def put_attempt(self, org_id: str, attempt: DeliveryAttempt, expires_at: int) -> None:
        item = {
            "pk": keys.org_pk(org_id),
            "sk": keys.delivery_log_sk(attempt.run_id, attempt.id),
            "type": "delivery",
            "expires_at": expires_at,
            **attempt.model_dump(mode="json"),
        }
        self.table.put(item)

    def list_attempts(
        self, org_id: str, run_id: str, limit: int, cursor: str | None
    ) -> tuple[list[DeliveryAttempt], str | None]:
        pk = keys.org_pk(org_id)
        prefix = keys.delivery_log_prefix(run_id)
        start = decode_cursor(cursor, {"pk": pk}) if cursor else None
        if start is not None and not start.get("sk", {}).get("S", "").startswith(prefix):
            raise BadRequest("cursor is not valid for this listing", code="invalid_cursor")
        items, last = self.table.query_page(
            key_condition="pk = :pk AND begins_with(sk, :p)",
            values={":pk": pk, ":p": prefix},
            limit=limit,
            start_key=start,
        )
        return [DeliveryAttempt.model_validate(i) for i in items], encode_cursor(last) if last else None
