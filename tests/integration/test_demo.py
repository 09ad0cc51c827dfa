"""`reconciler demo`: the README's first command works on a machine with no accounts, and
`--keep-running` leaves a sandbox a newcomer can explore with the real commands."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def test_demo_runs_a_pass_and_shows_the_result(tmp_path):
    """The demo starts both emulators, syncs, prints the table, a PO's story and QBO's POs;
    its log goes to demo.log, not the terminal."""
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo", "--dir", str(tmp_path)],
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
    # the log is in the demo's directory, one JSON event a line; the terminal has none of it
    assert "[info" not in out and "pass_started" not in out + result.stderr
    events = [
        json.loads(line)["event"] for line in (tmp_path / "demo.log").read_text().splitlines()
    ]
    assert "pass_finished" in events
    # the rows a newcomer reads: one attempt for a PO synced at once; a bill whose PO is a draft
    # is waiting for it (skipped, its reason naming the PO), not failed
    # (its bill's link is seen at once as QBO billing the PO: "billed in QBO", not an error)
    assert re.search(r"PO\s+PO-00001\s+1\s+synced(, billed in QBO)?\s+1\s+1\s", out)
    waiting = [ln for ln in out.splitlines() if "po_not_pushed" in ln]
    assert waiting and all(" skipped " in ln for ln in waiting)


def _wait_for(proc: subprocess.Popen, marker: str, timeout: float = 90.0) -> str:
    """What the process printed up to the line holding `marker` (bounded by `timeout`)."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"no {marker!r} in:\n{''.join(seen)}")


def test_keep_running_leaves_a_sandbox_to_explore(tmp_path):
    """It prints the lines to paste; they work: `status` and a pass against the emulators, the
    status page and /metrics; Ctrl-C stops it cleanly and its directory stays."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "demo", "--keep-running", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        printed = _wait_for(proc, "Its configuration")
        config = re.search(r"export RECONCILER_CONFIG=(\S+)", printed).group(1)
        page = re.search(r"status page:\s+(http://\S+)\s+\(retry token: (\S+)\)", printed)
        assert Path(config) == tmp_path / "reconciler.toml" and page is not None
        env = {**os.environ, "RECONCILER_CONFIG": config}
        cli = [sys.executable, "-m", "reconciler"]
        status = subprocess.run(
            [*cli, "status", "PO-00012"], env=env, capture_output=True, text=True, timeout=60
        )
        assert status.returncode == 0 and "closed_in_qbo" in status.stdout
        again = subprocess.run(
            [*cli, "run", "--once"], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 1  # the sample's PO without lines is still failed
        with urllib.request.urlopen(page.group(1), timeout=10) as answer:
            html = answer.read().decode()
        assert answer.status == 200 and "PO-00012" in html
        metrics = page.group(1).replace("/status", "/metrics")
        with urllib.request.urlopen(metrics, timeout=10) as answer:
            assert b"reconciler_" in answer.read()
        assert page.group(2) not in (tmp_path / "reconciler.toml").read_text()  # in its file
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0
    assert (tmp_path / "state.sqlite").exists() and (tmp_path / "demo.log").exists()
