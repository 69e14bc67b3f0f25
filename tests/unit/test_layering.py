"""The import graph of shared/: no cycles, no function-level imports of our own modules except the
deliberate lazy ones below, AWS SDK imports only in the data-access and AWS-adapter modules, and a
run's status changed by one module only. Read from the source (ast), nothing is imported."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"

# (importing module, imported module) -> why it is imported inside a function.
ALLOWED_LAZY: dict[tuple[str, str], str] = {
    ("shared.webhooks.queue", "shared.sessions.envelope"): "the sessions domain only when a session event comes",
    ("shared.services", "shared.sandbox.factory"): "cold start: only functions that use sandboxes load a provider",
    ("shared.sandbox.factory", "shared.sandbox.e2b_provider"): "cold start: the e2b SDK is costly to import",
    ("shared.sandbox.factory", "shared.sandbox.local.provider"): "local-only: not in the Lambda layer",
    ("shared.api.routes.mcp", "shared.mcp.http"): "cold start: the mcp SDK (~1 s of imports) only for /mcp requests",
}
# Only these import boto3/botocore (shared/db/* and the AWS adapters).
AWS_SDK_PREFIXES = ("shared.db", "shared.aws")
# The only module that passes a status to RunRepository.transition (besides the repository itself).
# The run lifecycle, and the session lifecycle for sessions' own statuses (docs/sessions.md).
STATUS_WRITERS = {"shared.runs.lifecycle", "shared.db.runs", "shared.sessions.lifecycle", "shared.db.sessions"}


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(SHARED.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = ast.parse(path.read_text(), str(path))
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").exists()


def _resolve(current: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The modules an import statement loads (submodules named in a from-import included)."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names)
        return
    base = node.module or ""
    if node.level:
        pkg = current.split(".")
        if not _is_package(current):
            pkg = pkg[:-1]
        pkg = pkg[: len(pkg) - node.level + 1]
        base = ".".join([*pkg, base] if base else pkg)
    yield base
    for alias in node.names:
        if f"{base}.{alias.name}" in MODULES:
            yield f"{base}.{alias.name}"


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement, and whether it runs when the module is imported (module level)."""

    def walk(node: ast.AST, top: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, top
            elif isinstance(child, ast.If) and _type_checking(child):
                continue  # never runs
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, False)
            else:
                yield from walk(child, top)

    yield from walk(tree, True)


def _graph() -> dict[str, set[str]]:
    """Module -> the modules it imports, at module level or in a function (a cycle through a
    function-level import only works because of when it runs); the documented lazy imports aside."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, tree in MODULES.items():
        for node, top in _imports(tree):
            for target in _resolve(name, node):
                if not top and (name, target) in ALLOWED_LAZY:
                    continue
                parts = target.split(".")
                # importing a.b.c runs a/__init__ and a/b/__init__ first
                for i in range(1, len(parts) + 1):
                    dep = ".".join(parts[:i])
                    if dep in MODULES and dep != name and not name.startswith(dep + "."):
                        graph[name].add(dep)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_of_shared_has_no_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_function_level_imports_of_our_modules_are_the_documented_lazy_ones() -> None:
    lazy = set()
    for name, tree in MODULES.items():
        for node, top in _imports(tree):
            if not top:
                lazy |= {(name, t) for t in _resolve(name, node) if t.split(".")[0] == "shared" and t in MODULES}
    # Keep only the most specific target of each statement (a from-import also names its package).
    lazy = {(m, t) for m, t in lazy if not any(m == m2 and t2.startswith(t + ".") for m2, t2 in lazy)}
    assert sorted(lazy - ALLOWED_LAZY.keys()) == [], "import these at module level, or document why not here"
    assert sorted(ALLOWED_LAZY.keys() - lazy) == [], "stale entries in ALLOWED_LAZY"


def test_only_data_access_and_the_aws_adapters_import_the_aws_sdk() -> None:
    offenders = []
    for name, tree in MODULES.items():
        for node, _top in _imports(tree):
            for target in _resolve(name, node):
                if target.split(".")[0] in ("boto3", "botocore") and not name.startswith(AWS_SDK_PREFIXES):
                    offenders.append((name, target))
    assert offenders == []


def test_only_the_lifecycle_module_changes_a_run_status() -> None:
    writers = set()
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "to_status" and not (isinstance(kw.value, ast.Constant) and kw.value.value is None):
                        writers.add(name)
    assert writers <= STATUS_WRITERS, sorted(writers - STATUS_WRITERS)


def test_shared_reaches_aws_through_the_adapters_not_the_raw_clients() -> None:
    users = {
        name
        for name, tree in MODULES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "aws" and isinstance(node.value, ast.Name | ast.Attribute)
    }
    assert users <= {"shared.services"}, sorted(users - {"shared.services"})
