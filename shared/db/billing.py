"""Balances, the ledger and usage records (see docs/data-model.md).

The balance lives at (org#{org}, balance), apart from the org item, so the cached org of an API key
never carries a stale balance. Every change of the balance is one transaction with its ledger line
(``ledger#…``, holding the balance after it) and is conditional on the exact balance and floor it
was computed from, so concurrent changes never lose one another, never take the balance below its
floor, and every ledger line's ``balance_after`` is true. A usage record, the debit it causes and
the billed figures copied onto the run are one transaction too; the record's put is conditional on
not existing (one record per run, whoever retries).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    """The balance moved since it was read; read it again and recompute the change."""


def time_key(when: datetime) -> str:
    """A fixed-width, sortable UTC timestamp with millisecond precision: ``2026-01-31T23:59:59.123Z``."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class BillingRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- balance and ledger ----------------------------------------------------------------------

    def get_balance(self, org_id: str) -> dict[str, Any] | None:
        return self.table.get(keys.org_pk(org_id), keys.BALANCE_SK, consistent=True)

    def change_balance(
        self,
        org_id: str,
        *,
        seen: dict[str, Any] | None,
        balance: int,
        floor: int,
        entry: Mapping[str, Any],
        counters: Mapping[str, int] | None = None,
        now_iso: str,
    ) -> None:
        """Set the balance and floor and put ``entry`` as its ledger line, in one transaction, only
        while the balance item still holds what ``seen`` held (BalanceChanged otherwise)."""
        actions = [
            ("Update", self._balance_update(org_id, seen, balance, floor, counters or {}, now_iso)),
            ("Put", self._ledger_put(org_id, entry)),
        ]
        try:
            self.table.transact_write(actions)
        except ConditionalCheckFailed as exc:
            if [*exc.reasons, "None"][0] in _RETRYABLE:
                raise BalanceChanged() from exc
            raise

    def _balance_update(
        self,
        org_id: str,
        seen: dict[str, Any] | None,
        balance: int,
        floor: int,
        counters: Mapping[str, int],
        now_iso: str,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {":b": balance, ":f": floor, ":org": org_id, ":now": now_iso, ":type": "balance"}
        adds = []
        for i, (name, amount) in enumerate(counters.items()):
            adds.append(f"{name} :c{i}")
            values[f":c{i}"] = amount
        if seen is None:
            condition = "attribute_not_exists(pk)"
        else:
            condition = "balance_micros = :seen_b AND floor_micros = :seen_f"
            values[":seen_b"] = int(seen.get("balance_micros", 0))
            values[":seen_f"] = int(seen.get("floor_micros", 0))
        return self.table.update_request(
            keys.org_pk(org_id),
            keys.BALANCE_SK,
            update="SET balance_micros = :b, floor_micros = :f, org_id = :org, updated_at = :now, #type = :type"
            + (" ADD " + ", ".join(adds) if adds else ""),
            condition=condition,
            names={"#type": "type"},
            values=values,
        )

    def _ledger_put(self, org_id: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        item = {
            "pk": keys.org_pk(org_id),
            "sk": keys.ledger_sk(entry["created_at"], entry["id"]),
            "type": "ledger",
            **entry,
        }
        put = {"TableName": self.table.name, "Item": serialize(item)}
        return {**put, "ConditionExpression": "attribute_not_exists(pk)"}

    def ledger_page(self, org_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """The org's ledger lines, newest first."""
        start = decode_cursor(cursor, {"pk": keys.org_pk(org_id)}) if cursor else None
        items, last = self.table.query_page(
            key_condition="pk = :pk AND begins_with(sk, :p)",
            values={":pk": keys.org_pk(org_id), ":p": keys.LEDGER_PREFIX},
            limit=limit,
            start_key=start,
            newest_first=True,
        )
        return items, encode_cursor(last) if last else None

    # -- usage -----------------------------------------------------------------------------------

    def record_usage(
        self,
        org_id: str,
        item: Mapping[str, Any],
        *,
        seen: dict[str, Any] | None,
        balance: int,
        floor: int,
        debit: int,
        unpaid: int,
        billed: Mapping[str, Any],
        entry: Mapping[str, Any] | None,
        now_iso: str,
        subject_sk: str | None = None,
    ) -> None:
        """One transaction: the usage record (once per run), the balance (only while it holds what
        ``seen`` held), the billed figures onto the run (its envelope shows them; or onto the item at
        ``subject_sk``, a session) and, when money moved, the ledger line. Raises
        UsageAlreadyRecorded or BalanceChanged."""
        run_update = self.table.update_request(
            keys.org_pk(org_id),
            subject_sk or keys.run_sk(item["run_id"]),
            update="SET billed_usage = :billed",
            condition="attribute_exists(pk)",
            values={":billed": dict(billed)},
        )
        put = {
            "TableName": self.table.name,
            "Item": serialize(dict(item)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        counters = {"spent_micros": debit, "unpaid_micros": unpaid}
        actions: list[tuple[str, dict[str, Any]]] = [
            ("Put", put),
            ("Update", self._balance_update(org_id, seen, balance, floor, counters, now_iso)),
            ("Update", run_update),
        ]
        if entry is not None:
            actions.append(("Put", self._ledger_put(org_id, entry)))
        try:
            self.table.transact_write(actions)
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
