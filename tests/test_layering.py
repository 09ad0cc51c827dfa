"""The folder rules of docs/architecture.md: the folders are the layers, every import points
down (the import-linter contracts in pyproject.toml), each I/O library lives in one folder,
and the pure decisions do no I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconciler"
# Which folder (or ground-floor module) may import each library; a library not named here may
# be imported anywhere.
LIBRARY_HOMES = {
    "sqlite3": ("state",),
    "sqlite_utils": ("state",),
    "requests": ("luminous", "qbo", "alerts", "app"),
    "structlog": ("logs",),
    "logging": ("logs", "app"),
    "intuitlib": ("qbo", "app"),
    "prometheus_client": ("web",),
    "apscheduler": ("app",),
}
# What importing every module of the pure folders must never load.
IO_MODULES = ("socket", "ssl", "sqlite3", "logging", "subprocess", "requests", "structlog")


def _folder(path: Path) -> str:
    """The layer a module is in: its top folder under reconciler/, or its own name."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "sandbox" not in p.parts)


def test_every_import_points_down():
    """The contracts in pyproject.toml hold: layers, and the emulators kept apart."""
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_every_folder_is_a_layer():
    """A new folder (or ground-floor module) cannot dodge the layers contract."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["id"] == "layers")["layers"]
    named = {part.strip() for layer in layers for part in layer.replace(":", "|").split("|")}
    present = {f"reconciler.{_folder(p)}" for p in PACKAGE.glob("*") if _is_layer(p)}
    assert present - named == set()
    assert len(present) >= 15  # (the rule sees the tree it guards)


def _is_layer(path: Path) -> bool:
    if path.name in ("__init__.py", "__main__.py", "sandbox", "__pycache__"):
        return False
    return path.suffix == ".py" or (path / "__init__.py").exists()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_library_lives_in_its_folder(path):
    """SQLite only in state/, HTTP only in the clients, the alerts and the app, and so on."""
    for name in _imports(path):
        homes = LIBRARY_HOMES.get(name.split(".")[0])
        if homes is not None:
            assert _folder(path) in homes, f"{path.name} imports {name} (allowed in {homes})"


def test_the_pure_decisions_load_no_io():
    """Importing every module of documents/ (and the ground floor they stand on) loads no
    socket, database, logging or HTTP module: the decisions are testable with plain data."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import reconciler.documents as d\n"
        "for m in pkgutil.walk_packages(d.__path__, 'reconciler.documents.'):\n"
        "    importlib.import_module(m.name)\n"
        f"print(sorted(set(sys.modules) & set({IO_MODULES!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"


def test_the_rules_see_the_modules_they_guard():
    """The checker finds the modules it guards (a moved tree must not silently pass)."""
    folders = {_folder(p) for p in MODULES}
    assert {"documents", "sync", "write", "state", "luminous", "qbo", "app"} <= folders
