"""The eval tasks: a prompt on a local fixture site (evals/sites/), an optional output schema, a checker.

``{site}`` in a prompt or start path is replaced by the fixture server's base URL. ``answer`` is a correct
result, used by tests/evals to prove every checker accepts a right answer (and rejects wrong ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals.checks import Check, fields, not_found, number, set_of, text


@dataclass(frozen=True)
class Task:
    id: str
    category: str
    prompt: str
    check: Check
    answer: Any
    start: str | None = None  # path on the fixture site; None: the prompt names the URL itself
    schema: dict[str, Any] | None = None


def obj(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props)}


S = {"type": "string"}
N = {"type": "number"}
B = {"type": "boolean"}
NOT_FOUND_SCHEMA = {
    "type": "object",
    "properties": {"found": B, "value": {"type": ["string", "null"]}},
    "required": ["found", "value"],
}
NOT_FOUND_HINT = " If it does not exist, answer found=false and value=null; never guess."

TASKS: list[Task] = [
    # --- navigation
    Task(
        "nav-founder",
        "navigation",
        "Who founded Harbor Goods, and in which year?",
        fields(founder=text("Ingrid Solberg"), year=number(1987)),
        {"founder": "Ingrid Solberg", "year": 1987},
        start="/shop/",
        schema=obj(founder=S, year=N),
    ),
    Task(
        "nav-phone",
        "navigation",
        "What is Harbor Goods' phone number?",
        text("+47 55 01 23 45", "55 01 23 45"),
        "+47 55 01 23 45",
        start="/shop/",
    ),
    Task(
        "nav-url-in-prompt",
        "navigation",
        "Open {site}/docs/ and find the default value of the request_timeout option.",
        fields(default=text("45s", "45 s", "45 seconds")),
        {"default": "45s"},
        schema=obj(default=S),
    ),
    Task(
        "nav-docs-retries",
        "navigation",
        "In the Beacon docs, what is the default of max_retries?",
        fields(max_retries=number(4)),
        {"max_retries": 4},
        start="/docs/",
        schema=obj(max_retries=N),
    ),
    # --- pagination
    Task(
        "page-barometer",
        "pagination",
        "What does the Barometer cost in the Harbor Goods product catalogue?",
        fields(price_usd=number(112.40)),
        {"price_usd": 112.4},
        start="/shop/products-1.html",
        schema=obj(price_usd=N),
    ),
    Task(
        "page-sold-out",
        "pagination",
        "List every product that is sold out, across all pages of the Harbor Goods catalogue.",
        fields(products=set_of(["Deck Shoes", "Chart Table Lamp", "Ship in a Bottle"])),
        {"products": ["Deck Shoes", "Chart Table Lamp", "Ship in a Bottle"]},
        start="/shop/products-1.html",
        schema=obj(products={"type": "array", "items": S}),
    ),
    Task(
        "page-cheapest",
        "pagination",
        "Which is the cheapest product in the whole Harbor Goods catalogue (all pages), and its price?",
        fields(name=text("Marlinspike"), price_usd=number(15.75)),
        {"name": "Marlinspike", "price_usd": 15.75},
        start="/shop/products-1.html",
        schema=obj(name=S, price_usd=N),
    ),
    # --- search
    Task(
        "search-author",
        "search",
        "Search the Lantern Library catalogue for books by Elena Voss and list their titles.",
        fields(titles=set_of(["The Cartographer's Daughter", "Mapping the Abyss"])),
        {"titles": ["The Cartographer's Daughter", "Mapping the Abyss"]},
        start="/books/",
        schema=obj(titles={"type": "array", "items": S}),
    ),
    Task(
        "search-year",
        "search",
        "In which year was the book 'Gull Island' published? Use the library's search.",
        fields(year=number(2019)),
        {"year": 2019},
        start="/books/",
        schema=obj(year=N),
    ),
    Task(
        "search-isbn",
        "search",
        "Find the ISBN of 'A Grammar of Tides' in the Lantern Library catalogue.",
        text("978-0-11-000103-5", "9780110001035"),
        "978-0-11-000103-5",
        start="/books/",
    ),
    # --- tables
    Task(
        "table-lagos",
        "tables",
        "What population (in thousands) does the table give for Lagos?",
        fields(population_thousands=number(14400)),
        {"population_thousands": 14400},
        start="/tables/",
        schema=obj(population_thousands=N),
    ),
    Task(
        "table-count-india",
        "tables",
        "How many cities in India are in the city statistics table? Name them.",
        fields(count=number(4), cities=set_of(["Delhi", "Mumbai", "Kolkata", "Bangalore"])),
        {"count": 4, "cities": ["Delhi", "Mumbai", "Kolkata", "Bangalore"]},
        start="/tables/",
        schema=obj(count=N, cities={"type": "array", "items": S}),
    ),
    Task(
        "table-audit-log",
        "tables",
        "On the plan comparison page, which is the cheapest plan that includes the audit log, and its monthly price?",
        fields(plan=text("Team"), monthly_price_usd=number(15)),
        {"plan": "Team", "monthly_price_usd": 15},
        start="/tables/plans.html",
        schema=obj(plan=S, monthly_price_usd=N),
    ),
    Task(
        "table-sso",
        "tables",
        "Which plans include single sign-on?",
        fields(plans=set_of(["Business"])),
        {"plans": ["Business"]},
        start="/tables/plans.html",
        schema=obj(plans={"type": "array", "items": S}),
    ),
    # --- JavaScript-rendered content
    Task(
        "js-tide",
        "javascript",
        "What tide height does Tidewatch show for 12:00?",
        fields(height_m=number(3.61)),
        {"height_m": 3.61},
        start="/app/",
        schema=obj(height_m=N),
    ),
    Task(
        "js-tab-fee",
        "javascript",
        "What is the mooring fee per night for a boat up to 12 m at Pier 7? It is under the Fees tab.",
        fields(fee_eur=number(38)),
        {"fee_eur": 38},
        start="/app/tabs.html",
        schema=obj(fee_eur=N),
    ),
    Task(
        "js-load-more",
        "javascript",
        "What does notice 7 on the Tidewatch notices page say? Load more notices if needed.",
        text("east pontoon"),
        "The east pontoon is closed for repairs until 14 March",
        start="/app/feed.html",
    ),
    # --- iframes and shadow DOM
    Task(
        "iframe-wind",
        "iframes",
        "What wind does the marina dashboard's weather widget forecast for tomorrow (direction and speed in knots)?",
        fields(direction=text("SW", "south west", "southwest"), speed_knots=number(18)),
        {"direction": "SW", "speed_knots": 18},
        start="/frames/",
        schema=obj(direction=S, speed_knots=N),
    ),
    Task(
        "shadow-harbour-master",
        "iframes",
        "Who is the harbour master on duty according to the marina dashboard?",
        text("Kofi Mensah"),
        "Kofi Mensah",
        start="/frames/",
    ),
    # --- forms
    Task(
        "form-ticket",
        "forms",
        "Open a support ticket as Ada Lovelace (ada@example.test), topic Technical, message "
        "'The export button does nothing.' and report the ticket number.",
        fields(ticket=text("ADA-TEC-2600")),
        {"ticket": "ADA-TEC-2600"},
        start="/forms/ticket.html",
        schema=obj(ticket=S),
    ),
    Task(
        "form-quote",
        "forms",
        "Get a shipping quote for a 3 kg parcel to Norway. What does it cost in euros?",
        fields(price_eur=number(19.10)),
        {"price_eur": 19.1},
        start="/forms/quote.html",
        schema=obj(price_eur=N),
    ),
    # --- login
    Task(
        "login-balance",
        "login",
        "Sign in to Keel Bank (username mira, password harbour-42) and report the checking account's balance "
        "and the date of the most recent transaction.",
        fields(balance_eur=number(2418.07), last_transaction_date=text("2026-11-28", "28 November 2026", "Nov 28")),
        {"balance_eur": 2418.07, "last_transaction_date": "2026-11-28"},
        start="/bank/",
        schema=obj(balance_eur=N, last_transaction_date=S),
    ),
    # --- downloads
    Task(
        "download-checksum",
        "downloads",
        "What SHA-256 checksum is published for beacon-2.3.0-linux-x64.tar.gz? It is in the checksums file.",
        fields(sha256=text("3f1c9a0de58b2a7c6e41d0f9b8a7c3e2d1f0e9a8b7c6d5e4f3a2b1c0d9e8f7a6")),
        {"sha256": "3f1c9a0de58b2a7c6e41d0f9b8a7c3e2d1f0e9a8b7c6d5e4f3a2b1c0d9e8f7a6"},
        start="/downloads/",
        schema=obj(sha256=S),
    ),
    Task(
        "download-notes",
        "downloads",
        "According to the release notes of Beacon 2.2.1, which crash was fixed?",
        text("proxy"),
        "A crash when the config file contained an empty [proxy] section.",
        start="/downloads/",
    ),
    Task(
        "download-size",
        "downloads",
        "How large is the Windows installer of Beacon 2.1.0, in MB?",
        fields(size_mb=number(20.7)),
        {"size_mb": 20.7},
        start="/downloads/",
        schema=obj(size_mb=N),
    ),
    Task(
        "docs-code-block",
        "navigation",
        "In the Beacon CLI reference, which command writes the current configuration to a file? Give the full command.",
        text("beacon config export"),
        "beacon config export --format toml --output beacon.toml",
        start="/docs/",
    ),
    # --- the right answer is "not found"
    Task(
        "notfound-product",
        "not-found",
        "What does the Zephyr Lamp cost at Harbor Goods? Check every catalogue page." + NOT_FOUND_HINT,
        not_found(),
        {"found": False, "value": None},
        start="/shop/products-1.html",
        schema=NOT_FOUND_SCHEMA,
    ),
    Task(
        "notfound-book",
        "not-found",
        "Find a book by J. R. R. Tolkien in the Lantern Library catalogue and give its title." + NOT_FOUND_HINT,
        not_found(),
        {"found": False, "value": None},
        start="/books/",
        schema=NOT_FOUND_SCHEMA,
    ),
    Task(
        "notfound-option",
        "not-found",
        "What is the default value of the retry_jitter option in the Beacon docs?" + NOT_FOUND_HINT,
        not_found(),
        {"found": False, "value": None},
        start="/docs/",
        schema=NOT_FOUND_SCHEMA,
    ),
    Task(
        "notfound-savings",
        "not-found",
        "Sign in to Keel Bank (username mira, password harbour-42) and report the balance of the savings account."
        + NOT_FOUND_HINT,
        not_found(),
        {"found": False, "value": None},
        start="/bank/",
        schema=NOT_FOUND_SCHEMA,
    ),
    Task(
        "notfound-berlin",
        "not-found",
        "What is the phone number of Harbor Goods' Berlin office?" + NOT_FOUND_HINT,
        not_found(),
        {"found": False, "value": None},
        start="/shop/",
        schema=NOT_FOUND_SCHEMA,
    ),
]


def by_id() -> dict[str, Task]:
    return {t.id: t for t in TASKS}
