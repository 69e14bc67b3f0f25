"""The agent's view of a run's files: the upload tool is offered only with files, named in the prompt."""

from __future__ import annotations

from openhelm_agent.evidence import _safe_name
from openhelm_agent.prompt import build_system_prompt
from openhelm_agent.spec import parse_spec
from openhelm_agent.tools import tool_specs

BASE = {"run_id": "r", "prompt": "Send the form", "model": "m"}


def test_upload_file_is_offered_only_to_runs_with_files() -> None:
    assert "upload_file" not in {t["function"]["name"] for t in tool_specs()}
    assert "upload_file" in {t["function"]["name"] for t in tool_specs(with_files=True)}
    spec = parse_spec(
        {**BASE, "files": [{"name": "cv.pdf", "path": "/x/cv.pdf", "size": 12, "content_type": "application/pdf"}]}
    )
    prompt = build_system_prompt(spec)
    assert "cv.pdf (application/pdf, 12 bytes)" in prompt and "upload_file(ref, file=<name>)" in prompt
    assert "upload_file" not in build_system_prompt(parse_spec(BASE))


def test_download_names_become_plain_file_names() -> None:
    assert _safe_name("../../etc/passwd") == "passwd"
    assert _safe_name("C:\\Users\\me\\report (1).csv") == "report _1_.csv"
    assert _safe_name("...") == "download"
    assert len(_safe_name("a" * 300)) == 100
