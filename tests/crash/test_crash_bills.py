"""SIGKILL while bills are written, then restart: each Luminous bill once in QBO, linked.

The daemon (`python -m reconciler run --once`, `[bills] from = "bills"`) is killed at a named
point while one bill is created alone, and again while three are created in one /batch and a
fourth bill is edited. Between the kill and the restart the source moves on. With QBO's
requestid replay off, only the look-before-create (DocNumber and vendor) stands between a
kill and a second bill. A few points, not a second full matrix: `qbo_answered` is the kill
between the bill create and the ledger the issue names.
"""

from __future__ import annotations

import pytest
from reliability_kit import (
    SIGKILLED,
    World,
    assert_bill_invariants,
    assert_invariants,
    connect,
    run_once,
    settle,
    world,
)

from reconciler.sandbox.qbo import FaultRule

POINTS = ("ledger_pending", "qbo_no_reply", "qbo_answered")


def _crash(w: World, point: str, label: str) -> None:
    if point == "qbo_no_reply":  # the bill is committed, the answer never arrives
        w.qbo.add_fault(
            FaultRule(method="POST", path_regex=r"/(bill|batch)", action="drop_after_commit")
        )
    proc = run_once(w.env, crash_at=f"{point}:1", label=f"crash {label}")
    w.qbo.clear_faults()
    assert proc.returncode == SIGKILLED, f"{point} was not reached: {proc.stderr[-1500:]}"


@pytest.mark.parametrize("replay", [True, False], ids=["replay-on", "replay-off"])
@pytest.mark.parametrize("point", POINTS)
def test_sigkill_while_bills_are_written_then_restart_settles_each_bill_once(
    tmp_path, point, replay
):
    with world(tmp_path, requestid_replay=replay) as w:
        w.qbo.duplicate_docnumber_check = replay  # off: a second bill would really double
        w.env = {**w.env, "RECONCILER_BILLS__FROM": "bills"}
        connect(w)
        s = w.source
        pos = [s.po("Nutricost", "Whey Protein 5lb", "10", "42.50") for _ in range(4)]
        settle(w.env, label="POs first")
        first = s.bill(pos[0], "4", "INV-1")
        _crash(w, point, f"{point} single bill")
        s.edit_bill(first["id"], memo="edited while down")
        settle(w.env, label=f"settle {point}")
        assert_bill_invariants(w)

        for n, po in enumerate(pos[1:], start=2):
            s.bill(po, "3", f"INV-{n}")
        s.edit_bill(first["id"], items=[_item(w, pos[0], "5")])
        _crash(w, point, f"{point} batch of bills")
        settle(w.env, label=f"settle {point} again")
        assert assert_bill_invariants(w).in_qbo == 4
        assert assert_invariants(w).in_qbo == 4  # the POs too: once, open (partly billed)


def _item(w: World, po: dict, qty: str) -> dict:
    line = w.lum.get_po(po["id"])["items"][0]
    return {"purchase_order_id": po["id"], "purchase_order_item_id": line["id"], "quantity": qty}
