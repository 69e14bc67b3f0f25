import pytest

from shared.errors import Unprocessable
from shared.schemas import check_output_schema


def test_valid_schemas_pass() -> None:
    check_output_schema({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}})
    check_output_schema({"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer"})


def test_invalid_schema_says_where() -> None:
    with pytest.raises(Unprocessable) as exc:
        check_output_schema({"type": "object", "properties": {"a": {"type": "strng"}}})
    assert exc.value.code == "invalid_output_schema"
    assert exc.value.details[0]["loc"] == ["output_schema", "properties", "a", "type"]
    assert "output_schema/properties/a/type" in exc.value.message
