"""Writes or checks ``openhelm_sdk/models.py`` from the API's OpenAPI document (docs/openapi.json).

    python sdk/python/generate_models.py --write   # after `make openapi`
    python sdk/python/generate_models.py --check   # `make lint`: fails when models.py is stale

The API's pydantic models are the source of truth; docs/openapi.json is generated from them and this
script turns its component schemas into the SDK's models. Nothing here is hand-copied.

Why our own ~150 lines and not datamodel-code-generator: a client's models must keep working when
the server grows, so they carry types, defaults and descriptions but neither the server's input
constraints (lengths, patterns, ranges: the API validates and answers 422 with details) nor a ban on
unknown fields; and the output must be byte-stable for the drift check, whatever generator version
a machine has. Stdlib only, so it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import json
import keyword
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SPEC = HERE.parent.parent / "docs" / "openapi.json"
DEFAULT_OUT = HERE / "openhelm_sdk" / "models.py"

# Server-side schemas a client never sees (validation internals, the sandbox's callback reports).
SKIP = {"ResponseValidationError", "CompletionReport", "ExitReport", "ProgressReport"}

HEADER = '''"""Typed models of the OpenHelm API, generated from docs/openapi.json by
sdk/python/generate_models.py. Do not edit: run `python sdk/python/generate_models.py --write`.

Response models accept fields this version does not know yet (``extra="allow"``) and enums values it
does not know (``_OpenEnum``), so an SDK keeps working against a newer server; request models carry
types only, the API validates values.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
{names}
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _OpenEnum(str, Enum):
    """An enum a newer server may extend: a value this version does not know parses as a member of
    its own (``RunStatus("paused_by_policy")``, not a ValidationError), equal to its string, in no
    known group (not terminal, say)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper()
        member._value_ = value
        return member
'''


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def py_type(schema: dict[str, Any]) -> str:
    """The Python annotation of one JSON Schema (the subset pydantic emits)."""
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    if "const" in schema:
        return f"Literal[{schema['const']!r}]"
    if "enum" in schema:
        return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
    for combo in ("anyOf", "oneOf"):
        if combo in schema:
            parts: list[str] = []
            for sub in schema[combo]:
                t = py_type(sub)
                if t not in parts:
                    parts.append(t)
            # number | string (a decimal string) stays both; None goes last
            parts.sort(key=lambda t: t == "None")
            return " | ".join(parts)
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return py_type(schema["allOf"][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(py_type({**schema, "type": k}) for k in kind)
    if kind == "string":
        return "datetime" if schema.get("format") == "date-time" else "str"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    if kind == "null":
        return "None"
    if kind == "array":
        return f"list[{py_type(schema.get('items', {}))}]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        value = py_type(extra) if isinstance(extra, dict) and extra else "Any"
        return f"dict[str, {value}]"
    return "Any"


def _field_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) or name in {"model_config", "schema"} else name


def _class(name: str, schema: dict[str, Any]) -> str:
    if "enum" in schema and schema.get("type") == "string":
        lines = [f"class {name}(_OpenEnum):"]
        if schema.get("description"):
            lines.append(f"    {_doc(schema['description'])}")
            lines.append("")
        lines += [f"    {v.upper()} = {v!r}" for v in schema["enum"]]
        return "\n".join(lines)
    lines = [f"class {name}(_Model):"]
    if schema.get("description"):
        lines.append(f"    {_doc(schema['description'])}")
        lines.append("")
    required = set(schema.get("required", []))
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        lines.append("    pass")
    for prop, sub in props.items():
        annotation = py_type(sub)
        args: list[str] = []
        if prop not in required:
            if "default" in sub:
                default = sub["default"]
                if isinstance(default, list | dict):
                    args.append("default_factory=" + ("list" if isinstance(default, list) else "dict"))
                    if default:
                        args[-1] = f"default_factory=lambda: {default!r}"
                else:
                    args.append(f"default={default!r}")
            else:
                args.append("default=None")
                if "None" not in annotation.split(" | "):
                    annotation += " | None"
        field = _field_name(prop)
        if field != prop:
            args.append(f"alias={prop!r}")
        if sub.get("description"):
            args.append(f"description={sub['description']!r}")
        value = f" = Field({', '.join(args)})" if args else ""
        lines.append(f"    {field}: {annotation}{value}")
    return "\n".join(lines)


def _doc(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'"""{text}"""'


def _max_wait(spec: dict[str, Any]) -> int:
    """The most ``POST /v1/runs?wait=`` accepts (the API's cap below API Gateway's 30 s)."""
    params = spec["paths"]["/v1/runs"]["post"]["parameters"]
    return int(next(p for p in params if p["name"] == "wait")["schema"]["maximum"])


def generate(spec: dict[str, Any]) -> str:
    schemas = {k: v for k, v in sorted(spec["components"]["schemas"].items()) if k not in SKIP}
    names = "\n".join(f"    {name!r}," for name in ["RUNS_MAX_WAIT_S", *schemas])
    body = "\n\n\n".join(_class(name, schema) for name, schema in schemas.items())
    rebuild = "\n".join(f"{name}.model_rebuild()" for name, s in schemas.items() if "enum" not in s)
    constants = f"# The most POST /v1/runs?wait= accepts, in seconds.\nRUNS_MAX_WAIT_S = {_max_wait(spec)}\n"
    return HEADER.format(names=names) + "\n\n" + constants + "\n\n" + body + "\n\n\n" + rebuild + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    code = generate(json.loads(args.spec.read_text()))
    if args.write:
        args.out.write_text(code)
        return 0
    if not args.out.exists() or args.out.read_text() != code:
        sys.stderr.write(f"{args.out} is out of date with {args.spec}: run `python {__file__} --write` and commit it\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
