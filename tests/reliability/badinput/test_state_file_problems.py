"""A state file that cannot be used gives one clear line and exit 2, with the right fix, from
every command; `doctor` says the same. The CLI runs as a subprocess, as a service user would
(a read-only directory is tested as user `nobody`: root can write anywhere)."""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
import subprocess
import sys
from pathlib import Path

from reconciler.documents.outcomes import Record
from reconciler.model import LedgerEntry, Outcome, SyncStatus
from reconciler.state import StateStore

REPO = Path(__file__).resolve().parents[3]
NOBODY = 65534


# As root, the CLI drops to `nobody` once the interpreter has loaded what it needs (the
# interpreter itself lives under /root, which `nobody` cannot read).
AS_NOBODY = """
import os, runpy, sys
import pwd, sqlite3, json, argparse, reconciler.app.cli, reconciler.app.wiring, reconciler.state
os.setgid({uid}); os.setuid({uid})
sys.argv = ["reconciler", *sys.argv[1:]]
runpy.run_module("reconciler", run_name="__main__")
"""


def cli(
    *args: str, state: Path, as_nobody: bool = False, extra: dict | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env["RECONCILER_STATE__PATH"] = str(state)
    env |= extra or {}
    start = ["-c", AS_NOBODY.format(uid=NOBODY)] if as_nobody else ["-m", "reconciler"]
    return subprocess.run(
        [sys.executable, *start, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], *pieces: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1, message
    for piece in pieces:
        assert piece in message, message
    return message


def _filled(path: Path, rows: int = 5) -> None:
    store = StateStore.open(path)
    try:
        for n in range(1, rows + 1):
            entry = LedgerEntry(doc_id=n, status=SyncStatus.SYNCED, number=f"PO-{n}", qbo_id=str(n))
            outcome = Outcome(n, SyncStatus.SYNCED, "create")
            store.ledger.record([Record(entry, outcome)], run_id="r")
    finally:
        store.close()


def test_a_read_only_directory_names_the_user_and_the_path(tmp_path):
    """The service user cannot write where the state file is: exit 2, the user, the path, and
    what to do.
    (Root writes anywhere, so as root the command runs as `nobody`, like a service user.)"""
    locked = tmp_path / "locked"
    locked.mkdir()
    StateStore.open(str(locked / "state.sqlite")).close()  # the daemon made it; then locked
    for parent in (tmp_path, *tmp_path.parents):
        if parent == Path("/tmp") or parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o055)  # nobody may reach tmp_path
    os.chmod(locked, 0o555)
    state = locked / "state.sqlite"
    as_nobody = os.geteuid() == 0
    user = "nobody" if as_nobody else pwd.getpwuid(os.geteuid()).pw_name
    for command in (("status",), ("retry", "--failed")):
        proc = cli(*command, state=state, as_nobody=as_nobody)
        _one_line_exit_2(proc, user, str(locked), "write access")


def test_a_corrupt_file_says_restore_or_move_aside_and_rebuild(tmp_path):
    """Garbage where the ledger should be: exit 2 with both ways out, from status and run."""
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"this is not a database, not at all " * 40)
    for command in (("status",), ("status", "--json"), ("retry", "--failed")):
        _one_line_exit_2(cli(*command, state=state), "damaged", "backup", "rebuild it from QBO")


def test_a_truncated_file_is_reported_as_damaged(tmp_path):
    """A copy cut short (a full disk, a half-finished restore): the same clear message."""
    state = tmp_path / "state.sqlite"
    _filled(state, rows=400)
    with sqlite3.connect(state) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = state.read_bytes()
    state.write_bytes(data[: len(data) // 2])
    for suffix in ("-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    proc = cli("status", "--json", state=state)
    _one_line_exit_2(proc, "damaged", "rebuild it from QBO")


def test_doctor_says_the_same_for_a_damaged_file(tmp_path):
    """`doctor` names the damage and the same fix, not "make the directory writable"."""
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"garbage " * 100)
    extra = {
        "RECONCILER_LUMINOUS__BASE_URL": "http://127.0.0.1:9/external/api/v1",
        "RECONCILER_LUMINOUS__API_TOKEN": "doctor-token",
        "RECONCILER_QBO__REALM_ID": "1",
        "RECONCILER_QBO__CLIENT_ID": "c",
        "RECONCILER_QBO__CLIENT_SECRET": "doctor-secret",
    }
    proc = cli("doctor", state=state, extra=extra)
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    at = next(i for i, x in enumerate(lines) if "state database" in x)
    check, fix = lines[at], lines[at + 1]
    assert "damaged" in check and fix.strip().startswith("fix:")
    assert "rebuild it from QBO" in fix and "writable" not in fix


def test_status_json_prints_every_row_unless_limited_and_the_table_counts_the_rest(tmp_path):
    """No silent stop at 200 rows: JSON has all 250; --limit cuts; the table says how many
    it left out."""
    state = tmp_path / "state.sqlite"
    _filled(state, rows=250)
    rows = json.loads(cli("status", "--json", state=state).stdout)
    assert len(rows) == 250
    assert len(json.loads(cli("status", "--json", "--limit", "7", state=state).stdout)) == 7
    table = cli("status", state=state).stdout
    assert "50 more not shown" in table
    assert "50 more" not in cli("status", "--limit", "300", state=state).stdout
