"""``python -m evals``: run the eval suite against the OpenAI-compatible model the environment names.

    OPENAI_BASE_URL=http://127.0.0.1:8088/v1 OPENAI_API_KEY=sk-local OPENHELM_MODEL=qwen2.5-coder-1.5b-instruct \\
        python -m evals --only search,js-tide --max-steps 8 --json evals-before.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from evals.runner import fixture_server, local_stack, report, run_suite, select
from evals.tasks import TASKS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals", description="Run the OpenHelm eval suite.")
    parser.add_argument("--only", help="comma-separated task ids, id prefixes or categories")
    parser.add_argument("--limit", type=int, help="run at most this many of the selected tasks")
    parser.add_argument("--max-steps", type=int, default=8, help="max_steps of every run (default 8)")
    parser.add_argument(
        "--max-duration", type=int, default=600, help="max_duration_s of every run (default 600, the default org cap)"
    )
    parser.add_argument("--json", type=Path, help="also write the full report (per task and totals) here")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    args = parser.parse_args(argv)

    tasks = select(TASKS, args.only, args.limit)
    if args.list:
        for t in tasks:
            sys.stdout.write(f"{t.id:<24} {t.category:<11} {t.prompt[:80]}\n")
        return 0
    if not (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENHELM_LLM_API_KEY")):
        sys.stderr.write(
            "no model configured: set OPENAI_BASE_URL, OPENAI_API_KEY and OPENHELM_MODEL "
            "(or run `make eval-model` for the offline one)\n"
        )
        return 2

    # A stopped eval (kill, or Ctrl-C where SIGINT is ignored, as in a background job) still leaves the stack
    # through its context managers, so no sandbox or Chromium outlives it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from shared.logging import configure

    configure("ERROR", stream=sys.stderr)
    from shared.orgs import bootstrap_org

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with fixture_server() as site, local_stack(os.environ) as stack:
        _org, key = bootstrap_org("evals")
        sys.stdout.write(
            f"model {os.environ.get('OPENHELM_MODEL') or os.environ.get('OPENHELM_DEFAULT_MODEL', '(default)')} at "
            f"{os.environ.get('OPENAI_BASE_URL') or os.environ.get('OPENHELM_LLM_BASE_URL', '(default)')}; "
            f"{len(tasks)} tasks, max_steps {args.max_steps}\n"
        )
        meta = {
            "started": started,
            "model": os.environ.get("OPENHELM_MODEL"),
            "base_url": os.environ.get("OPENAI_BASE_URL"),
            "max_steps": args.max_steps,
        }

        def save(outcomes: list) -> None:
            if args.json:
                text = json.dumps(report(outcomes, meta), indent=2, ensure_ascii=False, default=str)
                args.json.write_text(text + "\n")

        run_suite(
            stack.url,
            key,
            site,
            tasks,
            max_steps=args.max_steps,
            max_duration_s=args.max_duration,
            on_outcome=save,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
