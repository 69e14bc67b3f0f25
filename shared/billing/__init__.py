"""Usage and billing: pricing (``pricing``), what a run used (``usage``), the dollar cap per run
(``budget``), the balance with its ledger and the one charge per finished run (``ledger``), and
usage reports (``report``). Money is integer micro-dollars throughout."""

from __future__ import annotations

from shared.billing.ledger import credit, debit, ensure_affordable, get_balance, ledger, record_usage, set_floor
from shared.billing.pricing import cost_of, max_cost, micros_of_usd, usd
from shared.billing.report import usage_report

__all__ = [
    "cost_of",
    "credit",
    "debit",
    "ensure_affordable",
    "get_balance",
    "ledger",
    "max_cost",
    "micros_of_usd",
    "record_usage",
    "set_floor",
    "usage_report",
    "usd",
]
