"""Which of a request's extra environment variables may reach a sandbox: one rule, both providers.

Refused: credentials of the platform and of model providers (``AWS_*``, ``E2B_*``, ``AZURE_*``,
``GOOGLE_*``, ``OPENAI_*``, ``ANTHROPIC_*``, ``*_API_KEY``), variables that change how the
sandbox's programs load or start (``LD_*``, ``PYTHONHOME``, ``BASH_ENV``) and names that are not
portable shell names. Each provider decides what a refusal does: the local one drops the variable
with a warning (its request comes from our own code), the E2B one refuses the start (the sandbox is
remote and must not be created with credentials in reach).

Reserved, and dropped by both: ``OPENHELM_*``, the contract variables the provider itself sets (a
request may not forge the run token or the control URL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_REFUSED = re.compile(
    r"^(AWS_|E2B_|AZURE_|GOOGLE_|OPENAI_|ANTHROPIC_|LD_|PYTHONHOME$|BASH_ENV$)|_API_KEY$", re.IGNORECASE
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_refused(name: str) -> bool:
    """True if ``name`` may not be passed into a sandbox."""
    return not _NAME.match(name) or bool(_REFUSED.search(name))


def is_reserved(name: str) -> bool:
    """True for the contract variables only the provider sets."""
    return name.upper().startswith("OPENHELM_")


@dataclass(frozen=True)
class EnvSplit:
    kept: dict[str, str]
    refused: list[str]
    reserved: list[str]


def split_envs(envs: Mapping[str, str]) -> EnvSplit:
    """The variables that may pass (as strings), and the sorted names refused and reserved."""
    names = [str(k) for k in envs]
    refused = sorted(k for k in names if is_refused(k))
    reserved = sorted(k for k in names if k not in refused and is_reserved(k))
    kept = {str(k): str(v) for k, v in envs.items() if str(k) not in refused and str(k) not in reserved}
    return EnvSplit(kept, refused, reserved)
