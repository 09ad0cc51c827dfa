"""Issue 32, case 5: a 2xx answer without the document is an unclear outcome, never `synced`.

A gateway on 127.0.0.1 between `run --once` and the QBO emulator answers 200 JSON without the
PurchaseOrder: without forwarding (the PO is not in QBO at all), after forwarding (it is), and
inside a /batch whose items hold only their bId. Intuit's answers to a create always carry the
object with its Id and SyncToken (../shared/qbo-reference/recorded: every recorded create).
"""

from __future__ import annotations

import json
import re

from life_kit import Gateway, life

CREATE = re.compile(r"/v3/company/\d+/purchaseorder$")
BATCH = re.compile(r"/v3/company/\d+/batch$")


def _statuses(w) -> dict[str, tuple[str, str | None]]:
    rows = json.loads(w.cli("status", "--json").stdout)
    return {row["number"]: (row["status"], row.get("qbo_id")) for row in rows}


def _through(w, gateway: Gateway):
    w.env["RECONCILER_QBO__BASE_URL"] = gateway.base_url


def test_a_create_answered_without_the_po_and_never_done_is_not_synced(tmp_path):
    """Before: recorded `synced` with QBO id None, exit 0, and the PO was never created; nothing
    looked again until the PO was edited. After: retrying; the next pass looks QBO up, finds
    nothing, and creates it once."""
    with life(tmp_path) as w:
        gateway = Gateway(w.qbo.api_base)
        _through(w, gateway)
        w.connect()
        w.po(order_numbers=["PO-1"])
        gateway.answer = lambda method, path, body: (
            (200, {"time": "2026-01-01T00:00:00.000-08:00"})
            if method == "POST" and CREATE.search(path)
            else None
        )
        first = w.cli("run", "--once")
        assert first.returncode == 1, first.stdout[-3000:]
        status, qbo_id = _statuses(w)["PO-1"]
        assert status != "synced" and not qbo_id
        assert "answer_without_entity" in first.stdout
        assert w.qbo.objects("PurchaseOrder") == []
        gateway.answer = lambda method, path, body: None
        assert w.cli("run", "--once").returncode == 0
        found = [p for p in w.qbo.objects("PurchaseOrder") if p["DocNumber"] == "PO-1"]
        assert len(found) == 1
        assert _statuses(w)["PO-1"] == ("synced", found[0]["Id"])
        gateway.stop()


def test_a_create_done_but_answered_without_the_po_is_looked_up_and_adopted(tmp_path):
    """QBO made the PO; the answer lost it on the way. It is found by its DocNumber before
    anything else is decided, and recorded with its real Id; never a second PO."""
    with life(tmp_path) as w:
        gateway = Gateway(w.qbo.api_base)
        _through(w, gateway)
        w.connect()
        w.po(order_numbers=["PO-7"])
        gateway.rewrite = lambda method, path, status, body: (
            {"time": body.get("time")} if method == "POST" and CREATE.search(path) else None
        )
        w.cli("run", "--once")
        gateway.rewrite = lambda *args: None
        assert w.cli("run", "--once").returncode == 0
        found = [p for p in w.qbo.objects("PurchaseOrder") if p["DocNumber"] == "PO-7"]
        assert len(found) == 1
        assert _statuses(w)["PO-7"] == ("synced", found[0]["Id"])
        gateway.stop()


def test_batch_items_holding_only_their_bid_are_not_synced(tmp_path):
    """A /batch answered with items that hold only their bId: every write in it is unclear,
    looked up on the next pass and adopted (QBO did make them), each exactly once."""
    with life(tmp_path) as w:
        gateway = Gateway(w.qbo.api_base)
        _through(w, gateway)
        w.connect()
        numbers = [f"PO-B{n}" for n in range(1, 4)]
        for n, number in enumerate(numbers):
            w.po(supplier=f"Supplier {n}", order_numbers=[number])

        def bids_only(method, path, status, body):
            if method == "POST" and BATCH.search(path) and isinstance(body, dict):
                items = body.get("BatchItemResponse") or []
                if any("PurchaseOrder" in item for item in items):
                    return {**body, "BatchItemResponse": [{"bId": i["bId"]} for i in items]}
            return None

        gateway.rewrite = bids_only
        first = w.cli("run", "--once")
        assert first.returncode == 1, first.stdout[-3000:]
        statuses = _statuses(w)
        assert all(statuses[n][0] != "synced" for n in numbers), statuses
        assert w.qbo.count(method="POST", path_contains="/batch") >= 1
        gateway.rewrite = lambda *args: None
        assert w.cli("run", "--once").returncode == 0
        for number in numbers:
            found = [p for p in w.qbo.objects("PurchaseOrder") if p["DocNumber"] == number]
            assert len(found) == 1, number
            assert _statuses(w)[number] == ("synced", found[0]["Id"])
        gateway.stop()
