"""Hostile and broken Luminous bills and receiving reports: each gets a clear outcome of its
own, the pass goes on, nothing is lost or doubled.

A good bill is read before and after the hostile one in the same pass and must be synced,
linked; the hostile one's ledger row says what happened; the bills' own checkpoint covers
them all. One test id per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from reliability_kit import InProcessDaemon, connect, world

from reconciler.model import DocKind, SyncStatus
from reconciler.state import StateStore

SYNCED, FAILED = SyncStatus.SYNCED, SyncStatus.FAILED


@dataclass(frozen=True)
class Case:
    id: str
    item: dict[str, Any] = field(default_factory=dict)  # written over the bill item
    bill: dict[str, Any] = field(default_factory=dict)  # written over the stored bill
    status: SyncStatus | None = FAILED  # None: no ledger row (no usable id)
    reason: str | None = None


CASES = [
    Case("unknown-status", bill={"status": "disputed"}, reason="unknown status 'disputed'"),
    Case("quantity-nan", item={"quantity": "NaN", "amount": "1.00"}, reason="bad number"),
    Case("quantity-negative", item={"quantity": "-2", "amount": "-85.00"}, reason="negative"),
    Case("items-not-a-list", bill={"items": {"0": "x"}}, reason="items is not a list"),
    Case("amount-not-qty-times-price", item={"amount": "999.00"}, reason="is not quantity"),
    Case("number-27-characters", bill={"bill_number": "X" * 27}, reason="has 27 characters"),
    Case("no-vendor", bill={"vendor_id": 424242, "vendor_name": None}, reason="names no vendor"),
    Case("huge-price", item={"unit_price": "1e30", "amount": None}, reason="too large"),
    Case("id-out-of-range", bill={"id": 2**63}, status=None),
    Case("unsearchable-number", bill={"bill_number": "Rg.-Nr. „7“"}, status=SYNCED),
]


def _bill(w, po: dict, number: str) -> dict:
    line = w.lum.get_po(po["id"])["items"][0]
    item = {"purchase_order_id": po["id"], "purchase_order_item_id": line["id"], "quantity": "2"}
    record = {"bill_number": number, "status": "posted", "items": [item]}
    return w.lum.bills.create(record, updated_at=w.source.stamps.next())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_bill_gets_a_clear_outcome_and_the_pass_goes_on(tmp_path, case):
    with world(tmp_path) as w:
        connect(w)
        daemon = InProcessDaemon(w, env={**w.env, "RECONCILER_BILLS__FROM": "bills"})
        po = w.source.po("Nutricost", "Whey Protein 5lb", "10", "42.50")
        daemon.settle()
        before = _bill(w, po, "GOOD-1")
        hostile = _bill(w, po, "HOSTILE-1")
        after = _bill(w, po, "GOOD-2")
        raw = dict(case.bill)
        if case.item:
            raw["items"] = [{**hostile["items"][0], **case.item}]
        w.lum.bills.set_raw(hostile["id"], **raw)
        report = daemon.run()
        assert report is not None and not report.fatal and not report.crashed
        store = StateStore.open(w.state_path)
        try:
            for good in (before, after):
                row = store.ledger.entry(good["id"], DocKind.BILL)
                assert row is not None and row.status is SYNCED, row
            row = store.ledger.entry(hostile["id"], DocKind.BILL)
            if case.status is None:
                assert row is None and report.counts["failed"] >= 1
            else:
                assert row is not None and row.status is case.status, row
                if case.reason:
                    assert case.reason in (row.last_error_message or ""), row.last_error_message
            checkpoint = store.ledger.checkpoint("luminous_bills")
            assert checkpoint is not None and checkpoint.doc_id == after["id"]
        finally:
            store.close()
        numbers = sorted(b["DocNumber"] for b in w.qbo.objects("Bill"))
        expected = ["GOOD-1", "GOOD-2"] + ([f"L-B{hostile['id']}"] if case.status is SYNCED else [])
        assert numbers == sorted(expected)
        assert daemon.run().qbo_requests == 0  # settled: a quiet pass costs nothing
