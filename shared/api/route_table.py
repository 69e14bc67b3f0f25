"""The API's route table: each route's method and path with the module of shared/api/routes that
implements it, so that a request imports only its own route module (cold start: importing every
route module and the domain modules behind them was most of the API function's import,
bench/layer_import.py). Stdlib only: the API function reads it at import, before any route module.

The routers themselves are the source of truth; tests/unit/test_api_route_table.py fails when this
table and their decorators differ. ``MODULES`` is also the order the routers are included in, which
is the order of the OpenAPI document's paths.
"""

from __future__ import annotations

import re

MODULES = (
    "runs",
    "sessions",
    "viewer",
    "live",
    "jobs",
    "projects",
    "files",
    "profiles",
    "billing",
    "keys",
    "webhooks",
    "mcp",
    "meta",
    "internal",
)

# (module, method, path in Powertools' syntax: a <name> is one path segment)
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("runs", "POST", "/v1/runs"),
    ("runs", "GET", "/v1/runs"),
    ("runs", "GET", "/v1/runs/<run_id>"),
    ("runs", "POST", "/v1/runs/<run_id>/cancel"),
    ("runs", "POST", "/v1/runs/<run_id>/input"),
    ("runs", "POST", "/v1/runs/<run_id>/tool-results"),
    ("sessions", "POST", "/v1/sessions"),
    ("sessions", "GET", "/v1/sessions"),
    ("sessions", "GET", "/v1/sessions/<session_id>"),
    ("sessions", "DELETE", "/v1/sessions/<session_id>"),
    ("sessions", "POST", "/v1/sessions/<session_id>/tasks"),
    ("sessions", "POST", "/v1/sessions/<session_id>/actions"),
    ("sessions", "POST", "/v1/sessions/<session_id>/control"),
    ("sessions", "POST", "/v1/sessions/<session_id>/pause"),
    ("sessions", "POST", "/v1/sessions/<session_id>/resume"),
    ("sessions", "POST", "/v1/sessions/<session_id>/stop"),
    ("viewer", "GET", "/v1/runs/<run_id>/view"),
    ("viewer", "GET", "/v1/runs/<run_id>/bundle"),
    ("live", "GET", "/v1/sessions/<session_id>/live"),
    ("live", "GET", "/v1/sessions/<session_id>/live/state"),
    ("live", "POST", "/v1/sessions/<session_id>/live/input"),
    ("live", "POST", "/v1/sessions/<session_id>/live/release"),
    ("live", "GET", "/v1/runs/<run_id>/live"),
    ("live", "GET", "/v1/runs/<run_id>/live/state"),
    ("jobs", "POST", "/v1/jobs"),
    ("jobs", "GET", "/v1/jobs"),
    ("jobs", "GET", "/v1/jobs/<job_id>"),
    ("jobs", "PATCH", "/v1/jobs/<job_id>"),
    ("jobs", "DELETE", "/v1/jobs/<job_id>"),
    ("jobs", "POST", "/v1/jobs/<job_id>/runs"),
    ("projects", "POST", "/v1/projects"),
    ("projects", "GET", "/v1/projects"),
    ("projects", "GET", "/v1/projects/<project_id>"),
    ("files", "POST", "/v1/files"),
    ("files", "GET", "/v1/files"),
    ("files", "GET", "/v1/files/<file_id>"),
    ("files", "DELETE", "/v1/files/<file_id>"),
    ("profiles", "POST", "/v1/profiles"),
    ("profiles", "GET", "/v1/profiles"),
    ("profiles", "GET", "/v1/profiles/<profile_id>"),
    ("profiles", "DELETE", "/v1/profiles/<profile_id>"),
    ("profiles", "GET", "/v1/profiles/<profile_id>/download"),
    ("profiles", "POST", "/v1/profiles/<profile_id>/upload"),
    ("billing", "GET", "/v1/balance"),
    ("billing", "GET", "/v1/usage"),
    ("billing", "GET", "/v1/balance/transactions"),
    ("keys", "POST", "/v1/keys"),
    ("keys", "GET", "/v1/keys"),
    ("keys", "DELETE", "/v1/keys/<key_id>"),
    ("webhooks", "GET", "/v1/webhooks/secret"),
    ("webhooks", "POST", "/v1/webhooks/secret/rotate"),
    ("webhooks", "POST", "/v1/webhooks"),
    ("webhooks", "GET", "/v1/webhooks"),
    ("webhooks", "GET", "/v1/webhooks/<webhook_id>"),
    ("webhooks", "DELETE", "/v1/webhooks/<webhook_id>"),
    ("webhooks", "GET", "/v1/runs/<run_id>/deliveries"),
    ("webhooks", "POST", "/v1/runs/<run_id>/deliveries/redeliver"),
    ("webhooks", "GET", "/v1/sessions/<session_id>/deliveries"),
    ("webhooks", "POST", "/v1/sessions/<session_id>/deliveries/redeliver"),
    ("mcp", "POST", "/mcp"),
    ("meta", "GET", "/v1/health"),
    ("internal", "POST", "/internal/runs/<run_id>/progress"),
    ("internal", "POST", "/internal/runs/<run_id>/complete"),
    ("internal", "POST", "/internal/runs/<run_id>/exit"),
    ("internal", "POST", "/internal/runs/<run_id>/input-request"),
    ("internal", "GET", "/internal/runs/<run_id>/input"),
    ("internal", "POST", "/internal/runs/<run_id>/tool-call"),
    ("internal", "GET", "/internal/runs/<run_id>/tool-result"),
    ("internal", "POST", "/internal/sessions/<session_id>/ready"),
    ("internal", "POST", "/internal/e2b/events"),
)

# Unauthenticated paths: health and the document (the app's own routes: shared/api/app.py).
PUBLIC_PATHS = frozenset({"/v1/health", "/openapi.json", "/docs"})
# The agent's and the sandbox's callbacks: authenticated by their own tokens (shared/api/routes/internal.py).
INTERNAL_PREFIX = "/internal/"
# The viewer page is opened by its signed link alone: the API key check skips it (shared/api/app.py).
# So are the live view's (shared/api/routes/live.py): page, state, input and release, by signed link
# (a run's: page and state; it is read-only).
VIEWER_PUBLIC_PATH = re.compile(
    r"^/v1/(runs/[^/]+/view|sessions/[^/]+/live(/state|/input|/release)?|runs/[^/]+/live(/state)?)$"
)
