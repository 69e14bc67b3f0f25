"""Balances, credits and usage records (see docs/data-model.md).

The balance lives at (org#{org}, balance), apart from the org item, so the cached org of an API key
never carries a stale balance. A usage record and the debit it causes are one transaction: the
record's put is conditional on not existing (one record per run, whoever retries) and the balance
update on the balance the debit was computed from (:class:`BalanceGuard`), so concurrent charges
never take the balance below its floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.db import keys
from shared.db.dynamo import (
    ConditionalCheckFailed,
    Table,
    decode_cursor,
    deserialize,
    encode_cursor,
    serialize,
)
from shared.errors import BadRequest

_TOTAL_FIELDS = (
    "input_tokens",
    "output_tokens",
    "llm_calls",
    "sandbox_ms",
    "cost_micros",
    "charged_micros",
    "unpaid_micros",
)
_RETRYABLE = ("ConditionalCheckFailed", "TransactionConflict")


class UsageAlreadyRecorded(Exception):
    """The run's usage record exists: an earlier or concurrent call charged it."""


class BalanceChanged(Exception):
    """The balance moved since it was read; read it again and recompute the debit."""


@dataclass(frozen=True)
class BalanceGuard:
    """The balance state a debit was computed from; the write holds only while it still does."""

    exists: bool
    floor: int = 0
    at_least: int | None = None  # balance_micros >= at_least (the whole cost fits above the floor)
    exactly: int | None = None  # balance_micros = exactly (only part fits: no one else may move it)


def time_key(when: datetime) -> str:
    """A fixed-width, sortable UTC timestamp with millisecond precision: ``2026-01-31T23:59:59.123Z``."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class BillingRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- balance ---------------------------------------------------------------------------------

    def get_balance(self, org_id: str) -> dict[str, Any] | None:
        return self.table.get(keys.org_pk(org_id), keys.BALANCE_SK, consistent=True)

    def credit(self, org_id: str, micros: int, entry: Mapping[str, Any], now_iso: str) -> None:
        """Add ``micros`` to the balance and keep ``entry`` (id, reason…) as its ledger line, atomically."""
        update = self.table.update_request(
            keys.org_pk(org_id),
            keys.BALANCE_SK,
            update="SET floor_micros = if_not_exists(floor_micros, :zero), org_id = :org, updated_at = :now, "
            "#type = :type ADD balance_micros :m, credited_micros :m",
            names={"#type": "type"},
            values={":zero": 0, ":org": org_id, ":now": now_iso, ":type": "balance", ":m": micros},
        )
        item = {
            "pk": keys.org_pk(org_id),
            "sk": keys.credit_sk(entry["created_at"], entry["id"]),
            "type": "credit",
            **entry,
        }
        put = {"TableName": self.table.name, "Item": serialize(item), "ConditionExpression": "attribute_not_exists(pk)"}
        self.table.transact_write([("Update", update), ("Put", put)])

    def set_floor(self, org_id: str, floor_micros: int, now_iso: str) -> None:
        self.table.update(
            keys.org_pk(org_id),
            keys.BALANCE_SK,
            update="SET floor_micros = :f, balance_micros = if_not_exists(balance_micros, :zero), "
            "org_id = :org, updated_at = :now, #type = :type",
            names={"#type": "type"},
            values={":f": floor_micros, ":zero": 0, ":org": org_id, ":now": now_iso, ":type": "balance"},
        )

    # -- usage -----------------------------------------------------------------------------------

    def record_usage(
        self, org_id: str, item: Mapping[str, Any], *, debit: int, unpaid: int, guard: BalanceGuard, now_iso: str
    ) -> None:
        """Put the usage record and debit the balance in one transaction.

        Raises UsageAlreadyRecorded when the record exists, BalanceChanged when the balance no longer
        matches ``guard`` (or another transaction touched it at the same moment).
        """
        values: dict[str, Any] = {
            ":minus": -debit,
            ":debit": debit,
            ":unpaid": unpaid,
            ":now": now_iso,
            ":floor": guard.floor,
            ":org": org_id,
            ":type": "balance",
        }
        if not guard.exists:
            condition = "attribute_not_exists(pk)"
        elif guard.at_least is not None:
            condition = "balance_micros >= :need AND floor_micros = :floor"
            values[":need"] = guard.at_least
        else:
            condition = "balance_micros = :seen AND floor_micros = :floor"
            values[":seen"] = guard.exactly
        update = self.table.update_request(
            keys.org_pk(org_id),
            keys.BALANCE_SK,
            update="SET floor_micros = :floor, org_id = :org, updated_at = :now, #type = :type "
            "ADD balance_micros :minus, spent_micros :debit, unpaid_micros :unpaid",
            condition=condition,
            names={"#type": "type"},
            values=values,
        )
        put = {
            "TableName": self.table.name,
            "Item": serialize(dict(item)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        try:
            self.table.transact_write([("Put", put), ("Update", update)])
        except ConditionalCheckFailed as exc:
            reasons = [*exc.reasons, "None", "None"]
            if reasons[0] == "ConditionalCheckFailed":
                raise UsageAlreadyRecorded() from exc
            if reasons[0] in _RETRYABLE or reasons[1] in _RETRYABLE:
                raise BalanceChanged() from exc
            raise

    def usage_item(self, org_id: str, record: Mapping[str, Any], finished_key: str, sandbox_ms: int) -> dict[str, Any]:
        sk = keys.usage_sk(finished_key, record["run_id"])
        return {
            **record,
            "pk": keys.org_pk(org_id),
            "sk": sk,
            "type": "usage",
            "org_id": org_id,
            "sandbox_ms": sandbox_ms,
            "gsi1pk": keys.runs_by_project_pk(org_id, record["project_id"]),
            "gsi1sk": sk,
        }

    def get_usage(self, org_id: str, finished_key: str, run_id: str) -> dict[str, Any] | None:
        return self.table.get(keys.org_pk(org_id), keys.usage_sk(finished_key, run_id), consistent=True)

    def _window(self, org_id: str, project_id: str | None, lo: str, hi: str) -> dict[str, Any]:
        if project_id:
            index, hk, rk, pk = "gsi1", "gsi1pk", "gsi1sk", keys.runs_by_project_pk(org_id, project_id)
        else:
            index, hk, rk, pk = None, "pk", "sk", keys.org_pk(org_id)
        return {
            "index": index,
            "hk": hk,
            "rk": rk,
            "pk": pk,
            "key_condition": f"{hk} = :pk AND {rk} BETWEEN :lo AND :hi",
            "values": {":pk": pk, ":lo": keys.usage_sk(lo, ""), ":hi": keys.usage_sk(hi, "")},
        }

    def usage_page(
        self, org_id: str, project_id: str | None, lo: str, hi: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Usage records finished in [lo, hi) (time keys), newest first; a cursor continues a page."""
        w = self._window(org_id, project_id, lo, hi)
        start = None
        if cursor:
            start = decode_cursor(cursor, {w["hk"]: w["pk"]})
            at = deserialize(start).get(w["rk"], "")
            if not (w["values"][":lo"] <= at <= w["values"][":hi"]):
                raise BadRequest("cursor is not valid for this window", code="invalid_cursor")
        items, last = self.table.query_page(
            key_condition=w["key_condition"],
            values=w["values"],
            index=w["index"],
            limit=limit,
            start_key=start,
            newest_first=True,
        )
        return items, encode_cursor(last) if last else None

    def usage_totals(self, org_id: str, project_id: str | None, lo: str, hi: str) -> dict[str, int]:
        """Sums over every record in the window: reads all of its pages, only the numeric attributes."""
        w = self._window(org_id, project_id, lo, hi)
        names = {f"#t{i}": f for i, f in enumerate(_TOTAL_FIELDS)}
        totals = dict.fromkeys(("runs", *_TOTAL_FIELDS), 0)
        kwargs: dict[str, Any] = {
            "TableName": self.table.name,
            "KeyConditionExpression": w["key_condition"],
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(w["values"]),
        }
        if w["index"]:
            kwargs["IndexName"] = w["index"]
        while True:
            out = self.table._call("query", **kwargs)
            for raw in out.get("Items", []):
                item = deserialize(raw)
                totals["runs"] += 1
                for f in _TOTAL_FIELDS:
                    totals[f] += int(item.get(f, 0))
            if "LastEvaluatedKey" not in out:
                return totals
            kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]
