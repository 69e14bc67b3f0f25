"""``openhelm``: run browser tasks and look at runs from a terminal, on the SDK.

    openhelm run "List the pricing tiers" --start-url https://example.com --schema schema.json --wait
    openhelm runs list | get ID | cancel ID | watch ID      (--json for scripts)
    openhelm sessions create | list | get | task | action | pause | resume | stop | close
    openhelm files upload | list | get | download | delete
    openhelm profiles list | get | delete                    (cli_resources.py)

The key comes from --api-key or $OPENHELM_API_KEY, the API from --base-url or $OPENHELM_BASE_URL.

Exit codes (``EXIT_CODES``): 0 done (the run succeeded), 1 the run failed (or the session failed, or a
direct action was not ok), 2 bad usage, 3 the run
was cancelled, 4 still running when --timeout ran out, 5 the API refused the request (4xx: key,
not found, invalid), 6 the API could not be reached or kept failing (5xx), 130 interrupted (Ctrl-C;
the run goes on).

Commands this package does not know go to the ``openhelm.cli`` entry point named ``default`` when
one is installed: the OpenHelm project registers its developer commands there (``openhelm dev``,
``openhelm admin``), so one ``openhelm`` serves both and neither package overwrites the other's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from openhelm_sdk import __version__, cli_resources
from openhelm_sdk._base import ENV_API_KEY, ENV_BASE_URL
from openhelm_sdk._progress import ProgressLine, describe
from openhelm_sdk.client import Client
from openhelm_sdk.errors import APIConnectionError, APIError, RunWaitTimeout, ServerError
from openhelm_sdk.models import Run, RunStatus

if TYPE_CHECKING:
    from pydantic import BaseModel

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_RUN_CANCELLED = 3
EXIT_TIMEOUT = 4
EXIT_API_REFUSED = 5
EXIT_API_UNAVAILABLE = 6
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    EXIT_OK: "done (the run succeeded)",
    EXIT_RUN_FAILED: "the run failed (or the session failed, or the direct action was not ok)",
    EXIT_USAGE: "bad usage",
    EXIT_RUN_CANCELLED: "the run was cancelled",
    EXIT_TIMEOUT: "still running when --timeout ran out",
    EXIT_API_REFUSED: "the API refused the request (4xx)",
    EXIT_API_UNAVAILABLE: "the API could not be reached or kept failing (5xx)",
    EXIT_INTERRUPTED: "interrupted (the run goes on)",
}
OWN_COMMANDS = {"run", "runs", *cli_resources.COMMANDS}
PLUGIN_GROUP = "openhelm.cli"
BY_STATUS = {RunStatus.SUCCEEDED: EXIT_OK, RunStatus.FAILED: EXIT_RUN_FAILED, RunStatus.CANCELLED: EXIT_RUN_CANCELLED}


class UsageError(Exception):
    pass


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key", help=f"API key (default: ${ENV_API_KEY})")
    parser.add_argument("--base-url", help=f"API base URL (default: ${ENV_BASE_URL}, else http://127.0.0.1:8787)")
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
    epilog = f"exit codes:\n{codes}"
    if _plugin() is not None:
        epilog += "\n\nDeveloper commands of the OpenHelm checkout (dev, demo, admin, ...): `openhelm dev --help`."
    parser = argparse.ArgumentParser(
        prog="openhelm",
        description="Run agentic browser tasks on an OpenHelm API.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"openhelm-sdk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,runs,sessions,files,profiles}")

    run = sub.add_parser("run", help="create a run (and with --wait, show its progress and print its result)")
    _common(run)
    run.add_argument("prompt", help="what the agent should do")
    run.add_argument("--schema", type=Path, help="JSON Schema file the result must match")
    run.add_argument("--start-url", help="page the browser opens first")
    run.add_argument("--input", action="append", default=[], metavar="NAME=VALUE", help="a {{NAME}} placeholder value")
    run.add_argument("--inputs", type=Path, metavar="FILE", help="JSON object of inputs")
    run.add_argument("--model")
    run.add_argument("--project", dest="project_id")
    run.add_argument("--max-steps", type=int)
    run.add_argument("--max-duration", dest="max_duration_s", type=int, metavar="SECONDS")
    run.add_argument("--max-cost", dest="max_cost_usd", metavar="USD")
    run.add_argument("--allow-domain", dest="allowed_domains", action="append", metavar="DOMAIN")
    run.add_argument("--block-domain", dest="blocked_domains", action="append", metavar="DOMAIN")
    run.add_argument("--webhook-url")
    run.add_argument("--idempotency-key", help="reuse to get the same run back instead of a second one")
    run.add_argument("--wait", action="store_true", help="wait for the run to finish, with live progress")
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="with --wait: give up waiting after this")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress line")

    runs = sub.add_parser("runs", help="list, get, cancel or watch runs")
    rsub = runs.add_subparsers(dest="action", required=True)
    ls = rsub.add_parser("list", help="newest first")
    _common(ls)
    ls.add_argument("--status", choices=[s.value for s in RunStatus])
    ls.add_argument("--project", dest="project_id")
    ls.add_argument("--job", dest="job_id")
    ls.add_argument("--limit", type=int, default=20, help="at most this many runs (0: all)")
    for name, text in (("get", "show one run"), ("cancel", "cancel a queued or running run")):
        p = rsub.add_parser(name, help=text)
        _common(p)
        p.add_argument("run_id")
    watch = rsub.add_parser("watch", help="show a run's progress until it ends, then its result")
    _common(watch)
    watch.add_argument("run_id")
    watch.add_argument("--timeout", type=float, metavar="SECONDS")
    watch.add_argument("--quiet", "-q", action="store_true")
    cli_resources.add_parsers(sub, _common)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    client_factory: Callable[..., Client] = Client,
) -> int:
    """Console script entry point; returns the exit code."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    out, err = stdout or sys.stdout, stderr or sys.stderr
    if args_in and not args_in[0].startswith("-") and args_in[0] not in OWN_COMMANDS:
        plugin = _plugin()
        if plugin is not None:
            try:
                return int(plugin(args_in) or 0)
            except SystemExit as exc:  # its argparse (--help, a usage error)
                return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    try:
        args = build_parser().parse_args(args_in)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        with client_factory(api_key=args.api_key, base_url=args.base_url) as client:
            if args.command == "run":
                return _run(client, args, out, err)
            if args.command == "runs":
                return _runs(client, args, out, err)
            return cli_resources.dispatch(client, args, out, err)
    except UsageError as exc:
        err.write(f"openhelm: {exc}\n")
        return EXIT_USAGE
    except ValueError as exc:  # no API key
        err.write(f"openhelm: {exc}\n")
        return EXIT_USAGE
    except RunWaitTimeout as exc:
        err.write(f"openhelm: {exc}; `openhelm runs watch {exc.run.id}` to keep watching\n")
        if args.json:
            _write_json(out, exc.run)
        return EXIT_TIMEOUT
    except (ServerError, APIConnectionError) as exc:
        err.write(f"openhelm: the API is unavailable: {exc}\n")
        return EXIT_API_UNAVAILABLE
    except APIError as exc:
        err.write(f"openhelm: {exc}\n")
        if args.json:
            out.write(
                json.dumps(
                    {
                        "error": {
                            "status": exc.status_code,
                            "type": exc.type,
                            "code": exc.code,
                            "message": exc.message,
                            "details": exc.details,
                        }
                    }
                )
                + "\n"
            )
        return EXIT_API_REFUSED
    except KeyboardInterrupt:
        err.write("\nopenhelm: interrupted\n")
        return EXIT_INTERRUPTED


def _plugin() -> Callable[[list[str]], int] | None:
    for entry in metadata.entry_points(group=PLUGIN_GROUP):
        if entry.name == "default":
            return entry.load()
    return None


def _run(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    fields: dict[str, Any] = {
        k: getattr(args, k)
        for k in (
            "start_url",
            "model",
            "project_id",
            "max_steps",
            "max_duration_s",
            "max_cost_usd",
            "allowed_domains",
            "blocked_domains",
            "webhook_url",
        )
        if getattr(args, k) is not None
    }
    if args.schema:
        fields["output_schema"] = _read_json(args.schema, "--schema")
    inputs = _read_json(args.inputs, "--inputs") if args.inputs else {}
    inputs.update(_pairs(args.input, "--input"))
    if inputs:
        fields["inputs"] = inputs
    if not args.wait:
        run = client.runs.create(args.prompt, idempotency_key=args.idempotency_key, **fields)
        if args.json:
            _write_json(out, run)
        else:
            out.write(run.id + "\n")
            err.write(f"{run.status.value}; `openhelm runs watch {run.id}` to follow it\n")
        return EXIT_OK
    run = client.runs.create(args.prompt, idempotency_key=args.idempotency_key, **fields)
    if not args.json:
        err.write(f"run {run.id}\n")
    return _follow(client, run, args, out, err)


def _runs(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.action == "list":
        runs = client.runs.list(
            status=args.status, project_id=args.project_id, job_id=args.job_id, limit=args.limit or None
        )
        for run in runs:
            if args.json:
                _write_json(out, run)
            else:
                created = run.created_at.strftime("%Y-%m-%d %H:%M:%S")
                prompt = " ".join(run.prompt.split())
                out.write(f"{run.id}  {run.status.value:<10} {created}  {prompt[:60]}\n")
        return EXIT_OK
    if args.action == "get":
        run = client.runs.get(args.run_id)
        if args.json:
            _write_json(out, run)
        else:
            _write_summary(out, run)
        return EXIT_OK
    if args.action == "cancel":
        run = client.runs.cancel(args.run_id)
        if args.json:
            _write_json(out, run)
        else:
            out.write(f"{run.id} {run.status.value}\n")
        return EXIT_OK
    return _follow(client, client.runs.get(args.run_id), args, out, err)


def _follow(client: Client, run: Run, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Wait for a run with the progress line, then print its result (or its error)."""
    try:
        if args.quiet:
            final = client.runs.wait(run.id, timeout=args.timeout)
        else:
            with ProgressLine(err) as line:
                line.update(run)
                final = client.runs.wait(run.id, timeout=args.timeout, on_update=line.update)
    except KeyboardInterrupt:
        err.write(f"\ninterrupted: run {run.id} goes on (`openhelm runs cancel {run.id}` stops it)\n")
        return EXIT_INTERRUPTED
    if args.json:
        _write_json(out, final)
    elif final.status == RunStatus.SUCCEEDED:
        result = final.result
        out.write((result if isinstance(result, str) else json.dumps(result, indent=2, ensure_ascii=False)) + "\n")
        if final.confidence:
            err.write(f"confidence {final.confidence.score:.2f}: {final.confidence.reason}\n")
        if final.usage:
            err.write(f"cost ${final.usage.cost_usd} ({final.usage.cost_status})\n")
    elif final.error:
        err.write(f"{final.status.value}: {final.error.code}: {final.error.message}\n")
    else:
        err.write(f"{final.status.value}\n")
    return BY_STATUS.get(final.status, EXIT_RUN_FAILED)


def _write_summary(out: TextIO, run: Run) -> None:
    rows = [
        ("id", run.id),
        ("status", describe(run, ((run.finished_at or run.created_at) - run.created_at).total_seconds())),
        ("prompt", run.prompt),
        ("model", run.model),
        ("created", run.created_at.isoformat()),
    ]
    if run.finished_at:
        rows.append(("finished", run.finished_at.isoformat()))
    if run.usage:
        rows.append(("cost", f"${run.usage.cost_usd} ({run.usage.cost_status})"))
    if run.confidence:
        rows.append(("confidence", f"{run.confidence.score:.2f} {run.confidence.reason}"))
    if run.error:
        rows.append(("error", f"{run.error.code}: {run.error.message}"))
    for key, value in rows:
        out.write(f"{key:<11}{value}\n")
    for step in run.steps or []:
        out.write(f"  {step.index:>3} {step.action:<10} {step.url or ''}\n")
    if run.result is not None:
        out.write("result\n" + json.dumps(run.result, indent=2, ensure_ascii=False) + "\n")


def _write_json(out: TextIO, obj: BaseModel) -> None:
    out.write(obj.model_dump_json(by_alias=True) + "\n")
    out.flush()


def _pairs(pairs: Sequence[str], flag: str) -> dict[str, str]:
    """``NAME=VALUE`` arguments as a dict."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"{flag} wants NAME=VALUE, got {pair!r}")
        found[name] = value
    return found


def _read_json(path: Path, flag: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{flag} {path}: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
