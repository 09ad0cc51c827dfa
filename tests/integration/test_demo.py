"""`reconciler demo`: the README's first command works on a machine with no accounts."""

import subprocess
import sys


def test_demo_runs_a_pass_and_shows_the_result():
    """The demo starts both emulators, syncs, prints the table, a PO's story and QBO's POs."""
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "STATUS" in out and "synced" in out and "skipped" in out
    assert "$ reconciler status PO-00011" in out and "no lines" in out
    qbo_lines = [ln for ln in out.splitlines() if ln.strip().startswith("Id ")]
    assert len(qbo_lines) == 4
    assert "Nutricost" in out
    assert "emu-secret" not in out + result.stderr
