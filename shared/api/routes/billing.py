"""/v1/balance, /v1/balance/transactions and /v1/usage."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import billing
from shared.api.deps import caller, services
from shared.api.errors import documented, ok
from shared.models.billing import Balance, LedgerPage, UsageReport
from shared.models.common import IsoTimestamp

router = APIGatewayHttpRouter()


@router.get(
    "/v1/balance",
    summary="Get the balance",
    description="The org's prepaid balance in micro-dollars and USD. A run is admitted only while the balance "
    "above the floor covers its maximum cost within its budgets (else 402 `insufficient_balance`).",
    responses=documented(ok("The balance.")),
    tags=["Billing"],
)
def get_balance() -> Balance:
    return billing.get_balance(services(), caller().id)


@router.get(
    "/v1/usage",
    summary="Usage and cost",
    description="One usage record per finished run, for the runs that finished in [`from`, `to`), newest first, "
    "paged with `cursor`; `totals` always cover the whole window, whatever the page. `to` defaults to now and "
    "`from` to the start of the UTC month holding the window's end; timestamps without a zone are UTC.",
    responses=documented(ok("Usage records and totals.")),
    tags=["Billing"],
)
def get_usage(
    start: Annotated[
        IsoTimestamp | None, Query(alias="from", description="Window start (inclusive), ISO 8601 timestamp.")
    ] = None,
    end: Annotated[
        IsoTimestamp | None, Query(alias="to", description="Window end (exclusive), ISO 8601 timestamp.")
    ] = None,
    project_id: Annotated[str | None, Query(max_length=40, description="Only this project's runs.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> UsageReport:
    return billing.usage_report(
        services(), caller().id, start=start, end=end, project_id=project_id, limit=limit, cursor=cursor
    )


@router.get(
    "/v1/balance/transactions",
    summary="Balance transactions",
    description="Every change to the org's money, newest first: operator credits, debits and floor changes "
    "(`actor` `operator:<name>`) and run charges (`billing`), each with the balance after it.",
    responses=documented(ok("One page.", LedgerPage)),
    tags=["Billing"],
)
def list_transactions(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> LedgerPage:
    return billing.ledger(services(), caller().id, limit=limit, cursor=cursor)
