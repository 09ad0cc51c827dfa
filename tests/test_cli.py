"""The command line as a user meets it."""

import subprocess
import sys

from reconciler import __version__
from reconciler.app.cli import main


def test_help_lists_program_name(capsys):
    """`--help` prints usage and exits 0."""
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "usage: reconciler" in out


def test_python_dash_m_runs_the_same_program():
    """`python -m reconciler --version` works like the console script."""
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"reconciler {__version__}"


def test_no_command_is_a_usage_error():
    """Running with no command explains itself and exits 2."""
    assert main([]) == 2
