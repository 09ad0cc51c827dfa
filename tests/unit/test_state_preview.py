"""The state pieces a preview and the alerts stand on: an in-memory copy that leaves the file
alone, a pass's lines read back from its history, and who holds the run lock (on real files)."""

import hashlib
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from reconciler.documents.outcomes import Record
from reconciler.model import LedgerEntry, Outcome, SyncStatus
from reconciler.state import StateStore
from reconciler.state.lock import held_by, run_lock
from reconciler.state.run_lines import RunLines
from reconciler.state.snapshot import in_memory_copy

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _record(store, doc_id, status, *, run_id, action="create", code=None, message=None):
    entry = LedgerEntry(doc_id=doc_id, status=status, number=f"PO-{doc_id}", vendor="Acme")
    outcome = Outcome(
        doc_id, status, action, number=f"PO-{doc_id}", error_code=code, message=message
    )
    store.ledger.record([Record(entry, outcome)], run_id=run_id)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_copy_holds_the_file_and_changes_to_it_stay_in_memory(tmp_path):
    path = tmp_path / "state.sqlite"
    store = StateStore.open(path, clock=lambda: T0)
    _record(store, 1, SyncStatus.SYNCED, run_id="r1")
    store.close()
    before = _digest(path)
    copy = in_memory_copy(path, clock=lambda: T0)
    assert copy.ledger.entry(1).status is SyncStatus.SYNCED
    _record(copy, 2, SyncStatus.FAILED, run_id="r2")
    copy.set_meta("last_full_sweep_at", T0.isoformat())
    copy.refs.remember_vendor("Acme", "5", "Acme")
    copy.close()
    assert _digest(path) == before
    again = StateStore.open(path)
    assert again.ledger.entry(2) is None and again.get_meta("last_full_sweep_at") is None
    again.close()


def test_copy_of_a_missing_file_is_empty_and_creates_nothing(tmp_path):
    path = tmp_path / "none" / "state.sqlite"
    copy = in_memory_copy(path)
    assert copy.ledger.count() == 0
    copy.ledger.record([], run_id="r")
    copy.close()
    assert not path.parent.exists()


def test_copy_of_an_old_file_is_migrated_and_the_file_is_not(tmp_path):
    """A file from before the last migration previews as it would run; it stays as it was."""
    path = tmp_path / "old.sqlite"
    StateStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("drop index idx_history_run_id")
    conn.execute("delete from _sqlite_migrations where name = 'm005_preview_history_by_run'")
    conn.commit()
    conn.close()
    before = _digest(path)
    copy = in_memory_copy(path)
    indexes = {r["name"] for r in copy.db.rows("select name from sqlite_master where type='index'")}
    copy.close()
    assert "idx_history_run_id" in indexes
    assert _digest(path) == before


def test_copy_while_a_writer_holds_the_file_open(tmp_path):
    """WAL: the copy reads a consistent snapshot while another connection writes."""
    path = tmp_path / "state.sqlite"
    writer = StateStore.open(path, clock=lambda: T0)
    _record(writer, 1, SyncStatus.SYNCED, run_id="r1")
    copy = in_memory_copy(path)
    _record(writer, 2, SyncStatus.SYNCED, run_id="r2")
    assert copy.ledger.count() == 1
    copy.close()
    writer.close()


def test_unreadable_file_is_a_clear_state_file_error(tmp_path):
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"not a database at all, just bytes" * 100)
    from reconciler.state import StateFileError

    with pytest.raises(StateFileError, match="damaged"):
        in_memory_copy(path)


def test_run_lines_last_step_and_status_before(tmp_path):
    store = StateStore.open(tmp_path / "s.sqlite", clock=lambda: T0)
    _record(store, 1, SyncStatus.RETRYING, run_id="r1", code="500")
    _record(store, 2, SyncStatus.FAILED, run_id="r1", code="6000", message="closed PO")
    store.ledger.begin(
        [LedgerEntry(doc_id=1, status=SyncStatus.PENDING)], run_id="r2", verbs=["create"]
    )
    _record(store, 1, SyncStatus.FAILED, run_id="r2", code="500", message="gave up")
    _record(store, 2, SyncStatus.FAILED, run_id="r2", action="skip", message="parked")
    _record(store, 3, SyncStatus.FAILED, run_id="r2", action="reject", message="no lines")
    _record(store, 4, SyncStatus.SYNCED, run_id="r2")
    lines = {line.doc_id: line for line in RunLines(store.db).of_run("r2")}
    assert [lines[i].status_before for i in (1, 2, 3, 4)] == ["retrying", "failed", None, None]
    assert lines[1].action == "create" and lines[1].message == "gave up"
    assert lines[1].number == "PO-1" and lines[1].vendor == "Acme"
    assert [line.doc_id for line in RunLines(store.db).newly_failed("r2")] == [1, 3]
    assert RunLines(store.db).of_run("nope") == []
    store.close()


def test_held_by_names_the_holder_without_taking_the_lock(tmp_path):
    path = tmp_path / "state.sqlite"
    assert held_by(path) is None  # no lock file: nobody
    with run_lock(path):
        assert held_by(path) == os.getpid()
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from reconciler.state.lock import held_by; "
                f"print(held_by({str(path)!r}))",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ},
        )
        assert child.stdout.strip() == str(os.getpid())
    assert held_by(path) is None
    assert held_by(path, locks=str(tmp_path / "no-such-table")) is None
