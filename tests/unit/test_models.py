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
