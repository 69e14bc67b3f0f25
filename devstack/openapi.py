"""Writes or checks the committed OpenAPI document (docs/openapi.json) against the code.

``python -m devstack.openapi --write docs/openapi.json`` regenerates it; ``--check`` fails when the
committed file differs from what the pydantic models and routes generate (run by ``make lint``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def generate() -> str:
    from shared.api.app import openapi_json

    return json.dumps(json.loads(openapi_json()), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="PATH")
    mode.add_argument("--check", metavar="PATH")
    args = parser.parse_args(argv)
    doc = generate()
    if args.write:
        Path(args.write).write_text(doc)
        return 0
    path = Path(args.check)
    if not path.exists() or path.read_text() != doc:
        sys.stderr.write(f"{path} is out of date with the code: run `make openapi` and commit it\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
