"""Data access: the only package that talks to DynamoDB. See docs/data-model.md for the key design."""
