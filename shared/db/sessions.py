"""Session records (docs/sessions.md, docs/data-model.md).

A session lives at (org#{org}, session#{id}) in the runs' table; ids are ULIDs, so a reverse query
lists newest first. The org's live sessions are counted at (org#{org}, active#sessions), moved in the
same transaction as the session's creation and its close: a closed session frees its slot at once.
While a session is live it is listed for the reaper under gsi4 (``sessions#live``), with the fields
its checks read (``LIVE_FIELDS``, template.yaml's projection). Every status
change is a conditional update on the current status (shared/sessions/lifecycle.py owns them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.db import keys
from shared.db.dynamo import (
    ConditionalCheckFailed,
    Table,
    decode_cursor,
    deserialize,
    encode_cursor,
    pack_json,
    serialize,
    unpack_json,
)
from shared.models.sessions import SessionStatus

JSON_FIELDS = ("steps", "tasks", "error", "usage", "spec")
_MAX_FILTERED_PAGES = 5
# What gsi4 projects (template.yaml, MainTable): the reaper's checks read these and nothing else.
LIVE_FIELDS = (
    "id",
    "org_id",
    "status",
    "sandbox_id",
    "created_at",
    "expires_at",
    "last_active_at",
    "idle_timeout_s",
    "current_task",
)
# The index sessions were listed under before gsi4 (keys only); removed again when they close.
LEGACY_LIVE_INDEX = "gsi3"
LIVE_KEYS = ("gsi4pk", "gsi4sk", "gsi3pk", "gsi3sk")


class SessionLimitReached(Exception):
    """All of the org's live-session slots are taken."""


def session_to_item(org_id: str, session: Mapping[str, Any]) -> dict[str, Any]:
    item = {"pk": keys.org_pk(org_id), "sk": keys.session_sk(session["id"]), "type": "session", "org_id": org_id}
    item.update(session)
    item["gsi4pk"] = keys.LIVE_SESSIONS_PK
    item["gsi4sk"] = keys.live_session_sk(str(session["expires_at"]), session["id"])
    return pack_json(item, JSON_FIELDS)


def item_to_session(item: Mapping[str, Any]) -> dict[str, Any]:
    return unpack_json(dict(item), JSON_FIELDS)


class SessionRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, org_id: str, session: Mapping[str, Any], max_live: int) -> None:
        """Put a new session and take one of the org's session slots, in one transaction.
        SessionLimitReached when all ``max_live`` are taken."""
        put = {
            "TableName": self.table.name,
            "Item": serialize(session_to_item(org_id, session)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        counter = self.table.update_request(
            keys.org_pk(org_id),
            keys.ACTIVE_SESSIONS_SK,
            update="ADD active :one",
            condition="attribute_not_exists(active) OR active < :max",
            values={":one": 1, ":max": max_live},
        )
        try:
            self.table.transact_write([("Put", put), ("Update", counter)])
        except ConditionalCheckFailed as exc:
            if len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed":
                raise SessionLimitReached() from exc
            raise

    def get(self, org_id: str, session_id: str, consistent: bool = False) -> dict[str, Any] | None:
        item = self.table.get(keys.org_pk(org_id), keys.session_sk(session_id), consistent=consistent)
        return item_to_session(item) if item else None

    def list(
        self, org_id: str, *, limit: int, cursor: str | None = None, status: SessionStatus | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        values: dict[str, Any] = {":pk": keys.org_pk(org_id), ":p": "session#"}
        names: dict[str, str] = {}
        filters = None
        if status:
            filters = "#status = :status"
            names["#status"] = "status"
            values[":status"] = status.value
        start = decode_cursor(cursor, {"pk": values[":pk"]}) if cursor else None
        collected: list[dict[str, Any]] = []
        last: dict[str, Any] | None = None
        for _ in range(_MAX_FILTERED_PAGES):
            page, last = self.table.query_page(
                key_condition="pk = :pk AND begins_with(sk, :p)",
                names=names or None,
                values=values,
                limit=limit,
                start_key=start,
                filter_expression=filters,
            )
            collected.extend(page)
            if len(collected) >= limit or last is None:
                break
            start = last
        if len(collected) > limit:
            collected = collected[:limit]
            last_item = collected[-1]
            next_cursor = encode_cursor(serialize({"pk": last_item["pk"], "sk": last_item["sk"]}))
        else:
            next_cursor = encode_cursor(last) if last else None
        return [item_to_session(i) for i in collected], next_cursor

    def transition(
        self,
        org_id: str,
        session_id: str,
        *,
        from_statuses: Iterable[SessionStatus],
        to_status: SessionStatus | None,
        fields: Mapping[str, Any] | None = None,
        release_slot: bool = False,
        condition: str | None = None,
        condition_values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Conditionally set the status and fields (None clears a field); ConditionalCheckFailed if
        the session is in none of ``from_statuses`` (or ``condition`` does not hold).
        ``release_slot`` gives the org's session slot back in the same transaction."""
        request = self._request(org_id, session_id, from_statuses, to_status, fields, condition, condition_values)
        if not release_slot:
            request["ReturnValues"] = "ALL_NEW"
            return item_to_session(deserialize(self.table._call("update_item", **request)["Attributes"]))
        counter = self.table.update_request(
            keys.org_pk(org_id), keys.ACTIVE_SESSIONS_SK, update="ADD active :minus", values={":minus": -1}
        )
        self.table.transact_updates([request, counter])
        item = self.get(org_id, session_id, consistent=True)
        assert item is not None
        return item

    def _request(
        self,
        org_id: str,
        session_id: str,
        from_statuses: Iterable[SessionStatus],
        to_status: SessionStatus | None,
        fields: Mapping[str, Any] | None,
        condition: str | None,
        condition_values: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        packed = pack_json(dict(fields or {}), JSON_FIELDS)
        for f in JSON_FIELDS:
            if fields and f in fields and fields[f] is None:
                packed[f"{f}_json"] = None
        if to_status is not None:
            packed["status"] = to_status.value
        names: dict[str, str] = {"#status": "status"}
        values: dict[str, Any] = dict(condition_values or {})
        sets, removes = [], []
        for i, (name, value) in enumerate(packed.items()):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :v{i}")
                values[f":v{i}"] = value
        allowed = []
        for j, st in enumerate(from_statuses):
            values[f":s{j}"] = st.value
            allowed.append(f":s{j}")
        update = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
        cond = f"attribute_exists(pk) AND #status IN ({', '.join(allowed)})"
        if condition:
            cond += f" AND ({condition})"
        return self.table.update_request(
            keys.org_pk(org_id),
            keys.session_sk(session_id),
            update=update.strip(),
            condition=cond,
            names=names,
            values=values,
        )

    def append_step(self, org_id: str, session_id: str, step: Mapping[str, Any], keep: int) -> None:
        """Add one direct action's step to the session's history (the newest ``keep`` are kept)."""
        item = self.get(org_id, session_id, consistent=True) or {}
        steps = [*(item.get("steps") or []), dict(step)][-keep:]
        self.table.update(
            keys.org_pk(org_id),
            keys.session_sk(session_id),
            update="SET steps_json = :s",
            condition="attribute_exists(pk)",
            values={":s": pack_json({"steps": steps}, ["steps"])["steps_json"]},
        )

    def add_usage(self, org_id: str, session_id: str, input_tokens: int, output_tokens: int) -> None:
        """Count one model call of the session's own (an ``extract`` with an output_schema) into it:
        atomic ADDs, billed in the session's one usage record at its close."""
        self.table.update(
            keys.org_pk(org_id),
            keys.session_sk(session_id),
            update="ADD llm_input_tokens :i, llm_output_tokens :o, llm_calls :one",
            condition="attribute_exists(pk)",
            values={":i": max(0, input_tokens), ":o": max(0, output_tokens), ":one": 1},
        )

    def list_live(self, limit: int = 500) -> list[dict[str, Any]]:
        """Live sessions, earliest absolute expiry first, each with ``LIVE_FIELDS`` only (gsi4; an
        index, so a change of the last second may not show yet). Sessions created before gsi4 was
        (listed under gsi3 with their ids only) follow, without the fields: the caller reads those."""
        listed = []
        for index in ("gsi4", LEGACY_LIVE_INDEX):
            items, _ = self.table.query_page(
                key_condition=f"{index}pk = :p",
                values={":p": keys.LIVE_SESSIONS_PK},
                index=index,
                limit=limit,
                newest_first=False,
            )
            listed += items
        return listed

    def active_count(self, org_id: str) -> int:
        item = self.table.get(keys.org_pk(org_id), keys.ACTIVE_SESSIONS_SK, consistent=True)
        return int(item.get("active", 0)) if item else 0
