"""QBO emulator: an edit "as another user" is a real edit, as drift checks see one.

Sources: qbo-api.md "Idempotency and concurrency" (every object has SyncToken, a counter an
update moves; MetaData.LastUpdatedTime is set by QBO) and "Change data capture" (changed objects
come back whole, deleted ones as status Deleted); Intuit's CDC page (changes by any app or
QuickBooks Online user are returned).
"""

from __future__ import annotations

from datetime import datetime, timedelta


def changed(answer: dict, entity: str) -> list[dict]:
    return [o for part in answer["CDCResponse"][0]["QueryResponse"] for o in part.get(entity, [])]


def test_an_edit_as_another_user_moves_synctoken_and_lastupdatedtime_and_shows_in_cdc(qbo):
    po = qbo.create("purchaseorder", qbo.po_body(doc_number="DRIFT-1"))
    since = qbo.get("cdc", entities="PurchaseOrder", changedSince=qbo.emu.now().isoformat())
    qbo.emu.advance_clock(2)  # MetaData times are whole seconds
    edited = qbo.emu.edit_as_other_user("PurchaseOrder", po["Id"], {"Memo": "by accounts"})
    assert int(edited["SyncToken"]) == int(po["SyncToken"]) + 1
    before = datetime.fromisoformat(po["MetaData"]["LastUpdatedTime"])
    after = datetime.fromisoformat(edited["MetaData"]["LastUpdatedTime"])
    assert after - before >= timedelta(seconds=2)
    assert edited["MetaData"]["CreateTime"] == po["MetaData"]["CreateTime"]
    # who changed it last (MetaData.LastModifiedByRef, recorded on transactions): another user
    assert edited["MetaData"]["LastModifiedByRef"] != po["MetaData"]["LastModifiedByRef"]
    answer = qbo.get("cdc", entities="PurchaseOrder", changedSince=since.json()["time"]).json()
    [seen] = changed(answer, "PurchaseOrder")
    assert seen["Memo"] == "by accounts" and seen["SyncToken"] == edited["SyncToken"]
    assert seen["Line"] == edited["Line"] and seen["VendorRef"] == edited["VendorRef"]


def test_cdc_answers_purchase_orders_in_full_not_as_references(qbo):
    """Drift checks compare CDC's objects without reading each document again."""
    po = qbo.create("purchaseorder", qbo.po_body(doc_number="DRIFT-2"))
    start = (qbo.emu.now() - timedelta(minutes=1)).isoformat()
    [seen] = changed(qbo.get("cdc", entities="PurchaseOrder", changedSince=start).json(),
                     "PurchaseOrder")  # fmt: skip
    assert {k: v for k, v in seen.items() if k != "time"} == qbo.get(
        f"purchaseorder/{po['Id']}"
    ).json()["PurchaseOrder"]
