"""One environment policy for both sandbox providers, and one address classifier for both filters."""

from __future__ import annotations

import ipaddress

import pytest

from shared.netaddr import NON_PUBLIC_IPV4_NETWORKS, classify_address
from shared.sandbox.env_policy import split_envs


@pytest.mark.parametrize(
    "name",
    [
        "AWS_SECRET_ACCESS_KEY",
        "E2B_API_KEY",
        "OPENAI_API_KEY",
        "MISTRAL_API_KEY",
        "anthropic_base_url",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "LD_PRELOAD",
        "PYTHONHOME",
        "BASH_ENV",
        "1BAD",
        "A-B",
    ],
)
def test_credentials_and_loader_variables_are_refused(name: str) -> None:
    split = split_envs({name: "x", "EXTRA_FLAG": "1"})
    assert split.refused == [name] and split.kept == {"EXTRA_FLAG": "1"}


def test_contract_variables_are_reserved_for_the_provider() -> None:
    split = split_envs({"OPENHELM_RUN_TOKEN": "forged", "OPENHELM_LOG_LEVEL": "debug", "TZ": "UTC"})
    assert split.reserved == ["OPENHELM_LOG_LEVEL", "OPENHELM_RUN_TOKEN"]
    assert split.refused == [] and split.kept == {"TZ": "UTC"}


@pytest.mark.parametrize("network", NON_PUBLIC_IPV4_NETWORKS)
def test_the_e2b_deny_ranges_are_what_the_classifier_refuses(network: str) -> None:
    # (E2B's list may be stricter: this Python calls parts of 192.0.0.0/24 global.)
    assert classify_address(ipaddress.ip_network(network).network_address) is not None
