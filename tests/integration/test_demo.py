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
    assert len([ln for ln in qbo_lines if "vendor" in ln]) == 4  # the POs
    assert len([ln for ln in qbo_lines if "balance" in ln]) == 4  # the bills
    assert "Nutricost" in out
    # a PO, its bill, and the PO closed in QBO because the bill covers it
    assert "Bills now in the emulated QBO company" in out
    assert "NC-INV-1001" in out and "PO PO-00001" in out
    assert "billed" in out and "closed_in_qbo" in out and "QBO closed this PO" in out
    assert "emu-secret" not in out + result.stderr
