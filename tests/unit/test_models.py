import pytest
from pydantic import ValidationError

from shared.models.runs import CreateRunRequest


def test_domain_patterns_are_normalised_and_checked() -> None:
    req = CreateRunRequest(prompt="abc", allowed_domains=["Example.COM.", "*.shop.example"])
    assert req.allowed_domains == ["example.com", "*.shop.example"]
    for bad in ["https://example.com", "exa mple.com", "*.*.example.com", "-bad.com", ""]:
        with pytest.raises(ValidationError):
            CreateRunRequest(prompt="abc", blocked_domains=[bad])


def test_metadata_bounds() -> None:
    CreateRunRequest(prompt="abc", metadata={str(i): "v" for i in range(16)})
    with pytest.raises(ValidationError):
        CreateRunRequest(prompt="abc", metadata={str(i): "v" for i in range(17)})
    with pytest.raises(ValidationError):
        CreateRunRequest(prompt="abc", metadata={"k": "v" * 501})


def test_domain_patterns_accept_exactly_what_the_document_states() -> None:
    # The schema's pattern and the validator agree, so a contract test can trust either.
    import re

    from shared.models.common import DOMAIN_SCHEMA_PATTERN

    pattern = re.compile(DOMAIN_SCHEMA_PATTERN)
    for value in ["example.com", "Example.COM.", "*.a-b.example", "x", "a" * 63 + ".com"]:
        assert pattern.fullmatch(value)
        CreateRunRequest(prompt="abc", allowed_domains=[value])
    for value in [" example.com", "example.com\n", "a..b", "a" * 64 + ".com", "ex_ample.com", "example.com.."]:
        assert not pattern.fullmatch(value)
        with pytest.raises(ValidationError):
            CreateRunRequest(prompt="abc", allowed_domains=[value])
    with pytest.raises(ValidationError):
        CreateRunRequest(prompt="abc", allowed_domains=[".".join(["a" * 63] * 4)])  # 255 characters


def test_metadata_schema_states_the_key_rules() -> None:
    schema = CreateRunRequest.model_json_schema()["properties"]["metadata"]["anyOf"][0]
    assert schema["maxProperties"] == 16 and schema["propertyNames"]["maxLength"] == 40
    assert schema["additionalProperties"] == {"type": "string", "maxLength": 500}
    with pytest.raises(ValidationError):
        CreateRunRequest(prompt="abc", metadata={"": "v"})
