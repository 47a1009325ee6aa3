"""The kit in shared/ knows nothing above it: no service, no command, no demo."""

from __future__ import annotations

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
ABOVE_THE_KIT = ("services", "caseline", "tests")


def imported_modules(source: str) -> set[str]:
    """Every module an `import` or `from ... import` names, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_module_of_the_kit_imports_a_service_the_command_or_the_tests() -> None:
    offenders = {
        f"{path.relative_to(SHARED.parent)}: {module}"
        for path in SHARED.rglob("*.py")
        for module in imported_modules(path.read_text())
        if module.split(".")[0] in ABOVE_THE_KIT
    }
    assert not offenders, sorted(offenders)


def test_the_import_walk_sees_imports_inside_functions_too() -> None:
    source = "def f():\n    from services.intake import bootstrap\n    import caseline.cli\n"
    assert imported_modules(source) == {"services.intake", "caseline.cli"}
