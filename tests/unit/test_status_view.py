"""How `reconciler status` renders the ledger."""

import json
from datetime import UTC, datetime

from reconciler.app import status_table as status_view
from reconciler.model import LedgerEntry, SyncStatus
from reconciler.state import HistoryRow

T = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _failed():
    return LedgerEntry(
        doc_id=1042,
        status=SyncStatus.FAILED,
        number="PO-1042",
        attempts=1,
        last_error_code="6240",
        last_error_message="The name supplied already exists",
    )


def test_table_has_one_row_per_po_with_reason():
    """Each PO is one line with its status and the reason QBO gave."""
    out = status_view.table(
        [_failed(), LedgerEntry(doc_id=7, status=SyncStatus.SYNCED, qbo_id="9")]
    )
    lines = out.splitlines()
    assert lines[0].startswith("PO")
    assert "PO-1042" in lines[1] and "failed" in lines[1] and "[6240]" in lines[1]
    assert "synced" in lines[2] and " 9 " in lines[2]


def test_long_reason_is_cut_in_the_table_but_not_in_detail():
    """The table stays readable; `status PO` shows the whole reason."""
    entry = LedgerEntry(doc_id=1, status=SyncStatus.FAILED, last_error_message="x" * 300)
    assert "x" * 300 not in status_view.table([entry])
    assert "x" * 300 in status_view.document_detail(entry, [])


def test_empty_ledger_says_so():
    """An empty ledger gets a sentence, not an empty table."""
    assert status_view.table([]) == "no purchase orders or bills recorded yet"


def test_detail_lists_history_in_order():
    """The per-PO view tells the story: pending, then the outcome."""
    history = [
        HistoryRow(T, "r1", "create", "pending", None, None, None),
        HistoryRow(T, "r1", "create", "failed", None, "6240", "name taken"),
    ]
    out = status_view.document_detail(_failed(), history)
    assert out.index("pending") < out.index("name taken")
    assert "Luminous id 1042" in out


def test_json_round_trips():
    """`--json` output is machine-readable and keeps the error code."""
    data = json.loads(status_view.as_json([_failed()]))
    assert data[0]["number"] == "PO-1042" and data[0]["doc_id"] == 1042
    assert data[0]["error_code"] == "6240"
    detail = json.loads(status_view.detail_json(_failed(), []))
    assert detail["history"] == []
