"""Issue 32, case 9: someone else's edit is never masked by a write of our own made after it.

A PO synced; an accountant changes its Memo in QBO; the next pass links a bill to the PO, and
QBO moves the PO's SyncToken on. The drift check compares a changed document with the
snapshot of our last write; the ledger's SyncToken, moved on by the bill, must not stand in
for a comparison nobody made. `[bills] from = "bills"`; every run is `run --once`.
"""

from __future__ import annotations

import json
import time

from life_kit import life


def _po_row(w, number: str) -> dict:
    return json.loads(w.cli("status", number, "--json").stdout)


def test_a_memo_changed_in_qbo_before_a_bill_links_the_po_is_found(tmp_path):
    """Before: every later drift check logged `changed=… ours=0` with no finding, and
    `status` said synced while QBO held the other Memo. After: the edit is found when the
    bill moves the PO on (and stays reported), with the field named ours -> QBO's."""
    with life(tmp_path) as w:
        w.env.update(RECONCILER_BILLS__FROM="bills", RECONCILER_SYNC__DRIFT_CHECK_INTERVAL="1s")
        w.connect()
        po = w.po(public_note="as Luminous has it")
        assert w.cli("run", "--once").returncode == 0  # synced; the drift interval starts
        (qbo_po,) = w.qbo.objects("PurchaseOrder")
        number = qbo_po["DocNumber"]
        w.qbo.edit_as_other_user("PurchaseOrder", qbo_po["Id"], {"Memo": "the accountant's"})
        w.bill(po, "B-1001")
        billed = w.cli("run", "--once")
        assert billed.returncode == 0, billed.stdout[-3000:]
        assert any(b.get("DocNumber") == "B-1001" for b in w.qbo.objects("Bill"))
        assert w.qbo.get("PurchaseOrder", qbo_po["Id"])["SyncToken"] != qbo_po["SyncToken"]
        row = _po_row(w, number)
        assert row["drift"] == "edited", row
        assert "Memo" in billed.stdout and '"event": "po_drift"' in billed.stdout
        time.sleep(1.1)
        later = w.cli("run", "--once")  # a later drift check keeps it, and says it once
        assert later.returncode == 0
        assert _po_row(w, number)["drift"] == "edited"
        assert '"event": "po_drift"' not in later.stdout
        status = w.cli("status").stdout
        assert "changed in QBO" in status or "edited" in status
