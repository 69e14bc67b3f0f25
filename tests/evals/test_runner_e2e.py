"""The eval runner end to end: the real local stack, real Chromium on the fixture sites, a scripted model
that answers two tasks right (one after really clicking through the site) and one wrong."""

from __future__ import annotations

import io
import json

import pytest

from devstack.testing.fake_openai import FakeOpenAI, ToolCall, find_ref
from evals.runner import fixture_server, local_stack, report, run_suite, select
from evals.tasks import TASKS

pytestmark = pytest.mark.e2e

USAGE = {"prompt_tokens": 1000, "completion_tokens": 50}


def test_runner_reports_passes_failures_steps_and_tokens(tmp_path) -> None:
    script = [
        # nav-founder: the answer is only on the About page, so the model must click there
        lambda body: ToolCall("click", {"ref": find_ref(body, r"link About us")}, usage=USAGE),
        lambda body: ToolCall(
            "done",
            {
                "result": {"founder": "Ingrid Solberg", "year": 1987} if "1987" in json.dumps(body) else {},
                "confidence": 0.9,
                "summary": "from the About page",
            },
            usage=USAGE,
        ),
        # table-lagos: right
        ToolCall(
            "done", {"result": {"population_thousands": 14400}, "confidence": 0.9, "summary": "row 18"}, usage=USAGE
        ),
        # notfound-book: a made-up answer where the right one is "not found"
        ToolCall(
            "done", {"result": {"found": True, "value": "The Hobbit"}, "confidence": 0.8, "summary": "?"}, usage=USAGE
        ),
    ]
    tasks = select(TASKS, "nav-founder,table-lagos,notfound-book")
    out = io.StringIO()
    with FakeOpenAI(script) as llm, fixture_server() as site:
        environ = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-eval-test", "OPENHELM_MODEL": "fake-model"}
        with local_stack(environ) as stack:
            from shared.orgs import bootstrap_org

            _org, key = bootstrap_org("eval-test")
            outcomes = run_suite(stack.url, key, site, tasks, max_steps=5, max_duration_s=120, out=out)

    assert [(o.id, o.success) for o in outcomes] == [
        ("nav-founder", True),
        ("table-lagos", True),
        ("notfound-book", False),
    ], [o.reason for o in outcomes]
    founder, lagos, book = outcomes
    # the start_url's navigation is a step of its own
    assert [a.split()[0] for a in founder.actions] == ["navigate", "click", "done"] and founder.steps == 3
    assert founder.input_tokens == 2000 and founder.output_tokens == 100
    assert lagos.steps == 2 and lagos.input_tokens == 1000
    assert book.status == "succeeded" and "found=false" in book.reason
    printed = out.getvalue()
    assert "notfound-book" in printed and "FAIL" in printed and "2/3 passed (success rate 67%)" in printed

    data = report(outcomes, {"model": "fake-model"})
    assert data["totals"]["passed"] == 2 and data["totals"]["success_rate"] == 0.667
    assert data["totals"]["median_steps"] == 2 and data["totals"]["total_input_tokens"] == 4000
    assert json.loads(json.dumps(data, default=str))["tasks"][2]["result"] == {"found": True, "value": "The Hobbit"}
