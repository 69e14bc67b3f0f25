"""The SDK's models are docs/openapi.json's schemas, regenerated, never edited by hand."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("generate_models", ROOT / "sdk" / "python" / "generate_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_models_are_what_the_openapi_document_generates() -> None:
    assert _generator().main(["--check"]) == 0, "run `make openapi` (it regenerates sdk/python/openhelm_sdk/models.py)"


def test_a_new_field_or_schema_in_the_document_reaches_the_generated_code() -> None:
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    doc["components"]["schemas"]["Run"]["properties"]["viewer_url"] = {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "description": "Signed link to the run viewer.",
    }
    doc["components"]["schemas"]["Session"] = {
        "properties": {"id": {"type": "string"}, "status": {"enum": ["open", "closed"], "type": "string"}},
        "required": ["id", "status"],
        "type": "object",
    }
    code = _generator().generate(doc)
    namespace: dict = {}
    exec(compile(code, "models.py", "exec"), namespace)
    assert "viewer_url" in namespace["Run"].model_fields
    session = namespace["Session"].model_validate({"id": "ses_1", "status": "open", "later": 1})
    assert session.status == "open" and session.model_extra == {"later": 1}
