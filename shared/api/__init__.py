"""The public HTTP API: a Powertools resolver, routers per resource, one error-mapping module."""
