"""``openhelm`` command line: ``openhelm dev`` runs the embedded local stack in the foreground;
``openhelm view bundle.zip`` opens a run's trace bundle offline (devstack/view.py).

stdout is a machine-readable channel for whoever starts the stack (``make demo``, e2e tests): the
first line is ``OPENHELM_READY url=...`` once the API answers and every org exists, then one
``OPENHELM_KEY org=<name> key=<api key>`` line per org, then one ``OPENHELM_FUNCTION_URL
name=<logical id> url=...`` line per function URL (the OpenAI-compatible endpoint is
``ChatCompletionsFunctionUrl``). Everything else (logs, handler output,
sandbox subprocesses) goes to stderr: file descriptor 1 itself is pointed at stderr, and the
protocol lines are written to a private duplicate of the original stdout.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from devstack.bootstrap import BootstrapOrg
from devstack.local_env import DEV_PARAMS, announce, local_config

DEFAULT_MCP_BASE_URL = "http://127.0.0.1:8787"  # devstack.mcp_stdio.DEFAULT_BASE_URL, without its imports


def default_template() -> Path:
    """template.yaml in the working directory, else the one of this checkout."""
    here = Path.cwd() / "template.yaml"
    return here if here.is_file() else Path(__file__).resolve().parent.parent / "template.yaml"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openhelm", description="OpenHelm developer commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run the embedded local stack in the foreground")
    dev.add_argument("--port", type=int, default=8787, help="gateway port on 127.0.0.1 (0: any free port)")
    dev.add_argument("--org", action="append", default=[], metavar="NAME", help="create this org and an API key")
    dev.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="template parameter override")
    dev.add_argument("--template", type=Path, default=None, help="SAM template (default: ./template.yaml)")
    dev.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    demo = sub.add_parser("demo", help="start the local stack and complete one real browser run")
    demo.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "WARNING"))
    view = sub.add_parser("view", help="open a run's trace bundle (GET /v1/runs/{id}/bundle) offline")
    view.add_argument("bundle", type=Path, help="the bundle's zip file")
    view.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    view.add_argument("--no-open", action="store_true", help="print the URL only; do not open a browser")
    mcp = sub.add_parser(
        "mcp",
        help="serve the MCP tools on stdin/stdout for a desktop assistant",
        description="MCP server over stdio. The API key comes from OPENHELM_API_KEY, the API from "
        f"OPENHELM_BASE_URL (default {DEFAULT_MCP_BASE_URL}).",
    )
    mcp.add_argument("--base-url", default=None, help="the API's base URL (overrides OPENHELM_BASE_URL)")
    mcp.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "WARNING"))
    from devstack.admin import add_parser as add_admin

    add_admin(sub)
    return parser


def dev_params(
    template: Path, overrides: dict[str, str], base: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Dev defaults ``base`` (for the parameters the template declares; default DEV_PARAMS) +
    overrides, plus a random per-session value for every NoEcho parameter without a default
    (secrets such as the run-token HMAC key: nothing to configure locally)."""
    from devstack.template import load_yaml

    declared: dict[str, Any] = load_yaml(template).get("Parameters") or {}
    defaults = DEV_PARAMS if base is None else base
    params = {**{k: v for k, v in defaults.items() if k in declared}, **overrides}
    generated: list[str] = []
    for name, spec in declared.items():
        if name not in params and "Default" not in spec and str(spec.get("NoEcho")).lower() == "true":
            params[name] = secrets.token_urlsafe(max(32, int(spec.get("MinLength", 32))))
            generated.append(name)
    return params, generated


def run_dev(
    args: argparse.Namespace,
    *,
    stop: threading.Event,
    out: TextIO,
    bootstrap: BootstrapOrg | None = None,
) -> int:
    """Start the stack, create the orgs, announce, serve until ``stop`` is set. Returns an exit code.

    Kept apart from :func:`main` (signals, file descriptors) so tests can run it in a thread.
    """
    from devstack.stack import EmbeddedStack
    from devstack.template import TemplateError, parse_params
    from shared.logging import get_logger

    log = get_logger("devstack.cli")
    template = (args.template or default_template()).resolve()
    # OPENAI_API_KEY, OPENAI_BASE_URL, OPENHELM_MODEL and explicit OPENHELM_* settings (which win).
    config = local_config(os.environ)
    try:
        params, generated = dev_params(template, parse_params(args.param), base=config.params)
    except (TemplateError, OSError) as exc:
        log.error("bad_parameters", error=str(exc))
        return 2
    if generated:
        log.info("generated_secret_parameters", names=generated, note="random per session; pass --param to fix")

    stack = EmbeddedStack(template, params, port=args.port, env=config.env, preload=True)
    try:
        stack.start()
    except Exception as exc:
        log.exception("stack_start_failed", error=str(exc))
        return 1
    announce(log, stack.environment, config)
    try:
        if bootstrap is None:
            from devstack.bootstrap import bootstrap_org

            bootstrap = bootstrap_org
        keys: list[tuple[str, str]] = []
        for name in args.org:
            try:
                _org_id, api_key = bootstrap(name)
            except Exception as exc:
                log.exception("org_bootstrap_failed", org=name, error=str(exc))
                return 1
            keys.append((name, api_key))
        out.write(f"OPENHELM_READY url={stack.url}\n")
        for name, api_key in keys:
            out.write(f"OPENHELM_KEY org={name} key={api_key}\n")
        for name, endpoint in stack.function_urls.items():
            out.write(f"OPENHELM_FUNCTION_URL name={name} url={endpoint.url}\n")
        out.flush()
        log.info("ready", url=stack.url, orgs=[n for n, _ in keys], start_ms=round(stack.started_s * 1000))
        while not stop.wait(0.5):
            pass
        log.info("stopping")
        return 0
    finally:
        stack.stop()


def run_view(args: argparse.Namespace, *, stop: threading.Event, out: TextIO) -> int:
    """Check the bundle, serve it on 127.0.0.1, print ``OPENHELM_VIEW url=...`` (and open a browser
    unless ``--no-open``), serve until ``stop`` is set. Exit 2: not a readable bundle; 0 otherwise (a
    bundle that does not match its manifest still opens, and the page and stderr say so)."""
    import zipfile

    from devstack.view import BundleServer, signing_key
    from shared.config import Settings
    from shared.viewer.bundle import BundleError

    try:
        server = BundleServer(args.bundle, args.port, key=signing_key(Settings.from_env())).start()
    except (OSError, zipfile.BadZipFile, BundleError) as exc:
        sys.stderr.write(f"openhelm view: {args.bundle}: {exc}\n")
        return 2
    try:
        check = server.check
        state = "intact" if check.intact else "DOES NOT MATCH its manifest: " + "; ".join(check.problems[:5])
        sys.stderr.write(
            f"openhelm view: run {check.run.get('id')} ({check.run.get('status')}): {check.verified} files, "
            f"{state}; signature {check.signature}. Ctrl-C stops.\n"
        )
        out.write(f"OPENHELM_VIEW url={server.url}\n")
        out.flush()
        if not args.no_open:
            import webbrowser

            webbrowser.open(server.url)
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        server.close()


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _protocol_stdout() -> TextIO:
    """Keep the real stdout for the protocol lines and send fd 1 to stderr for everyone else."""
    sys.stdout.flush()
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    return proto


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point (``openhelm``)."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from devstack.demo import run_demo
        from shared.logging import configure

        configure(args.log_level, stream=sys.stderr)
        return run_demo(sys.stdout)
    if args.command == "mcp":
        from devstack.mcp_stdio import run_stdio
        from shared.logging import configure

        configure(args.log_level, stream=sys.stderr)  # stdout is the protocol's
        return run_stdio(os.environ, base_url=args.base_url)
    if args.command == "admin":
        from devstack.admin import run_admin
        from shared.logging import configure

        configure(os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr)
        return run_admin(args, sys.stdout)
    if args.command == "view":
        return run_view(args, stop=_stop_on_signals(), out=sys.stdout)
    if args.command != "dev":  # pragma: no cover - argparse rejects unknown commands
        return 2
    out = _protocol_stdout()
    from shared.logging import configure

    configure(args.log_level, stream=sys.stderr)
    stop = _stop_on_signals()
    try:
        return run_dev(args, stop=stop, out=out)
    finally:
        out.close()


if __name__ == "__main__":
    sys.exit(main())
