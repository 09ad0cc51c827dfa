"""README.md and docs/ stay true: short README, every link resolves inside the repository,
every command shown is one the CLI takes, every command documented, the settings reference
generated from the registry, and the Quick start commands are what CI runs."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.app.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
SHELL_OPERATORS = {">", ">>", "<", "|", "2>", "2>&1", "&&", ";"}


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "reconciler") -> list[str]:
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                names.append(f"{prefix} {name}")
                names.extend(_subcommands(sub, f"{prefix} {name}"))
    return names


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}


def test_the_readme_is_read_in_five_minutes():
    assert len(README.splitlines()) <= 150
    assert "../shared" not in README  # not in a clone of the project


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves_inside_the_repository(page):
    """Files exist, anchors name a heading there, and nothing points outside the checkout."""
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue  # a URL
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name}: no heading for #{anchor}"


def _shown_commands() -> list[tuple[str, list[str]]]:
    """Every `reconciler …` line in a `sh` block of the README and the docs."""
    found = []
    for page in PAGES:
        for block in SH_BLOCK.findall(page.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #", 1)[0].strip().rstrip("&").strip()
                words = shlex.split(line) if line else []
                while words and re.match(r"^[A-Z_]+=", words[0]):
                    words = words[1:]  # VAR=value before the command
                for i, word in enumerate(words):
                    starts = i == 0 or words[i - 1] == "&&"
                    if starts and word.endswith("reconciler"):
                        args = words[i + 1 :]
                        cut = [n for n, a in enumerate(args) if a in SHELL_OPERATORS]
                        found.append((page.name, args[: cut[0]] if cut else args))
    return found


def test_every_command_shown_is_one_the_cli_takes():
    """Each `reconciler …` in the docs parses: its command, its options and their values."""
    shown = _shown_commands()
    assert len(shown) >= 30  # (the finder sees the docs)
    parser = build_parser()
    for page, args in shown:
        args = [a for a in args if a != "|"]
        if not args or args[0] in ("--help", "-h") or "<" in " ".join(args):
            continue
        try:
            parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"{page}: `reconciler {' '.join(args)}` is not a command the CLI takes")


def test_every_command_is_documented():
    """Each CLI command (and auth action) is in docs/commands.md."""
    page = (ROOT / "docs" / "commands.md").read_text()
    commands = _subcommands(build_parser())
    assert "reconciler auth connect" in commands  # the walker sees nested commands
    for command in commands:
        assert command in page, f"{command} is not in docs/commands.md"


def test_the_settings_reference_is_generated_from_the_registry():
    """docs/configuration.md is what scripts/settings_reference.py makes of the code today."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_quick_start_has_exactly_two_commands():
    """Quick start: the demo and the test suite, as two copy-pasteable commands (and what to
    try next)."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = SH_BLOCK.findall(section)
    assert blocks[0].strip().endswith("reconciler demo")
    assert "python -m pytest" in blocks[1]
    assert "demo --keep-running" in blocks[2]


def test_ci_runs_the_readmes_test_command():
    """.ci/run installs the test extra and runs `python -m pytest`, as README says; the
    versions are the locked ones (requirements-dev.lock, hashes checked)."""
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in CI
    assert "pip install --quiet --no-deps -e '.[test]'" in CI
    assert "-m pip check" in CI
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    readme_args = SH_BLOCK.findall(section)[1].strip().split("-m pytest", 1)[1].split()
    ci_args = re.search(r'"\$VENV/bin/python" -m pytest(.*)', CI).group(1).split()
    assert ci_args == readme_args, "CI must run README's test command, arguments and all"
    assert "set -euo pipefail" in CI
