"""Payments read through their bills (reconciler/luminous/payments.py), against the Luminous
emulator over HTTP: the official CLI publishes a bill's payment routes but no list of payments
(LuminousInventory/luminous-cli, cli/resources/bills.py), and a bill carries its `payments`
(cli/resources/_input.py names it among a record's arrays)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import requests

from reconciler.documents.payment.parse import payment_or_reject
from reconciler.luminous.client import LuminousClient
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sync.pull import pull_changes, sweep_ids

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _world():
    emu = LuminousEmulator().start(port=0)
    emu.set_now(T0 + timedelta(hours=1))
    supplier = emu.add_supplier("Nutricost")
    bills = [
        emu.bills.create({"status": "posted", "vendor_id": supplier["id"], "items": []}, T0)
        for _ in range(3)
    ]
    return emu, bills


def _client(emu, per_page=2):
    session = requests.Session()
    return LuminousClient(
        session,
        emu.base_url,
        emu.token,
        per_page=per_page,
        sleep=lambda s: None,
        rng=random.Random(1),
    )


def test_payments_of_bills_of_one_instant_come_in_payment_id_order():
    """Bills 1 and 2 share an instant; their payments 1, 2, 3 (1 and 3 on bill 1) are read as
    keys (t, 1), (t, 2), (t, 3), ascending, as the checkpoint needs; bill 3's later."""
    emu, bills = _world()
    try:
        same = T0 + timedelta(minutes=1)
        for bill in (bills[0], bills[1], bills[0]):
            emu.payments.pay(bill["id"], {"paid_amount": "5"}, updated_at=same)
        emu.payments.pay(
            bills[2]["id"], {"paid_amount": "7"}, updated_at=same + timedelta(seconds=1)
        )
        reader = _client(emu).documents("payments")
        read = pull_changes(
            reader,
            None,
            already_handled=lambda *_: False,
            parse=payment_or_reject,
            local_now=T0 + timedelta(hours=1),
        )
        keys = [record.key for record in read.records]
        assert keys == [(same, 1), (same, 2), (same, 3), (same + timedelta(seconds=1), 4)]
        assert reader.last_read.mode == "key" and read.complete
    finally:
        emu.stop()


def test_one_payment_is_found_by_a_walk_and_a_deleted_one_is_gone():
    emu, bills = _world()
    try:
        kept = emu.payments.pay(bills[1]["id"], {"paid_amount": "5"})
        gone = emu.payments.pay(bills[2]["id"], {"paid_amount": "6"})
        emu.payments.delete(bills[2]["id"], gone["id"])
        fresh = _client(emu).documents("payments")  # a new process: knows no payment yet
        found = fresh.get(kept["id"])
        assert found["paid_amount"] == "5.00" and found["bill"]["id"] == bills[1]["id"]
        assert fresh.get(gone["id"]) is None
        vanished, listed = sweep_ids(_client(emu).documents("payments"), [kept["id"], gone["id"]])
        assert (vanished, listed) == ({gone["id"]}, {kept["id"]})
    finally:
        emu.stop()
