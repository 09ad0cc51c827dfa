"""A record whose id looks like another PO's ("+2", 2.0, 2.9) but is no id a ledger row can
hold, stamped at that PO's very instant: both get their outcome.

Found by the whole-pass fuzz (test_fuzz_pass.py). The key read took such an id as the
integer it truncates or parses to, so at one instant the two records were one id: the second
read was dropped as already yielded. When the bogus record came first, the real PO got no row,
was not sent to QBO, and the checkpoint moved past it (lost until a full sweep).
"""

from __future__ import annotations

import json

import pytest
from reliability_kit import CAPTURED, InProcessDaemon, connect, world

from reconciler.model import SyncStatus
from reconciler.state import StateStore

LOOKALIKES = [  # (served id, the PO whose id it reads as)
    ("plus-text", "+2", 2),
    ("float-whole", 2.0, 2),  # JSON 2.0, read with parse_float=Decimal
    ("float-fraction", 2.9, 2),
    ("underscore-text", "2_0", 20),  # int() reads "2_0" as 20
]


@pytest.mark.parametrize("first", [True, False], ids=["bogus-read-first", "bogus-read-second"])
@pytest.mark.parametrize(
    ("served", "target"), [c[1:] for c in LOOKALIKES], ids=[c[0] for c in LOOKALIKES]
)
def test_a_lookalike_id_at_the_same_instant_hides_no_po(tmp_path, served, target, first):
    """Among records of one instant the server lists in insertion order: the bogus record is
    stored before the real PO (id 1) or after it (id 30)."""
    with world(tmp_path) as w:
        connect(w)
        w.lum.embed_items = False  # the lines come from /purchase-orders/items, by the id served
        created = {
            n: w.source.po(f"Supplier {n}", "Item", "1", "5.00", id=n) for n in (1, 2, 20, 30)
        }
        bogus = 1 if first else 30
        w.lum.set_raw(bogus, id=served, updated_at=w.lum._pos[target]["updated_at"])
        report = InProcessDaemon(w).run()
        assert report is not None and report.crashed is None and report.aborted is None
        store = StateStore.open(w.state_path)
        try:
            entries = {n: store.ledger.entry(n) for n in created if n != bogus}
        finally:
            store.close()
        assert all(e is not None and e.status is SyncStatus.SYNCED for e in entries.values()), (
            entries
        )
        numbers = [p.get("DocNumber") for p in w.qbo.objects("PurchaseOrder")]
        assert sorted(numbers) == sorted(created[n]["order_numbers"][0] for n in entries)
        events = [json.loads(line) for line in CAPTURED.outputs[-1][1].splitlines()]
        without = [e for e in events if e["event"] == "source_record_without_id"]
        assert [e["po_number"] for e in without] == [created[bogus]["order_numbers"][0]]
        assert report.exit_code() == 1
