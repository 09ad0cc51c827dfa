"""The import rules of DESIGN.md, checked on the source with ast."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"
PURE = {
    "reconciler.model",
    "reconciler.errors",
    "reconciler.mapping",
    "reconciler.cursor",
    "reconciler.plan",
    "reconciler.qbo.query",
    "reconciler.qbo.faults",
    "reconciler.luminous_parse",
    "reconciler.batching",
}
STDLIB_ONLY_BANNED = ("requests", "sqlite_utils", "sqlite3", "structlog", "logging", "intuitlib")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names.add("reconciler.<relative>")
    return names


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("module", sorted(m for m in PURE if m in MODULES))
def test_pure_modules_import_only_pure_modules_and_stdlib(module):
    """Pure modules import each other and the standard library, nothing with I/O."""
    for name in _imports(MODULES[module]):
        top = name.split(".")[0]
        assert top not in STDLIB_ONLY_BANNED, f"{module} imports {name}"
        if top == "reconciler":
            owner = next((m for m in PURE if name == m or name.startswith(m + ".")), None)
            parent_ok = name in ("reconciler", "reconciler.qbo")
            assert owner is not None or parent_ok or name.rsplit(".", 1)[0] in PURE, (
                f"pure module {module} imports non-pure {name}"
            )


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("reconciler.sandbox")))
def test_sandbox_imports_nothing_from_reconciler(module):
    """The emulators share no code with the client: a shared bug would hide on both sides."""
    for name in _imports(MODULES[module]):
        if name.startswith("reconciler") and not name.startswith("reconciler.sandbox"):
            raise AssertionError(f"{module} imports {name}")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_apscheduler_only_in_daemon(module):
    """APScheduler stays at one edge module."""
    if module == "reconciler.daemon":
        return
    assert not any(n.split(".")[0] == "apscheduler" for n in _imports(MODULES[module]))


def test_the_rules_see_the_pure_modules():
    """The checker finds the modules it guards (a renamed file must not silently pass)."""
    assert {"reconciler.model", "reconciler.errors"} <= set(MODULES)
