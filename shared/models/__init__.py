"""pydantic models: the single source of truth for the API schema (OpenAPI is generated from them)."""
