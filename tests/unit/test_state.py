"""The SQLite state store: migrations, ledger, checkpoint, maps, on a real file."""

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.documents.outcomes import Record
from reconciler.errors import Fatal
from reconciler.model import Checkpoint, DocKind, LedgerEntry, Lifecycle, Outcome, SyncStatus
from reconciler.state import StateStore

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    s = StateStore.open(tmp_path / "state.sqlite", clock=lambda: T0)
    yield s
    s.close()


def record(store, entry, outcome, *, run_id="r", checkpoint=None):
    """One outcome, and the checkpoint it allows, through the ledger's one write path."""
    moves = {"luminous": checkpoint} if checkpoint is not None else None
    store.ledger.record([Record(entry, outcome)], run_id=run_id, checkpoints=moves)


def begin(store, entry, *, run_id="r"):
    return store.ledger.begin([entry], run_id=run_id, verbs=["create"])[0]


def _synced(po_id=1, updated=T0, number="PO-1"):
    return LedgerEntry(
        doc_id=po_id,
        status=SyncStatus.SYNCED,
        number=number,
        qbo_id="77",
        sync_token="0",
        content_hash="abc",
        source_updated_at=updated,
        lifecycle=Lifecycle.OPEN,
    )


def test_state_file_is_private(tmp_path):
    """The state file is created with mode 0600: it holds vendor names and QBO ids."""
    StateStore.open(tmp_path / "s.sqlite").close()
    mode = stat.S_IMODE(os.stat(tmp_path / "s.sqlite").st_mode)
    assert mode == 0o600


def test_reopen_keeps_data_and_applies_no_migration_twice(tmp_path):
    """Opening an existing file keeps its rows; migrations run once."""
    s = StateStore.open(tmp_path / "s.sqlite", clock=lambda: T0)
    record(s, _synced(), Outcome(1, SyncStatus.SYNCED, "create"), run_id="r1")
    s.close()
    s2 = StateStore.open(tmp_path / "s.sqlite", clock=lambda: T0)
    assert s2.ledger.entry(1).qbo_id == "77"
    applied = s2.db.rows("select name from _sqlite_migrations")
    assert [r["name"] for r in applied] == [
        "m001_initial",
        "m002_ledger_qbo_id_index",
        "m003_documents_of_every_kind",
        "m004_vendor_and_adoption",
        "m005_preview_history_by_run",
        "m006_drift",
        "m007_bills",
        "m008_status_queries",
    ]
    assert s2.integrity_ok()


def test_record_moves_checkpoint_in_same_transaction(store):
    """An outcome and the checkpoint it allows are written together."""
    cp = Checkpoint(T0, 5)
    record(store, _synced(5), Outcome(5, SyncStatus.SYNCED, "create"), run_id="r", checkpoint=cp)
    assert store.ledger.checkpoint() == cp
    assert store.ledger.entry(5).status is SyncStatus.SYNCED


def test_failed_write_rolls_back_checkpoint(store, monkeypatch):
    """If the ledger write fails, the checkpoint does not move either."""

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.ledger, "_history_row", boom)
    with pytest.raises(RuntimeError):
        record(
            store,
            _synced(5),
            Outcome(5, SyncStatus.SYNCED, "create"),
            run_id="r",
            checkpoint=Checkpoint(T0, 5),
        )
    assert store.ledger.checkpoint() is None
    assert store.ledger.entry(5) is None


def test_checkpoint_never_moves_backwards(store):
    """A smaller key than the stored checkpoint is ignored."""
    store.ledger.move_checkpoint(Checkpoint(T0, 9))
    store.ledger.move_checkpoint(Checkpoint(T0, 3))
    store.ledger.move_checkpoint(Checkpoint(T0 - timedelta(days=1), 99))
    assert store.ledger.checkpoint() == Checkpoint(T0, 9)


def test_is_handled_only_for_settled_same_or_newer_version(store):
    """A PO counts as handled at a version only when a settled outcome covers it."""
    record(store, _synced(1, T0), Outcome(1, SyncStatus.SYNCED, "create"), run_id="r")
    assert store.ledger.is_handled(1, T0)
    assert not store.ledger.is_handled(1, T0 + timedelta(seconds=1))
    begin(store, _synced(2, T0), run_id="r")
    assert not store.ledger.is_handled(2, T0)


def test_force_retry_makes_a_po_due_and_unhandled(store):
    """`reconciler retry` marks a parked PO so the next pass takes it again."""
    failed = LedgerEntry(doc_id=3, status=SyncStatus.FAILED, source_updated_at=T0)
    record(store, failed, Outcome(3, SyncStatus.FAILED, "create"), run_id="r")
    assert [e.doc_id for e in store.ledger.due_for_retry(T0)] == []
    store.ledger.request_retry(3)
    assert [e.doc_id for e in store.ledger.due_for_retry(T0)] == [3]
    assert not store.ledger.is_handled(3, T0)
    record(store, _synced(3), Outcome(3, SyncStatus.SYNCED, "create"), run_id="r2")
    assert [e.doc_id for e in store.ledger.due_for_retry(T0)] == []


def test_retrying_due_only_after_next_retry_at(store):
    """A transient failure comes back once its back-off time has passed."""
    e = LedgerEntry(
        doc_id=4,
        status=SyncStatus.RETRYING,
        source_updated_at=T0,
        next_retry_at=T0 + timedelta(minutes=5),
    )
    record(store, e, Outcome(4, SyncStatus.RETRYING, "create"), run_id="r")
    assert store.ledger.due_for_retry(T0) == []
    assert [x.doc_id for x in store.ledger.due_for_retry(T0 + timedelta(minutes=5))] == [4]


def test_history_and_lookup_by_po_number(store):
    """`status PO-1042` finds the PO by number and shows its history in order."""
    begin(store, _synced(1042, number="PO-1042"), run_id="r1")
    record(
        store,
        _synced(1042, number="PO-1042"),
        Outcome(1042, SyncStatus.SYNCED, "create", qbo_id="77"),
        run_id="r1",
    )
    assert store.ledger.find("PO-1042") == [(DocKind.PURCHASE_ORDER, 1042)]
    assert store.ledger.find("1042") == [(DocKind.PURCHASE_ORDER, 1042)]
    assert store.ledger.find("PO-9") == []
    assert [(h.action, h.status) for h in store.ledger.history(1042)] == [
        ("create", "pending"),
        ("create", "synced"),
    ]


def test_vendor_map_is_case_insensitive(store):
    """QBO names compare without case, so does the cache."""
    store.refs.remember_vendor("Nutricost", "12", "Nutricost")
    assert store.refs.vendor_id("NUTRICOST") == "12"
    store.refs.forget_vendor("nutricost")
    assert store.refs.vendor_id("Nutricost") is None


def test_bind_realm_refuses_another_company(store):
    """A state file bound to one realm refuses another (it would duplicate everything)."""
    store.bind_realm("111")
    store.bind_realm("111")
    with pytest.raises(Fatal) as exc:
        store.bind_realm("222")
    assert exc.value.code == "wrong_realm"
