"""A crash while bills are written, then restart: each Luminous bill once in QBO, linked.

In process (`InProcessDaemon`, `[bills] from = "bills"`), as the matrix of test_crash_points.py:
the pass dies at a named point (the state file closed under it, a power cut) while one bill
is created alone, and again while three are created in one /batch and a fourth bill is
edited. Between the crash and the restart the source moves on. With QBO's requestid replay
off, only the look-before-create (DocNumber and vendor) stands between a crash and a second
bill. A few points, not a second full matrix: `qbo_answered` is the crash between the bill
create and the ledger the issue names. The same points are SIGKILLed for real, once each, in
test_crash_points.py (the process dies the same way whatever the document).
"""

from __future__ import annotations

import pytest
from reliability_kit import (
    InProcessDaemon,
    World,
    assert_bill_invariants,
    assert_invariants,
    connect,
    world,
)

from reconciler.sandbox.qbo.server import FaultRule

POINTS = ("ledger_pending", "qbo_no_reply", "qbo_answered")


def _crash(w: World, daemon: InProcessDaemon, point: str) -> None:
    if point == "qbo_no_reply":  # the bill is committed, the answer never arrives
        w.qbo.add_fault(
            FaultRule(method="POST", path_regex=r"/(bill|batch)", action="drop_after_commit")
        )
    try:
        assert daemon.run(crash_at=f"{point}:1") is None  # (fails if the point is not reached)
    finally:
        w.qbo.clear_faults()


@pytest.mark.parametrize("replay", [True, False], ids=["replay-on", "replay-off"])
@pytest.mark.parametrize("point", POINTS)
def test_crash_while_bills_are_written_then_restart_settles_each_bill_once(tmp_path, point, replay):
    with world(tmp_path, requestid_replay=replay) as w:
        w.qbo.duplicate_docnumber_check = replay  # off: a second bill would really double
        connect(w)
        daemon = InProcessDaemon(w, env={**w.env, "RECONCILER_BILLS__FROM": "bills"})
        s = w.source
        pos = [s.po("Nutricost", "Whey Protein 5lb", "10", "42.50") for _ in range(4)]
        daemon.settle()  # the POs first
        first = s.bill(pos[0], "4", "INV-1")
        _crash(w, daemon, point)  # while a single bill is created
        s.edit_bill(first["id"], memo="edited while down")
        daemon.settle()
        assert_bill_invariants(w)

        for n, po in enumerate(pos[1:], start=2):
            s.bill(po, "3", f"INV-{n}")
        s.edit_bill(first["id"], items=[_item(w, pos[0], "5")])
        _crash(w, daemon, point)  # while a batch of bills is created
        daemon.settle()
        assert assert_bill_invariants(w).in_qbo == 4
        assert assert_invariants(w).in_qbo == 4  # the POs too: once, open (partly billed)


def _item(w: World, po: dict, qty: str) -> dict:
    line = w.lum.get_po(po["id"])["items"][0]
    return {"purchase_order_id": po["id"], "purchase_order_item_id": line["id"], "quantity": qty}


@pytest.mark.parametrize("replay", [True, False], ids=["replay-on", "replay-off"])
def test_crash_between_a_receipt_bills_create_and_the_ledger_settles_once(tmp_path, replay):
    """`[bills] from = "receipts"`: crashed after QBO created the bill for a receiving report
    and before the ledger knew; a second receipt arrives meanwhile. Each receipt billed once;
    the PO, received in full by the two, closed by QBO."""
    with world(tmp_path, requestid_replay=replay) as w:
        w.qbo.duplicate_docnumber_check = replay
        connect(w)
        daemon = InProcessDaemon(w, env={**w.env, "RECONCILER_BILLS__FROM": "receipts"})
        po = w.source.po("Nutricost", "Whey Protein 5lb", "10", "42.50")
        daemon.settle()  # the PO first
        line = w.lum.get_po(po["id"])["items"][0]["id"]

        def receive(qty: str) -> dict:
            items = [{"purchase_order_item_id": line, "received_quantity": qty}]
            fields = {"purchase_order_id": po["id"], "items": items}
            return w.lum.receiving.create(fields, updated_at=w.source.stamps.next())

        first = receive("4")
        _crash(w, daemon, "qbo_answered")
        assert len(w.qbo.objects("Bill")) == 1  # it landed; the ledger does not know
        second = receive("6")
        daemon.settle()
        bills = sorted(b["DocNumber"] for b in w.qbo.objects("Bill"))
        assert bills == sorted(f"RR-{r['id']}" for r in (first, second))
        qpo = w.qbo.objects("PurchaseOrder")[0]
        assert qpo["POStatus"] == "Closed"
        assert all(x.get("LinkedTxn") for b in w.qbo.objects("Bill") for x in b["Line"])
