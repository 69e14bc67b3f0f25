"""Usage and billing: pricing (``pricing``), the balance and the one charge per finished run
(``ledger``), and usage reports (``report``). Money is integer micro-dollars throughout."""

from __future__ import annotations

from shared.billing.ledger import credit, ensure_affordable, get_balance, record_usage, set_floor
from shared.billing.pricing import cost_of, max_cost, micros_of_usd, usd
from shared.billing.report import usage_report

__all__ = [
    "cost_of",
    "credit",
    "ensure_affordable",
    "get_balance",
    "max_cost",
    "micros_of_usd",
    "record_usage",
    "set_floor",
    "usage_report",
    "usd",
]
