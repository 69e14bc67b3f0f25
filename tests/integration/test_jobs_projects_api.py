"""Jobs and projects through the API handler, against moto."""

from __future__ import annotations

from shared.services import Services
from tests.support.apigw import call, http_event

SCHEMA = {"type": "object", "properties": {"price": {"type": "number"}}, "required": ["price"]}


def test_projects_create_list_get_and_default_project(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    listed = call(http_event("GET", "/v1/projects", key=key)).json["data"]
    assert [p["name"] for p in listed] == ["API Runs"] and listed[0]["is_default"]

    r = call(http_event("POST", "/v1/projects", body={"name": "Pricing"}, key=key))
    assert r.status == 201 and r.headers["location"] == f"/v1/projects/{r.json['id']}"
    assert call(http_event("GET", f"/v1/projects/{r.json['id']}", key=key)).json["name"] == "Pricing"

    run = call(http_event("POST", "/v1/runs", body={"prompt": "Look around"}, key=key)).json
    run = call(http_event("GET", f"/v1/runs/{run['task_id']}", key=key)).json
    assert run["project_id"] == listed[0]["id"]


def test_run_in_unknown_project_is_422(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = call(http_event("POST", "/v1/runs", body={"prompt": "Look", "project_id": "prj_nope"}, key=key))
    assert r.status == 422 and r.json["error"]["code"] == "project_not_found"


def test_job_lifecycle_and_runs_from_it(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    body = {
        "name": "price check",
        "prompt": "Find the price of {{product}} on {{site}}",
        "output_schema": SCHEMA,
        "default_inputs": {"site": "shop.example"},
        "max_steps": 10,
    }
    job = call(http_event("POST", "/v1/jobs", body=body, key=key))
    assert job.status == 201, job.text
    job_id = job.json["id"]
    assert job.json["placeholders"] == ["product", "site"]

    patched = call(http_event("PATCH", f"/v1/jobs/{job_id}", body={"description": "daily", "max_steps": 12}, key=key))
    assert patched.status == 200 and patched.json["description"] == "daily" and patched.json["max_steps"] == 12
    assert patched.json["prompt"] == body["prompt"]

    missing = call(http_event("POST", f"/v1/jobs/{job_id}/runs", body={}, key=key))
    assert missing.status == 422 and missing.json["error"]["details"] == {"missing": ["product"]}

    r = call(http_event("POST", f"/v1/jobs/{job_id}/runs", body={"inputs": {"product": "kettle"}}, key=key))
    assert r.status == 202, r.text
    run = call(http_event("GET", f"/v1/runs/{r.json['task_id']}", key=key)).json
    assert run["prompt"] == "Find the price of kettle on shop.example"
    assert run["job_id"] == job_id and run["max_steps"] == 12 and run["output_schema"] == SCHEMA

    by_job = call(http_event("GET", "/v1/runs", key=key, query={"job_id": job_id})).json["data"]
    assert [x["id"] for x in by_job] == [run["id"]]

    assert call(http_event("DELETE", f"/v1/jobs/{job_id}", key=key)).status == 204
    assert call(http_event("GET", f"/v1/jobs/{job_id}", key=key)).status == 404
    assert call(http_event("DELETE", f"/v1/jobs/{job_id}", key=key)).status == 404
    # the run keeps its job id
    assert call(http_event("GET", f"/v1/runs/{run['id']}", key=key)).json["job_id"] == job_id


def test_job_with_invalid_schema_or_cleared_prompt_is_refused(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    bad = call(
        http_event("POST", "/v1/jobs", body={"name": "x", "prompt": "Do it", "output_schema": {"type": 1}}, key=key)
    )
    assert bad.status == 422 and bad.json["error"]["code"] == "invalid_output_schema"
    job_id = call(http_event("POST", "/v1/jobs", body={"name": "x", "prompt": "Do it"}, key=key)).json["id"]
    r = call(http_event("PATCH", f"/v1/jobs/{job_id}", body={"prompt": None}, key=key))
    assert r.status == 422
    assert call(http_event("GET", f"/v1/jobs/{job_id}", key=key)).json["prompt"] == "Do it"


LOOKUP = {
    "name": "lookup_order",
    "description": "Look an order up in our own system.",
    "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
}


def test_a_jobs_human_input_and_tools_reach_its_runs_and_a_run_may_override_them(
    svc: Services, org_key: tuple[str, str]
) -> None:
    _, key = org_key
    body = {
        "name": "order status",
        "prompt": "What is the status of order {{order}}?",
        "human_input": True,
        "input_timeout_s": 120,
        "tools": [LOOKUP],
        "tool_timeout_s": 30,
    }
    job = call(http_event("POST", "/v1/jobs", body=body, key=key))
    assert job.status == 201, job.text
    assert job.json["tools"] == [LOOKUP] and job.json["human_input"] is True
    job_id = job.json["id"]
    got = call(http_event("GET", f"/v1/jobs/{job_id}", key=key)).json
    assert got["tools"] == [LOOKUP] and got["input_timeout_s"] == 120 and got["tool_timeout_s"] == 30

    r = call(http_event("POST", f"/v1/jobs/{job_id}/runs", body={"inputs": {"order": "A-17"}}, key=key))
    assert r.status == 202, r.text
    run = call(http_event("GET", f"/v1/runs/{r.json['task_id']}", key=key)).json
    assert run["human_input"] is True and run["input_timeout_s"] == 120
    assert [t["name"] for t in run["tools"]] == ["lookup_order"] and run["tool_timeout_s"] == 30

    # A run's own values win: its tools replace the job's, human_input false turns asking off.
    other = {**LOOKUP, "name": "refund_order", "description": "Refund an order."}
    override = {"inputs": {"order": "A-18"}, "human_input": False, "tools": [other]}
    r = call(http_event("POST", f"/v1/jobs/{job_id}/runs", body=override, key=key))
    assert r.status == 202, r.text
    run = call(http_event("GET", f"/v1/runs/{r.json['task_id']}", key=key)).json
    assert run["human_input"] is False and [t["name"] for t in run["tools"]] == ["refund_order"]

    # A job's tools are checked like a run's, when the job is made or changed.
    bad = call(http_event("POST", "/v1/jobs", body={**body, "tools": [{**LOOKUP, "name": "click"}]}, key=key))
    assert bad.status == 422 and ["body", "tools", "0", "name"] in [d["loc"] for d in bad.json["error"]["details"]]
    bad = call(http_event("PATCH", f"/v1/jobs/{job_id}", body={"tools": [LOOKUP, LOOKUP]}, key=key))
    assert bad.status == 422 and ["body", "tools"] in [d["loc"] for d in bad.json["error"]["details"]]
    cleared = call(http_event("PATCH", f"/v1/jobs/{job_id}", body={"tools": None, "human_input": None}, key=key))
    assert cleared.status == 200 and cleared.json["tools"] is None
    r = call(http_event("POST", f"/v1/jobs/{job_id}/runs", body={"inputs": {"order": "A-19"}}, key=key))
    run = call(http_event("GET", f"/v1/runs/{r.json['task_id']}", key=key)).json
    assert run["human_input"] is False and not run["tools"]
