"""The process environment the local stack's handlers share: os.environ and sys.path.

Handlers share one process, hence one os.environ: the stack sets the union of every function's
Environment (which must not disagree) and puts layers and CodeUri folders on sys.path, like
/opt/python and /var/task in Lambda; everything is restored when the stack stops.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from devstack.runtime import LocalFunction
from devstack.template import LocalTemplate, TemplateError


class ProcessEnvironment:
    """Changes to os.environ and sys.path that :meth:`restore` undoes."""

    def __init__(self) -> None:
        self._saved_env: dict[str, str | None] = {}
        self._saved_path: list[str] | None = None

    def set(self, values: Mapping[str, str], unset: Iterable[str] = ()) -> None:
        unset = list(unset)
        for key in [*values, *unset]:
            if key not in self._saved_env:
                self._saved_env[key] = os.environ.get(key)
        for key in unset:
            os.environ.pop(key, None)
        os.environ.update(values)

    def extend_sys_path(self, template: LocalTemplate) -> None:
        """Layers and CodeUri folders on sys.path, so handlers import the shared package and their
        sibling modules."""
        if self._saved_path is None:
            self._saved_path = list(sys.path)
        dirs: list[Path] = []
        for layer in template.layer_dirs.values():
            dirs.append(layer / "python" if (layer / "python").is_dir() else layer)
        dirs.extend(template.code_uris.values())
        for d in dirs:
            if str(d) not in sys.path:
                sys.path.append(str(d))

    def restore(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self._saved_path is not None:
            sys.path[:] = self._saved_path
            self._saved_path = None


def merge_environments(functions: Iterable[LocalFunction]) -> tuple[dict[str, str], dict[str, str]]:
    """Union of the functions' variables and, per name, the function it came from; TemplateError
    if two functions disagree on one (two values for one name cannot both hold in one process)."""
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    conflicts: list[str] = []
    for fn in functions:
        for key, value in fn.environment.items():
            if key in merged and merged[key] != value:
                conflicts.append(f"{key}: {owner[key]}={merged[key]!r} vs {fn.logical_id}={value!r}")
                continue
            merged.setdefault(key, value)
            owner.setdefault(key, fn.logical_id)
    if conflicts:
        raise TemplateError(
            "functions set the same environment variable to different values, which cannot hold in "
            "one process: " + "; ".join(conflicts)
        )
    return merged, owner
