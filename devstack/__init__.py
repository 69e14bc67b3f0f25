"""The embedded local stack: the SAM template running in one process, no AWS account, no Docker.

``openhelm dev`` (:mod:`devstack.cli`) runs it in the foreground; tests use
:class:`devstack.stack.LocalStack` as a context manager. Importing this package stays cheap (moto
and the SAM translator load only when a stack is used), because tools such as the OpenAPI
generator live here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devstack.stack import LocalStack

__all__ = ["LocalStack"]


def __getattr__(name: str) -> Any:
    if name == "LocalStack":
        from devstack.stack import LocalStack

        return LocalStack
    raise AttributeError(name)
