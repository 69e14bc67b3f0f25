"""What a loaded template is, for the local stack: its model, its errors and the default names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_STACK_NAME = "openhelm-local"


class TemplateError(Exception):
    """The template cannot be loaded, translated or resolved for the local stack."""


@dataclass(frozen=True)
class HttpRoute:
    """One HttpApi event of a function: what the local gateway routes to it."""

    method: str  # upper case, "ANY" for any
    path: str  # "/{proxy+}", "/v1/runs/{id}" or "$default"
    function: str  # logical id of the function
    payload_format_version: str = "2.0"
    api: str | None = None  # logical id of the HttpApi, None for SAM's implicit API
    timeout_s: float | None = None  # the event's TimeoutInMillis; None: API Gateway's 30 s

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class LocalTemplate:
    """A SAM template made ready for local use: translated, with its local paths mapped back."""

    path: Path
    sam: dict[str, Any]  # the source template, local paths made absolute
    cfn: dict[str, Any]  # the translated CloudFormation template (intrinsics unresolved)
    parameters: dict[str, Any]  # resolved parameter values (defaults + overrides)
    code_uris: dict[str, Path] = field(default_factory=dict)  # function logical id -> code dir
    layer_dirs: dict[str, Path] = field(default_factory=dict)  # translated layer id -> content dir
    definitions: dict[str, Path] = field(default_factory=dict)  # state machine id -> ASL file
    http_routes: list[HttpRoute] = field(default_factory=list)

    @property
    def resources(self) -> dict[str, Any]:
        return self.cfn.get("Resources", {})  # type: ignore[no-any-return]

    @property
    def root(self) -> Path:
        return self.path.parent
