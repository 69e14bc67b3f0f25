"""``openhelm admin``: operator commands outside any org, straight on the stack's DynamoDB table
through the domain package (not through the public API, which only ever acts for one org).

Where the table is: ``--table NAME`` (with the usual AWS credentials and region), or ``--stack NAME``
to read the deployed stack's ``MainTableName`` output, or ``--endpoint-url`` for a local stack's
moto server (``openhelm dev`` logs it as ``aws_endpoint`` in ``stack_started``; its one table is
used when none is named). Every command
prints one JSON document on stdout; every change of money leaves a ledger line naming the operator
(``--operator``, default ``$OPENHELM_OPERATOR`` or the login name).

    openhelm admin --stack openhelm org create "Acme" --balance 50
    openhelm admin --table T org list
    openhelm admin --table T org limits org_… --max-concurrent-runs 10 --rate-per-minute 300 --max-cost-usd 5
    openhelm admin --table T balance credit org_… 25 --reason "invoice 2026-014"
    openhelm admin --table T balance debit org_… 2.5 --reason "refund reversal"
    openhelm admin --table T balance floor org_… -10 --reason "credit line"
    openhelm admin --table T balance show org_…   |   balance transactions org_…
    openhelm admin --table T key create org_… --name ci [--scope read] [--expires-at 2027-01-01T00:00:00Z]
    openhelm admin --table T key list org_…   |   key revoke org_… key_… [--force]
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

LIMIT_FLAGS = (
    ("max_duration_s", int),
    ("max_steps", int),
    ("max_input_tokens", int),
    ("max_output_tokens", int),
    ("max_concurrent_runs", int),
    ("rate_per_minute", int),
    ("rate_burst", int),
)


class AdminError(Exception):
    """A command that cannot be done as asked; printed as ``{"error": ...}`` with exit code 1."""


def add_parser(sub: Any) -> None:
    """Register ``admin`` on the ``openhelm`` command's subparsers."""
    admin = sub.add_parser("admin", help="operator commands: orgs, keys, credit and limits")
    where = admin.add_mutually_exclusive_group()
    where.add_argument("--table", help="the stack's DynamoDB table (MainTableName)")
    where.add_argument("--stack", help="a deployed stack's name: its MainTableName output is used")
    admin.add_argument("--region", default=None, help="AWS region (default: the usual AWS configuration)")
    admin.add_argument("--endpoint-url", default=None, help="AWS endpoint, e.g. a local stack's moto server")
    admin.add_argument("--stage", choices=("prod", "dev", "local"), default="prod", help="oh_live_ keys in prod")
    admin.add_argument("--operator", default=None, help="your name, for the ledger")
    what = admin.add_subparsers(dest="admin_command", required=True)

    org = what.add_parser("org", help="orgs").add_subparsers(dest="action", required=True)
    create = org.add_parser("create", help="create an org with its default project and first key")
    create.add_argument("name")
    create.add_argument("--balance", default="0", help="starting credit in USD (a ledger line)")
    org.add_parser("list", help="every org")
    show = org.add_parser("show", help="an org, its limits and balance")
    show.add_argument("org_id")
    limits = org.add_parser("limits", help="set an org's limits and rate (only the flags given change)")
    limits.add_argument("org_id")
    for name, kind in LIMIT_FLAGS:
        limits.add_argument("--" + name.replace("_", "-"), type=kind, default=None)
    limits.add_argument("--max-cost-usd", default=None, help="most one run may cost (and runs' default cap)")

    bal = what.add_parser("balance", help="credit, debit, floor, ledger").add_subparsers(dest="action", required=True)
    for action, text in (("credit", "add credit"), ("debit", "take money off"), ("floor", "set the floor")):
        p = bal.add_parser(action, help=text)
        p.add_argument("org_id")
        p.add_argument("usd", help="amount in USD, e.g. 25 or 0.5 (the floor may be negative)")
        p.add_argument("--reason", required=True, help="why, for the ledger")
    bal.add_parser("show", help="the balance").add_argument("org_id")
    txns = bal.add_parser("transactions", help="the ledger, newest first")
    txns.add_argument("org_id")
    txns.add_argument("--limit", type=int, default=50)

    key = what.add_parser("key", help="API keys of an org").add_subparsers(dest="action", required=True)
    kc = key.add_parser("create", help="a new key (printed once)")
    kc.add_argument("org_id")
    kc.add_argument("--name", default="operator key")
    kc.add_argument("--scope", action="append", choices=("full", "read"), default=None)
    kc.add_argument("--expires-at", type=datetime.fromisoformat, default=None, help="ISO 8601 with a zone")
    key.add_parser("list", help="the org's keys").add_argument("org_id")
    kr = key.add_parser("revoke", help="revoke a key at once")
    kr.add_argument("org_id")
    kr.add_argument("key_id")
    kr.add_argument("--force", action="store_true", help="even the org's last live key")


def _table_of_stack(aws: Any, stack: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        described = aws.client("cloudformation").describe_stacks(StackName=stack)
    except (ClientError, BotoCoreError) as exc:
        raise AdminError(f"cannot read stack {stack}: {exc}") from exc
    for output in described["Stacks"][0].get("Outputs", []):
        if output["OutputKey"] == "MainTableName":
            return str(output["OutputValue"])
    raise AdminError(f"stack {stack} has no MainTableName output")


def _only_table(aws: Any) -> str | None:
    """A local stack's endpoint holds one table: use it when none is named."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        names = aws.dynamodb.list_tables().get("TableNames", [])
    except (ClientError, BotoCoreError) as exc:
        raise AdminError(f"cannot list tables at the endpoint: {exc}") from exc
    return names[0] if len(names) == 1 else None


def build_services(args: argparse.Namespace) -> Any:
    """Services bound to the chosen table; nothing else of the stack is needed."""
    if args.endpoint_url:
        # boto3 reads these; a local moto server takes any credentials.
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    from shared.aws import AwsClients
    from shared.config import Settings
    from shared.services import Services

    aws = AwsClients(region=args.region)
    table = args.table or (_table_of_stack(aws, args.stack) if args.stack else None)
    if not table and args.endpoint_url:
        table = _only_table(aws)
    if not table:
        raise AdminError("say which table: --table NAME or --stack NAME")
    settings = Settings.model_validate({"OPENHELM_TABLE": table, "OPENHELM_STAGE": args.stage})
    return Services(settings=settings, aws=aws)


def _micros(text: str, *, positive: bool) -> int:
    from shared.billing import micros_of_usd

    try:
        micros = micros_of_usd(text)
    except ValueError as exc:
        raise AdminError(str(exc)) from exc
    if positive and micros <= 0:
        raise AdminError("the amount must be more than 0")
    return micros


def _org(svc: Any, org_id: str) -> Any:
    org = svc.orgs.get(org_id)
    if org is None:
        raise AdminError(f"no org {org_id}")
    return org


def run_command(svc: Any, args: argparse.Namespace, actor: str) -> Any:
    """Do one admin command; returns what to print (JSON-able)."""
    from shared import api_keys, billing
    from shared.orgs import bootstrap_org

    cmd, action = args.admin_command, args.action
    if cmd == "org" and action == "create":
        start = _micros(args.balance, positive=False)
        org_id, key = bootstrap_org(args.name, svc, start_balance_micros=start, actor=actor)
        return {"org": _org(svc, org_id).model_dump(mode="json"), "api_key": key, "balance": _balance(svc, org_id)}
    if cmd == "org" and action == "list":
        return {"data": [o.model_dump(mode="json") for o in svc.orgs.list_all()]}
    if cmd == "org" and action == "show":
        return {"org": _org(svc, args.org_id).model_dump(mode="json"), "balance": _balance(svc, args.org_id)}
    if cmd == "org" and action == "limits":
        return _set_limits(svc, args)
    if cmd == "balance":
        _org(svc, args.org_id)
        if action == "credit":
            billing.credit(svc, args.org_id, _micros(args.usd, positive=True), args.reason, actor=actor)
        elif action == "debit":
            billing.debit(svc, args.org_id, _micros(args.usd, positive=True), args.reason, actor=actor)
        elif action == "floor":
            billing.set_floor(svc, args.org_id, _micros(args.usd, positive=False), args.reason, actor=actor)
        elif action == "transactions":
            return billing.ledger(svc, args.org_id, limit=args.limit, cursor=None).model_dump(mode="json")
        return _balance(svc, args.org_id)
    if cmd == "key":
        _org(svc, args.org_id)
        if action == "create":
            created = api_keys.create_key(
                svc, args.org_id, name=args.name, scopes=args.scope or ["full"], expires_at=args.expires_at
            )
            return created.model_dump(mode="json")
        if action == "list":
            return api_keys.list_keys(svc, args.org_id).model_dump(mode="json")
        return api_keys.revoke_key(svc, args.org_id, args.key_id, force=args.force).model_dump(mode="json")
    raise AdminError(f"unknown command {cmd} {action}")  # pragma: no cover - argparse refuses it first


def _balance(svc: Any, org_id: str) -> dict[str, Any]:
    from shared import billing

    return billing.get_balance(svc, org_id).model_dump(mode="json")


def _set_limits(svc: Any, args: argparse.Namespace) -> dict[str, Any]:
    from pydantic import ValidationError

    from shared.models.orgs import OrgLimits

    org = _org(svc, args.org_id)
    changes = {name: getattr(args, name) for name, _ in LIMIT_FLAGS if getattr(args, name) is not None}
    if args.max_cost_usd is not None:
        changes["max_cost_micros"] = _micros(args.max_cost_usd, positive=True)
    if not changes:
        raise AdminError("give at least one limit to change")
    try:
        limits = OrgLimits.model_validate({**org.limits.model_dump(), **changes})
    except ValidationError as exc:
        raise AdminError(f"invalid limits: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from exc
    return {"org": svc.orgs.set_limits(args.org_id, limits).model_dump(mode="json")}


def run_admin(args: argparse.Namespace, out: TextIO, svc: Any = None) -> int:
    """Run one parsed ``admin`` command; tests pass their own Services."""
    from shared.errors import OpenHelmError

    operator = args.operator or os.environ.get("OPENHELM_OPERATOR") or getpass.getuser()
    try:
        svc = svc or build_services(args)
        result = run_command(svc, args, actor=f"operator:{operator}")
    except (AdminError, OpenHelmError) as exc:
        message = exc.message if isinstance(exc, OpenHelmError) else str(exc)
        code = exc.code if isinstance(exc, OpenHelmError) else "admin_error"
        out.write(json.dumps({"error": {"code": code, "message": message}}) + "\n")
        return 1
    out.write(json.dumps(result, indent=2, default=str) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openhelm")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run_admin(parser.parse_args(["admin", *(argv or sys.argv[1:])]), sys.stdout)
