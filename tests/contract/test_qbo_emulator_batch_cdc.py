"""QBO emulator: /batch (items succeed or fail one by one, 30 at most) and /cdc."""

from __future__ import annotations

from datetime import timedelta


def test_batch_answers_each_item_by_bid(qbo):
    """A create, a failing create and a query in one batch answer per bId."""
    good = qbo.po_body(doc_number="B-1")
    bad = qbo.po_body(doc_number="B-2", vendor="999")
    request = {
        "BatchItemRequest": [
            {"bId": "1", "operation": "create", "PurchaseOrder": good},
            {"bId": "2", "operation": "create", "PurchaseOrder": bad},
            {"bId": "3", "Query": "select * from Vendor where DisplayName = 'Acme Supply Co'"},
        ]
    }
    response = qbo.post("batch", request)
    assert response.status_code == 200
    answers = {a["bId"]: a for a in response.json()["BatchItemResponse"]}
    assert answers["1"]["PurchaseOrder"]["DocNumber"] == "B-1"
    assert answers["2"]["Fault"]["Error"][0]["code"] == "2500"
    assert answers["3"]["QueryResponse"]["Vendor"][0]["Id"] == qbo.ACME
    assert [p["DocNumber"] for p in qbo.emu.objects("PurchaseOrder")] == ["B-1"]


def test_batch_update_and_delete(qbo):
    """Batch items can update and delete with Id and SyncToken."""
    first = qbo.create("purchaseorder", qbo.po_body(doc_number="U-1"))
    second = qbo.create("purchaseorder", qbo.po_body(doc_number="U-2"))
    update = {"Id": first["Id"], "SyncToken": "0", "sparse": True, "Memo": "batched"}
    request = {
        "BatchItemRequest": [
            {"bId": "u", "operation": "update", "PurchaseOrder": update},
            {
                "bId": "d",
                "operation": "delete",
                "PurchaseOrder": {"Id": second["Id"], "SyncToken": "0"},
            },
        ]
    }
    answers = {a["bId"]: a for a in qbo.post("batch", request).json()["BatchItemResponse"]}
    assert answers["u"]["PurchaseOrder"]["Memo"] == "batched"
    assert answers["d"]["PurchaseOrder"]["status"] == "Deleted"
    assert qbo.emu.get("PurchaseOrder", second["Id"]) is None


def test_batch_over_30_items_is_refused_whole(qbo):
    """31 items: the batch is refused with fault 1040 and nothing is written."""
    items = [
        {"bId": str(n), "operation": "create", "Vendor": {"DisplayName": f"Batch {n}"}}
        for n in range(31)
    ]
    response = qbo.post("batch", {"BatchItemRequest": items})
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "1040"
    assert len(qbo.emu.objects("Vendor")) == 4
    assert qbo.post("batch", {"BatchItemRequest": items[:30]}).status_code == 200
    assert len(qbo.emu.objects("Vendor")) == 34


def test_cdc_answers_changed_and_deleted_objects(qbo):
    """CDC lists objects changed since the moment, deleted ones as status Deleted with Id."""
    since = qbo.emu.now()
    qbo.emu.advance_clock(1)
    kept = qbo.create("purchaseorder", qbo.po_body(doc_number="C-1"))
    dropped = qbo.create("purchaseorder", qbo.po_body(doc_number="C-2"))
    qbo.post("purchaseorder", {"Id": dropped["Id"], "SyncToken": "0"}, operation="delete")
    vendor = qbo.create("vendor", {"DisplayName": "Changed Vendor"})
    response = qbo.get("cdc", entities="PurchaseOrder,Vendor,Item", changedSince=since.isoformat())
    assert response.status_code == 200
    answers = response.json()["CDCResponse"][0]["QueryResponse"]
    pos = {p["Id"]: p for p in answers[0]["PurchaseOrder"]}
    assert pos[kept["Id"]]["DocNumber"] == "C-1"
    assert pos[dropped["Id"]] == {
        "domain": "QBO",
        "status": "Deleted",
        "Id": dropped["Id"],
        "MetaData": pos[dropped["Id"]]["MetaData"],
    }
    assert [v["Id"] for v in answers[1]["Vendor"]] == [vendor["Id"]]
    assert answers[2] == {}
    # startPosition and maxResults, no totalCount: as real CDC answers (issue 31)
    assert set(answers[1]) == {"Vendor", "startPosition", "maxResults"}


def test_cdc_look_back_is_limited_to_30_days(qbo):
    """changedSince more than 30 days ago is refused."""
    too_old = qbo.emu.now() - timedelta(days=31)
    response = qbo.get("cdc", entities="Vendor", changedSince=too_old.isoformat())
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["element"] == "changedSince"
