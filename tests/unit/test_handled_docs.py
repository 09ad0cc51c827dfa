"""`recorder.HandledDocs`: the documents a pass recorded, per kind (the retry phase and the
full sweep ask it)."""

from __future__ import annotations

from reconciler.model import DocKind
from reconciler.sync.recorder import HandledDocs

PO, BILL = DocKind.PURCHASE_ORDER, DocKind.BILL


def test_a_key_is_handled_only_under_its_own_kind():
    handled = HandledDocs()
    handled.add((PO, 7))
    handled.add((BILL, 9))
    assert (PO, 7) in handled and (BILL, 9) in handled
    assert (BILL, 7) not in handled and (PO, 9) not in handled
    assert "7" not in handled and (PO,) not in handled


def test_the_sweep_subtracts_the_pos_handled_not_a_bill_of_the_same_id():
    """The full sweep looks up every listed PO the pass did not see. It used to subtract the
    ids of *every* document handled, so a bill numbered 12 hid PO 12 from the sweep (Luminous
    numbers each list from 1, so the ids meet)."""
    handled = HandledDocs()
    handled.add((BILL, 12))
    handled.add((PO, 3))
    assert handled.ids(PO) == {3}
    assert handled.ids(BILL) == {12}
    assert handled.ids(DocKind.RECEIPT) == frozenset()
