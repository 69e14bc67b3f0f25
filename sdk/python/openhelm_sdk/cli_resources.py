"""``openhelm sessions | files | profiles``: the CLI's commands over the SDK's resources of those names.

    openhelm sessions create --start-url https://example.com --wait-ready
    openhelm sessions task SESSION_ID "List the pricing tiers" --schema schema.json --wait
    openhelm sessions action SESSION_ID navigate --url https://example.com/pricing
    openhelm sessions list | get ID | pause ID | resume ID | stop ID | close ID
    openhelm files upload orders.csv | list | get ID | download ID [-o PATH] | delete ID
    openhelm profiles list | get ID | delete ID

Each is one SDK call (``sessions task --wait`` follows the task, a run, exactly as ``run --wait``
does); ``--json`` writes the API's objects, one JSON object a line for lists. Exit codes are
``cli.EXIT_CODES``: a session that failed or closed before it was ready, or a direct action that
was not ok, exits 1 as a failed run does.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from openhelm_sdk.client import Client
from openhelm_sdk.models import SessionStatus

COMMANDS = ("sessions", "files", "profiles")
ACTIONS = (
    "navigate",
    "evaluate",
    "screenshot",
    "extract",
    "click",
    "type",
    "key_press",
    "scroll",
    "go_back",
    "wait_for",
)
# Flags of `sessions action` and the action argument each sets (the API validates which go with which).
ACTION_ARGS: dict[str, tuple[str, type]] = {
    "url": ("navigate: the URL", str),
    "expression": ("evaluate: a JavaScript expression", str),
    "ref": ("click/type: an element ref from the last extract", str),
    "x": ("click: x in CSS pixels (with --y, instead of --ref)", float),
    "y": ("click: y in CSS pixels", float),
    "text": ("type: the text; wait_for: text to wait for", str),
    "key": ("key_press: a key name (Enter, Tab, Control+A)", str),
    "direction": ("scroll: up or down", str),
    "amount": ("scroll: how many screens", float),
    "selector": ("wait_for: a CSS selector", str),
    "timeout_s": ("evaluate/wait_for: seconds", float),
    "instruction": ("extract: what to extract, for the model (with --schema)", str),
}
NOT_READY = {SessionStatus.CLOSED, SessionStatus.EXPIRED, SessionStatus.FAILED}


def add_parsers(sub: Any, common: Any) -> None:
    """The three command groups on ``openhelm``'s subparsers; ``common`` adds --api-key/--base-url/--json."""
    sessions = sub.add_parser("sessions", help="live browser sessions: create, work in (tasks, actions), close")
    ssub = sessions.add_subparsers(dest="action", required=True)
    create = ssub.add_parser("create", help="start a session (prints its id)")
    common(create)
    create.add_argument("--start-url", help="page the browser opens first")
    create.add_argument("--allow-domain", dest="allowed_domains", action="append", metavar="DOMAIN")
    create.add_argument("--block-domain", dest="blocked_domains", action="append", metavar="DOMAIN")
    create.add_argument("--idle-timeout", dest="idle_timeout_s", type=int, metavar="SECONDS")
    create.add_argument("--max-duration", dest="max_duration_s", type=int, metavar="SECONDS")
    create.add_argument("--profile", dest="profile_id", help="browser profile the session starts with")
    create.add_argument("--persist-profile", action="store_true", default=None, help="save the state back on close")
    create.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE")
    create.add_argument("--wait-ready", action="store_true", help="wait until the browser is up")
    create.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="with --wait-ready (60)")
    ls = ssub.add_parser("list", help="newest first")
    common(ls)
    ls.add_argument("--status", choices=[s.value for s in SessionStatus])
    ls.add_argument("--limit", type=int, default=20, help="at most this many (0: all)")
    for name, text in (
        ("get", "show one session"),
        ("pause", "pause its running task"),
        ("resume", "resume its paused task"),
        ("stop", "end its running task (the session stays, ready)"),
        ("close", "end the session and its browser"),
    ):
        p = ssub.add_parser(name, help=text)
        common(p)
        p.add_argument("session_id")
    task = ssub.add_parser("task", help="run an agent task in a ready session (a run; --wait as `run --wait`)")
    common(task)
    task.add_argument("session_id")
    task.add_argument("prompt", help="what the agent should do")
    task.add_argument("--schema", type=Path, help="JSON Schema file the result must match")
    task.add_argument("--start-url", help="page to open first, in the session's tab")
    task.add_argument("--input", action="append", default=[], metavar="NAME=VALUE", help="a {{NAME}} value")
    task.add_argument("--inputs", type=Path, metavar="FILE", help="JSON object of inputs")
    task.add_argument("--file", dest="file_ids", action="append", metavar="FILE_ID", help="a file for the agent")
    task.add_argument("--model")
    task.add_argument("--max-steps", type=int)
    task.add_argument("--max-duration", dest="max_duration_s", type=int, metavar="SECONDS")
    task.add_argument("--max-cost", dest="max_cost_usd", metavar="USD")
    task.add_argument("--idempotency-key", help="reuse to get the same task back instead of a second one")
    task.add_argument("--wait", action="store_true", help="wait for the task to finish, with live progress")
    task.add_argument("--timeout", type=float, metavar="SECONDS", help="with --wait: give up waiting after this")
    task.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    act = ssub.add_parser("action", help="one direct browser action (no LLM), answered when done")
    common(act)
    act.add_argument("session_id")
    act.add_argument("name", choices=ACTIONS, metavar="ACTION", help=", ".join(ACTIONS))
    for flag, (text, kind) in ACTION_ARGS.items():
        act.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind, help=text)
    act.add_argument("--submit", action="store_true", default=None, help="type: press Enter afterwards")
    act.add_argument("--schema", type=Path, help="extract: JSON Schema of what to extract")

    files = sub.add_parser("files", help="files runs and tasks can attach: upload, list, get, download, delete")
    fsub = files.add_subparsers(dest="action", required=True)
    up = fsub.add_parser("upload", help="upload a file (prints its id)")
    common(up)
    up.add_argument("path", type=Path)
    up.add_argument("--name", help="name it is known by (default: the file's)")
    up.add_argument("--content-type")
    ls = fsub.add_parser("list", help="newest first")
    common(ls)
    ls.add_argument("--limit", type=int, default=20, help="at most this many (0: all)")
    for name, text in (("get", "show one file"), ("delete", "delete a file")):
        p = fsub.add_parser(name, help=text)
        common(p)
        p.add_argument("file_id")
    down = fsub.add_parser("download", help="save a file's bytes")
    common(down)
    down.add_argument("file_id")
    down.add_argument("--output", "-o", help="where (default: its name in this folder; '-': stdout)")
    down.add_argument("--force", action="store_true", help="overwrite an existing file")

    profiles = sub.add_parser("profiles", help="saved browser state: list, get, delete")
    psub = profiles.add_subparsers(dest="action", required=True)
    ls = psub.add_parser("list", help="newest first")
    common(ls)
    ls.add_argument("--limit", type=int, default=20, help="at most this many (0: all)")
    for name, text in (("get", "show one profile"), ("delete", "delete a profile")):
        p = psub.add_parser(name, help=text)
        common(p)
        p.add_argument("profile_id")


def dispatch(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    handler = {"sessions": _sessions, "files": _files, "profiles": _profiles}[args.command]
    return handler(client, args, out, err)


def _sessions(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from openhelm_sdk import cli

    if args.action == "create":
        return _create_session(client, args, out, err)
    if args.action == "list":
        listed = client.sessions.list(status=args.status, limit=args.limit or None)
        for s in listed:
            created = s.created_at.strftime("%Y-%m-%d %H:%M:%S")
            _show(out, args, s, f"{s.id}  {s.status.value:<9} {created}  {s.current_url or s.start_url or ''}")
        return cli.EXIT_OK
    if args.action == "get":
        session = client.sessions.get(args.session_id)
        _show(out, args, session, lambda: _session_summary(out, session))
        return cli.EXIT_OK
    if args.action in ("pause", "resume", "stop", "close"):
        session = getattr(client.sessions, args.action)(args.session_id)
        _show(out, args, session, f"{session.id} {session.status.value}")
        return cli.EXIT_OK
    if args.action == "task":
        return _task(client, args, out, err)
    return _action(client, args, out, err)


def _create_session(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from openhelm_sdk import cli

    fields: dict[str, Any] = {
        k: getattr(args, k)
        for k in (
            "start_url",
            "allowed_domains",
            "blocked_domains",
            "idle_timeout_s",
            "max_duration_s",
            "profile_id",
            "persist_profile",
        )
        if getattr(args, k) is not None
    }
    if args.metadata:
        fields["metadata"] = cli._pairs(args.metadata, "--metadata")
    session = client.sessions.create(**fields)
    if args.wait_ready:
        if not args.json:
            err.write(f"session {session.id} starting\n")
        try:
            session = client.sessions.wait_ready(session.id, timeout=args.timeout)
        except TimeoutError as exc:
            err.write(f"openhelm: {exc}; `openhelm sessions get {session.id}` to look again\n")
            return cli.EXIT_TIMEOUT
    if args.json:
        cli._write_json(out, session)
    else:
        out.write(session.id + "\n")
        if session.status in NOT_READY:
            err.write(f"{session.status.value}{_error(session)}\n")
        else:
            hint = f'`openhelm sessions task {session.id} "..." --wait` to work in it'
            err.write(f"{session.status.value}{' · ' + session.current_url if session.current_url else ''}; {hint}\n")
    return cli.EXIT_RUN_FAILED if session.status in NOT_READY else cli.EXIT_OK


def _task(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from openhelm_sdk import cli

    fields: dict[str, Any] = {
        k: getattr(args, k)
        for k in ("start_url", "model", "max_steps", "max_duration_s", "max_cost_usd", "file_ids")
        if getattr(args, k) is not None
    }
    if args.schema:
        fields["output_schema"] = cli._read_json(args.schema, "--schema")
    inputs = cli._read_json(args.inputs, "--inputs") if args.inputs else {}
    inputs.update(cli._pairs(args.input, "--input"))
    if inputs:
        fields["inputs"] = inputs
    run = client.sessions.task(args.session_id, args.prompt, idempotency_key=args.idempotency_key, **fields)
    if not args.wait:
        if args.json:
            cli._write_json(out, run)
        else:
            out.write(run.id + "\n")
            err.write(f"{run.status.value}; `openhelm runs watch {run.id}` to follow it\n")
        return cli.EXIT_OK
    if not args.json:
        err.write(f"task {run.id} in session {args.session_id}\n")
    return cli._follow(client, run, args, out, err)


def _action(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from openhelm_sdk import cli

    extra = {k: getattr(args, k) for k in (*ACTION_ARGS, "submit") if getattr(args, k) is not None}
    if args.schema:
        extra["output_schema"] = cli._read_json(args.schema, "--schema")
    result = client.sessions.action(args.session_id, args.name, **extra)
    if args.json:
        cli._write_json(out, result)
    elif result.ok:
        if result.result is not None:
            value = result.result
            out.write((value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)) + "\n")
        url = result.step.url if result.step else None
        err.write(f"ok{' · ' + url if url else ''}\n")
    else:
        err.write(f"{args.name} failed: {result.error_code + ': ' if result.error_code else ''}{result.error}\n")
    return cli.EXIT_OK if result.ok else cli.EXIT_RUN_FAILED


def _files(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from openhelm_sdk import cli

    if args.action == "upload":
        if not args.path.is_file():
            raise cli.UsageError(f"{args.path}: no such file")
        f = client.files.upload(args.path, name=args.name, content_type=args.content_type)
        if args.json:
            cli._write_json(out, f)
        else:
            out.write(f.id + "\n")
            err.write(f"{f.name} · {f.size} bytes · {f.status}\n")
        return cli.EXIT_OK
    if args.action == "list":
        for f in client.files.list(limit=args.limit or None):
            created = f.created_at.strftime("%Y-%m-%d %H:%M:%S")
            _show(out, args, f, f"{f.id}  {f.status:<7} {f.size:>10}  {created}  {f.name}")
        return cli.EXIT_OK
    if args.action == "get":
        f = client.files.get(args.file_id)
        if args.json:
            cli._write_json(out, f)
        else:
            rows = [("id", f.id), ("name", f.name), ("status", f.status), ("size", f.size)]
            rows += [("type", f.content_type), ("sha256", f.sha256 or ""), ("created", f.created_at.isoformat())]
            _rows(out, rows)
        return cli.EXIT_OK
    if args.action == "delete":
        client.files.delete(args.file_id)
        _deleted(out, args, args.file_id)
        return cli.EXIT_OK
    return _download(client, args, out, err)


def _download(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from openhelm_sdk import cli

    if args.output == "-":
        data = client.files.download(args.file_id)
        sink = getattr(out, "buffer", None)
        if sink is None:  # a text stream (tests): the bytes as text
            out.write(data.decode("utf-8", "replace"))
        else:
            out.flush()
            sink.write(data)
            sink.flush()
        return cli.EXIT_OK
    target = Path(args.output) if args.output else None
    if target is None:
        target = Path(Path(client.files.get(args.file_id).name).name or args.file_id)  # never a path from the API
    if target.exists() and not args.force:
        raise cli.UsageError(f"{target} exists (--force to overwrite)")
    data = client.files.download(args.file_id)
    target.write_bytes(data)
    if args.json:
        out.write(json.dumps({"id": args.file_id, "path": str(target), "size": len(data)}) + "\n")
    else:
        err.write(f"{len(data)} bytes\n")
        out.write(str(target) + "\n")
    return cli.EXIT_OK


def _profiles(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from openhelm_sdk import cli

    if args.action == "list":
        for p in client.profiles.list(limit=args.limit or None):
            used = p.last_used_at.strftime("%Y-%m-%d %H:%M:%S") if p.last_used_at else "never used"
            _show(out, args, p, f"{p.id}  {p.size:>8}  {used:<19}  {p.name}")
        return cli.EXIT_OK
    if args.action == "get":
        p = client.profiles.get(args.profile_id)
        if args.json:
            cli._write_json(out, p)
        else:
            rows = [("id", p.id), ("name", p.name), ("size", p.size), ("cookies", ", ".join(p.cookie_domains or []))]
            rows += [("created", p.created_at.isoformat())]
            rows += [(k, v.isoformat()) for k, v in (("updated", p.updated_at), ("last used", p.last_used_at)) if v]
            if p.locked_by_run:
                rows.append(("locked by", p.locked_by_run))
            _rows(out, rows)
        return cli.EXIT_OK
    client.profiles.delete(args.profile_id)
    _deleted(out, args, args.profile_id)
    return cli.EXIT_OK


def _session_summary(out: TextIO, s: Any) -> None:
    rows: list[tuple[str, Any]] = [("id", s.id), ("status", s.status.value + _error(s))]
    rows += [(k, v) for k, v in (("url", s.current_url), ("title", s.current_title), ("task", s.current_task)) if v]
    rows.append(("tasks", ", ".join(s.tasks or []) or "none"))
    rows.append(("created", s.created_at.isoformat()))
    if s.closed_at:
        rows.append(("closed", f"{s.closed_at.isoformat()} ({s.close_reason.value if s.close_reason else ''})"))
    else:
        rows.append(("expires", s.expires_at.isoformat()))
    if s.usage:
        rows.append(("cost", f"${s.usage.cost_usd} ({s.usage.cost_status}, {s.usage.sandbox_seconds:.0f}s sandbox)"))
    _rows(out, rows)
    for step in s.steps or []:
        out.write(f"  {step.index:>3} {step.action:<10} {step.url or ''}{'  ' + step.error if step.error else ''}\n")


def _error(s: Any) -> str:
    return f": {s.error.code}: {s.error.message}" if s.error else ""


def _show(out: TextIO, args: argparse.Namespace, obj: Any, human: str | Callable[[], None]) -> None:
    """With --json, the API's object as one JSON line; otherwise its human form (a line, or a writer)."""
    from openhelm_sdk import cli

    if args.json:
        cli._write_json(out, obj)
    elif callable(human):
        human()
    else:
        out.write(human + "\n")


def _rows(out: TextIO, rows: list[tuple[str, Any]]) -> None:
    for key, value in rows:
        out.write(f"{key:<11}{value}\n")


def _deleted(out: TextIO, args: argparse.Namespace, object_id: str) -> None:
    out.write((json.dumps({"id": object_id, "deleted": True}) if args.json else f"{object_id} deleted") + "\n")
