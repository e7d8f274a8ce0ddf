"""DESIGN.md's import rules, checked on the source: `domain` imports nothing from the
project, and the console (`tui`) reaches the world only through the Backend protocol, so
the same screens run over the local engine and over DataWorks."""

from __future__ import annotations

import ast
from pathlib import Path

import opscenter

PACKAGE = Path(opscenter.__file__).parent


def imports(folder: str) -> dict[str, set[str]]:
    """Each module under ``folder`` -> the opscenter modules it imports (at any depth, in
    functions too; ``from opscenter import x`` and relative imports resolved)."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        package = ["opscenter", *path.relative_to(PACKAGE).parent.parts]
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(PACKAGE))] = {n for n in names if n.startswith("opscenter")}
    return found


def test_domain_imports_nothing_from_the_project() -> None:
    wrong = {
        module: sorted(n for n in names if not n.startswith("opscenter.domain"))
        for module, names in imports("domain").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}


def test_the_console_never_reaches_past_the_backend_protocol() -> None:
    below = ("opscenter.scheduler", "opscenter.store", "opscenter.sla", "opscenter.project")
    wrong = {
        module: sorted(n for n in names if n.startswith(below) or n == "opscenter.backends.local")
        for module, names in imports("tui").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}
    assert any("opscenter.backends.base" in names for names in imports("tui").values())


def test_the_store_never_reaches_up_into_the_scheduler() -> None:
    """The store is the bottom of the house: the lease is a row lock and lives there."""
    wrong = {
        module: sorted(n for n in names if n.startswith("opscenter.scheduler"))
        for module, names in imports("store").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}
