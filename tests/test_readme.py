"""README.md stays true: every command documented, the Quick start commands are what CI runs."""

import argparse
import re
from pathlib import Path

from reconciler.app.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "reconciler") -> list[str]:
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                names.append(f"{prefix} {name}")
                names.extend(_subcommands(sub, f"{prefix} {name}"))
    return names


def test_every_command_is_in_the_readme():
    """Each CLI command (and auth action) is named in README's command table or text."""
    commands = _subcommands(build_parser())
    assert "reconciler auth connect" in commands  # the walker sees nested commands
    for command in commands:
        *parents, last = command.split()
        assert command in README or (" ".join(parents) in README and f"`{last}`" in README), (
            f"{command} is not documented in README.md"
        )


def test_quick_start_has_exactly_two_commands():
    """Quick start: the demo and the test suite, as two copy-pasteable commands."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    assert blocks[0].strip().endswith("reconciler demo")
    assert blocks[1].strip().endswith("python -m pytest")


def test_ci_runs_the_readmes_test_command():
    """.ci/run installs the test extra and runs `python -m pytest`, as README says; the
    versions are the locked ones (requirements-dev.lock, hashes checked)."""
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in CI
    assert "pip install --quiet --no-deps -e '.[test]'" in CI
    assert "-m pip check" in CI
    assert re.search(r'"\$VENV/bin/python" -m pytest', CI)
    assert "set -euo pipefail" in CI
