"""The embedded local stack: the SAM template running in one process, no AWS account, no Docker.

``openhelm dev`` (:mod:`devstack.cli`) runs it in the foreground; tests use
:class:`devstack.stack.EmbeddedStack` as a context manager. Importing this package stays cheap (moto
and the SAM translator load only when a stack is used), because tools such as the OpenAPI
generator live here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devstack.stack import EmbeddedStack

__all__ = ["EmbeddedStack"]


def __getattr__(name: str) -> Any:
    if name == "EmbeddedStack":
        from devstack.stack import EmbeddedStack

        return EmbeddedStack
    raise AttributeError(name)
