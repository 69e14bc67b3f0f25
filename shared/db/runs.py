"""Runs and their idempotency records.

A run lives at (org#{org}, run#{id}); ids are ULIDs, so a query on the org partition in reverse
order lists newest first. Sparse index keys list a project's runs (gsi1), a job's runs (gsi2) and
the runs whose agent is running (gsi3, by deadline; the reaper's). The repository owns every key and
index attribute; it reads and writes runs as :class:`~shared.models.run_record.RunRecord`.
Every status change is a conditional update on the current status: a terminal run never changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
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
from shared.models.common import RunStatus
from shared.models.run_record import RunningRun, RunRecord

JSON_FIELDS = ("inputs", "output_schema", "result", "steps", "network", "evidence", "replay")
# How many DynamoDB pages one listing request may read while a filter drops items.
_MAX_FILTERED_PAGES = 5


class ConcurrencyLimited(Exception):
    """All of the org's concurrent-run slots are taken."""


class IdempotencyConflict(Exception):
    """The idempotency key exists; ``record`` says for which body and run."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__("idempotency key in use")
        self.record = record


# Attributes of the item that are the repository's: the keys, the indexes, the item type.
_KEY_ATTRIBUTES = ("pk", "sk", "type", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk")


def run_to_item(run: RunRecord) -> dict[str, Any]:
    """The item of a record: its attributes as stored, with the keys of the run's listings."""
    attributes = run.model_dump(mode="json", exclude_unset=True)
    attributes.pop("org_id", None)
    org_id = run.org_id
    item = {**run._stored_keys, "pk": keys.org_pk(org_id), "sk": keys.run_sk(run.id), "type": "run"}
    item.update(org_id=org_id, **attributes)
    item["gsi1pk"] = keys.runs_by_project_pk(org_id, run.project_id)
    item["gsi1sk"] = keys.run_sk(run.id)
    if run.job_id:
        item["gsi2pk"] = keys.runs_by_job_pk(org_id, run.job_id)
        item["gsi2sk"] = keys.run_sk(run.id)
    return pack_json(item, JSON_FIELDS)


def item_to_run(item: Mapping[str, Any]) -> RunRecord:
    attributes = unpack_json(dict(item), JSON_FIELDS)
    stored_keys = {k: attributes.pop(k) for k in _KEY_ATTRIBUTES if k in attributes}
    run = RunRecord.model_validate(attributes)
    run._stored_keys = stored_keys
    return run


def stored_attributes(run: RunRecord) -> dict[str, Any]:
    """The run's item as stored, its JSON fields unpacked (what sizes it against DynamoDB's quota)."""
    attributes = run.model_dump(mode="json", exclude_unset=True)
    return {**run._stored_keys, **{k: v for k, v in attributes.items() if v is not None}}


class RunRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, run: RunRecord, idempotency: Mapping[str, Any] | None = None) -> None:
        """Put a new run; with an idempotency record, both or neither (one transaction).

        Raises IdempotencyConflict when the key is already taken (by any body).
        """
        org_id = run.org_id
        item = run_to_item(run)
        if idempotency is None:
            self.table.put(item, condition="attribute_not_exists(pk)")
            return
        idem_item = {
            "pk": keys.org_pk(org_id),
            "sk": keys.idempotency_sk(idempotency["key_hash"]),
            "type": "idempotency",
            **idempotency,
        }
        try:
            self.table.transact_put([(item, "attribute_not_exists(pk)"), (idem_item, "attribute_not_exists(pk)")])
        except ConditionalCheckFailed as exc:
            existing = self.get_idempotency(org_id, idempotency["key_hash"])
            if existing is None:  # the key expired between the two calls; the run id clash is ours
                raise
            raise IdempotencyConflict(existing) from exc

    def get_idempotency(self, org_id: str, key_hash: str) -> dict[str, Any] | None:
        return self.table.get(keys.org_pk(org_id), keys.idempotency_sk(key_hash), consistent=True)

    def get(self, org_id: str, run_id: str, consistent: bool = False) -> RunRecord | None:
        item = self.table.get(keys.org_pk(org_id), keys.run_sk(run_id), consistent=consistent)
        return item_to_run(item) if item else None

    def list(
        self,
        org_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        status: RunStatus | None = None,
        project_id: str | None = None,
        job_id: str | None = None,
    ) -> tuple[list[RunRecord], str | None]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        filters = []
        if job_id:
            index, hk, rk = "gsi2", "gsi2pk", "gsi2sk"
            values[":pk"] = keys.runs_by_job_pk(org_id, job_id)
            if project_id:
                filters.append("project_id = :prj")
                values[":prj"] = project_id
        elif project_id:
            index, hk, rk = "gsi1", "gsi1pk", "gsi1sk"
            values[":pk"] = keys.runs_by_project_pk(org_id, project_id)
        else:
            index, hk, rk = None, "pk", "sk"
            values[":pk"] = keys.org_pk(org_id)
        values[":p"] = "run#"
        if status:
            filters.append("#status = :status")
            names["#status"] = "status"
            values[":status"] = status.value
        start = decode_cursor(cursor, {hk: values[":pk"]}) if cursor else None
        collected: list[dict[str, Any]] = []
        last: dict[str, Any] | None = None
        for _ in range(_MAX_FILTERED_PAGES):
            page, last = self.table.query_page(
                key_condition=f"{hk} = :pk AND begins_with({rk}, :p)",
                names=names or None,
                values=values,
                index=index,
                limit=limit - len(collected) if not filters else limit,
                start_key=start,
                filter_expression=" AND ".join(filters) or None,
            )
            collected.extend(page)
            if len(collected) >= limit or last is None:
                break
            start = last
        if len(collected) > limit:
            collected = collected[:limit]
            next_cursor = _cursor_from_item(collected[-1], index)
        else:
            next_cursor = encode_cursor(last) if last else None
        return [item_to_run(i) for i in collected], next_cursor

    def transition(
        self,
        org_id: str,
        run_id: str,
        *,
        from_statuses: Iterable[RunStatus],
        to_status: RunStatus | None,
        fields: Mapping[str, Any] | None = None,
        slot: str | None = None,
        max_active: int = 0,
        running_until: datetime | None = None,
    ) -> RunRecord:
        """Conditionally set the status (and fields); ConditionalCheckFailed if not in from_statuses.

        ``slot="acquire"`` also takes one of the org's concurrent-run slots (ConcurrencyLimited when
        all ``max_active`` are taken) and ``slot="release"`` gives one back, in the same transaction,
        so the counter moves exactly when the status does. ``running_until`` lists the run in the
        reaper's index (:meth:`list_running`) by that deadline; a move to a terminal status takes it
        out. Datetimes in ``fields`` are written as ``isoformat()``.
        """
        fields = dict(fields or {})
        if running_until is not None:
            fields["gsi3pk"] = keys.RUNNING_PK
            fields["gsi3sk"] = keys.running_sk(running_until.isoformat(), run_id)
        if to_status is not None and to_status.is_terminal:
            fields = {"gsi3pk": None, "gsi3sk": None, **fields}
        request = self._transition_request(org_id, run_id, from_statuses, to_status, fields)
        if slot is None:
            request["ReturnValues"] = "ALL_NEW"
            return item_to_run(deserialize(self.table._call("update_item", **request)["Attributes"]))
        if slot == "acquire":
            counter = self.table.update_request(
                keys.org_pk(org_id),
                keys.ACTIVE_SK,
                update="ADD active :one",
                condition="attribute_not_exists(active) OR active < :max",
                values={":one": 1, ":max": max_active},
            )
        else:
            counter = self.table.update_request(
                keys.org_pk(org_id), keys.ACTIVE_SK, update="ADD active :minus", values={":minus": -1}
            )
        try:
            self.table.transact_updates([request, counter])
        except ConditionalCheckFailed as exc:
            if len(exc.reasons) > 1 and exc.reasons[0] in ("None", "") and slot == "acquire":
                raise ConcurrencyLimited() from exc
            raise
        item = self.get(org_id, run_id, consistent=True)
        assert item is not None
        return item

    def list_running(self, limit: int = 500) -> list[RunningRun]:
        """Runs whose agent is running, earliest deadline first (the sparse gsi3)."""
        items, _ = self.table.query_page(
            key_condition="gsi3pk = :r",
            values={":r": keys.RUNNING_PK},
            index="gsi3",
            limit=limit,
            newest_first=False,
        )
        return [RunningRun.model_validate(i) for i in items]

    def active_count(self, org_id: str) -> int:
        item = self.table.get(keys.org_pk(org_id), keys.ACTIVE_SK, consistent=True)
        return int(item.get("active", 0)) if item else 0

    def _transition_request(
        self,
        org_id: str,
        run_id: str,
        from_statuses: Iterable[RunStatus],
        to_status: RunStatus | None,
        fields: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        sets: list[str] = []
        names: dict[str, str] = {"#status": "status"}
        values: dict[str, Any] = {}
        fields = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in (fields or {}).items()}
        packed = pack_json(dict(fields), JSON_FIELDS)
        for f in JSON_FIELDS:  # an explicit None clears a JSON field too
            if fields and f in fields and fields[f] is None:
                packed[f"{f}_json"] = None
        if to_status is not None:
            packed["status"] = to_status.value
        removes = []
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
        return self.table.update_request(
            keys.org_pk(org_id),
            keys.run_sk(run_id),
            update=update.strip(),
            condition=f"attribute_exists(pk) AND #status IN ({', '.join(allowed)})",
            names=names,
            values=values,
        )

    def mark_sandbox_ended(
        self,
        org_id: str,
        run_id: str,
        ended_at: datetime,
        fields: Mapping[str, Any] | None = None,
        *,
        require_task_token: bool = False,
    ) -> RunRecord:
        """Record when the run's agent ended (``sandbox_ended_at``), once, while the run is running
        (and, with ``require_task_token``, has a waiting task to wake).

        ConditionalCheckFailed if the run is not running, has no task token when one is required,
        or the end was already recorded (the first of the completion callback, an exit report and
        the reaper wins)."""
        sets = ["sandbox_ended_at = :at"]
        values: dict[str, Any] = {":at": ended_at.isoformat(), ":running": RunStatus.running.value}
        names = {"#status": "status"}
        for i, (name, value) in enumerate((fields or {}).items()):
            names[f"#e{i}"] = name
            values[f":e{i}"] = value
            sets.append(f"#e{i} = :e{i}")
        item = self.table.update(
            keys.org_pk(org_id),
            keys.run_sk(run_id),
            update="SET " + ", ".join(sets),
            condition="attribute_exists(pk) AND #status = :running AND attribute_not_exists(sandbox_ended_at)"
            + (" AND attribute_exists(task_token)" if require_task_token else ""),
            names=names,
            values=values,
        )
        return item_to_run(item)

    def add_usage(self, org_id: str, run_id: str, input_tokens: int, output_tokens: int) -> RunRecord:
        """Count one LLM call into the run (atomic ADDs; safe under concurrent calls). The call's own
        [input, output] tokens are appended to ``llm_call_log`` in the same update, so entry n-1 is
        call n (step records name the call that chose them)."""
        item = self.table.update(
            keys.org_pk(org_id),
            keys.run_sk(run_id),
            update="ADD usage_input_tokens :i, usage_output_tokens :o, usage_llm_calls :one "
            "SET llm_call_log = list_append(if_not_exists(llm_call_log, :empty), :call)",
            condition="attribute_exists(pk)",
            values={
                ":i": input_tokens,
                ":o": output_tokens,
                ":one": 1,
                ":empty": [],
                ":call": [[input_tokens, output_tokens]],
            },
        )
        return item_to_run(item)


def _key_of(item: Mapping[str, Any], index: str | None) -> dict[str, Any]:
    key = {"pk": item["pk"], "sk": item["sk"]}
    if index:
        key[f"{index}pk"] = item[f"{index}pk"]
        key[f"{index}sk"] = item[f"{index}sk"]
    return key


def _cursor_from_item(item: Mapping[str, Any], index: str | None) -> str:
    return encode_cursor(serialize(_key_of(item, index)))
