"""The import rules of docs/architecture.md, checked on the source with ast."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"
PURE = {
    "reconciler.model",
    "reconciler.errors",
    "reconciler.documents.po.mapping",
    "reconciler.sync.cursor",
    "reconciler.sync.checkpoint",
    "reconciler.documents.plan",
    "reconciler.documents.outcomes",
    "reconciler.config.settings",
    "reconciler.qbo.query",
    "reconciler.qbo.faults",
    "reconciler.documents.po.body",
    "reconciler.qbo.compare",
    "reconciler.qbo.cdc",
    "reconciler.qbo.wire",
    "reconciler.documents.po.parse",
    "reconciler.documents.bill.parse",
    "reconciler.documents.bill.model",
    "reconciler.documents.bill.mapping",
    "reconciler.documents.bill.plan",
    "reconciler.documents.bill.body",
    "reconciler.write.batching",
    "reconciler.qbo.statement",
    "reconciler.redact",
    "reconciler.preview.plan",
    "reconciler.preview.view",
    "reconciler.alerts.message",
    "reconciler.app.progress",
    "reconciler.documents.drift",
    "reconciler.documents.coding",
    "reconciler.qbo.company",
    "reconciler.documents.tax_inclusive",
}
# The middle decides and orders I/O it is handed (through protocols): no I/O library and no
# module at the edges (the state file, the HTTP clients, logging setup, the scheduler).
MIDDLE = {
    "reconciler.write.writes",
    "reconciler.write.pipeline",
    "reconciler.sync.po_sync",
    "reconciler.sync.bill_sync",
    "reconciler.sync.sources",
    "reconciler.sync.sweep",
    "reconciler.sync.engine",
    "reconciler.preview.qbo",
    "reconciler.sync.drift_check",
}
EDGES = (
    "reconciler.state",
    "reconciler.qbo.client",
    "reconciler.qbo.transport",
    "reconciler.app.wiring",
)
# Which library may be imported where (a prefix of the importing module's name).
LIBRARY_HOMES = {
    "sqlite3": ("reconciler.state",),
    "sqlite_utils": ("reconciler.state",),
    "requests": (
        "reconciler.luminous",
        "reconciler.qbo",
        "reconciler.app.wiring",
        "reconciler.alerts.webhook",
    ),
    "structlog": ("reconciler.logs",),
    "intuitlib": ("reconciler.app.wiring", "reconciler.qbo.auth", "reconciler.app.connect"),
    "prometheus_client": ("reconciler.web.health",),
}
STDLIB_ONLY_BANNED = ("requests", "sqlite_utils", "sqlite3", "structlog", "logging", "intuitlib")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_only(tree: ast.AST) -> set[int]:
    """Ids of import nodes under `if TYPE_CHECKING:` (no dependency when the code runs)."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            guarded.update(id(child) for child in ast.walk(node))
    return guarded


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    type_only = _type_only(tree)
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
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
    if module == "reconciler.app.daemon":
        return
    assert not any(n.split(".")[0] == "apscheduler" for n in _imports(MODULES[module]))


@pytest.mark.parametrize("module", sorted(MIDDLE))
def test_the_middle_does_no_io_of_its_own(module):
    """The engine, the pipeline and the document flow reach I/O only through what they are
    handed: no HTTP, SQLite or logging library, no edge module."""
    for name in _imports(MODULES[module]):
        assert name.split(".")[0] not in STDLIB_ONLY_BANNED, f"{module} imports {name}"
        assert not name.startswith(EDGES), f"{module} imports the edge module {name}"


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if not m.startswith("reconciler.sandbox"))
)
def test_each_library_lives_at_its_edge(module):
    """SQLite only in state/, HTTP only in the clients and the wiring, and so on."""
    for name in _imports(MODULES[module]):
        homes = LIBRARY_HOMES.get(name.split(".")[0])
        if homes is not None:
            assert module.startswith(homes), f"{module} imports {name} (allowed in {homes})"


def test_the_rules_see_the_modules_they_guard():
    """The checker finds the modules it guards (a renamed file must not silently pass)."""
    assert set(MODULES) >= PURE | MIDDLE
