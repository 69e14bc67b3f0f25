"""The typed run record stores exactly what the untyped dict did: same attributes, same formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.db import keys
from shared.db.dynamo import deserialize, pack_json, serialize
from shared.db.runs import JSON_FIELDS, item_to_run, run_to_item, stored_attributes
from shared.models.common import RunStatus
from shared.models.run_record import RunRecord
from shared.models.runs import Run

ORG, PRJ, JOB, RUN = "org_1", "prj_1", "job_1", "run_01"
CREATED = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _new_run() -> Run:
    return Run(
        id=RUN,
        status=RunStatus.queued,
        prompt="Find the price",
        inputs={"q": "x"},
        output_schema={"type": "object"},
        model="gpt-x",
        project_id=PRJ,
        job_id=JOB,
        allowed_domains=["example.com"],
        metadata={"k": "v"},
        created_at=CREATED,
        max_duration_s=120,
        max_steps=20,
        max_input_tokens=1000,
        max_output_tokens=100,
        max_cost_micros=50_000,
        max_cost_usd="0.05",
    )


def test_a_new_run_is_stored_as_the_envelope_dump_was() -> None:
    run = _new_run()
    replay = [{"action": "done", "args": {}}]
    # What the service wrote before the record was typed: the envelope's JSON dump plus internals.
    before = {
        "pk": keys.org_pk(ORG),
        "sk": keys.run_sk(RUN),
        "type": "run",
        "org_id": ORG,
        **run.model_dump(mode="json"),
        "deadline_by_cost": True,
        "replay": replay,
        "control_url": None,
        "gsi1pk": keys.runs_by_project_pk(ORG, PRJ),
        "gsi1sk": keys.run_sk(RUN),
        "gsi2pk": keys.runs_by_job_pk(ORG, JOB),
        "gsi2sk": keys.run_sk(RUN),
    }
    record = RunRecord(**run.model_dump(), org_id=ORG, replay=replay, control_url=None, deadline_by_cost=True)
    assert serialize(run_to_item(record)) == serialize(pack_json(before, JSON_FIELDS))


def test_a_stored_item_round_trips_through_the_record_unchanged() -> None:
    started = CREATED + timedelta(seconds=3)
    stored = serialize(
        pack_json(
            {
                **run_to_item(RunRecord(**_new_run().model_dump(), org_id=ORG)),
                "status": "failed",
                "admitted_at": (CREATED + timedelta(seconds=1)).isoformat(),
                "started_at": started.isoformat(),
                "sandbox_ended_at": (started + timedelta(seconds=9)).isoformat(),
                "finished_at": (started + timedelta(seconds=10)).isoformat(),
                "progress": {"step": 2, "last_action": "click", "updated_at": started.isoformat()},
                "task_token": "tok",
                "sandbox_id": "sbx_1",
                "sandbox_provider": "local",
                "agent_exit": {"reporter": "supervisor", "signal": 9},
                "usage_input_tokens": 70,
                "usage_output_tokens": 7,
                "usage_llm_calls": 1,
                "llm_call_log": [[70, 7]],
                "usage": {"input_tokens": 70, "sandbox_seconds": 9.5},
                "error": {"code": "AGENT_CRASHED", "message": "killed"},
                "steps": [{"index": 1, "action": "click", "error": None, "llm_call": 1}],
                "evidence_status": "ready",
                "evidence_manifest_key": "evidence/m.json",
                "evidence_announced": True,
                "gsi3pk": keys.RUNNING_PK,
                "gsi3sk": keys.running_sk(started.isoformat(), RUN),
            },
            JSON_FIELDS,
        )
    )
    record = item_to_run(deserialize(stored))
    assert record.started_at == started and record.status is RunStatus.failed
    assert record.error is not None and record.error.code == "AGENT_CRASHED"
    assert serialize(run_to_item(record)) == stored
    assert "gsi3sk" in stored_attributes(record) and stored_attributes(record)["steps"][0]["error"] is None
