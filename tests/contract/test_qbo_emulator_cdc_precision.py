"""QBO emulator: CDC asked again from the last answer's `time` loses nothing; other apps' changes.

Sources: Intuit's change-data-capture page (https://developer.intuit.com/app/developer/qbo/docs/
learn/explore-the-quickbooks-online-api/change-data-capture: changes by "your app or QuickBooks
Online users", deleted objects as status Deleted with their Id) and qbo-api.md "Change data
capture" (the precision of changedSince is undocumented: the emulator's choice is in qbo.py).
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

APP_B, SECRET_B = "emu-client-b", "emu-secret-b"


def cdc(qbo, entities: str, since: str) -> dict:
    response = qbo.get("cdc", entities=entities, changedSince=since)
    assert response.status_code == 200, response.text
    return response.json()


def changed(answer: dict, entity: str) -> list[dict]:
    """The objects of one entity in a CDC answer (QBO leaves empty entities as {})."""
    return [o for part in answer["CDCResponse"][0]["QueryResponse"] for o in part.get(entity, [])]


def other_app(qbo):
    qbo.emu.register_app(APP_B, SECRET_B)
    return type(qbo)(qbo.emu, qbo.emu.issue_tokens(APP_B)["access_token"])


def test_a_change_right_after_an_answer_is_in_the_next_one(qbo):
    """Asking from the last answer's `time` (what qbo-api.md's CDC polling does) returns a PO
    written in the same second: changedSince is compared at full precision, not against the
    whole-second MetaData.LastUpdatedTime (which would drop it)."""
    first = cdc(qbo, "PurchaseOrder", (qbo.emu.now() - timedelta(minutes=1)).isoformat())
    created = qbo.create("purchaseorder", qbo.po_body(doc_number="SAME-SECOND"))
    second = cdc(qbo, "PurchaseOrder", first["time"])
    assert created["Id"] in [p["Id"] for p in changed(second, "PurchaseOrder")]


def test_polling_from_each_time_misses_nothing_another_app_writes(make_emu):
    """While another app creates vendors, polling CDC from each answer's `time` sees every one
    (Intuit's CDC page: changes made by any app or user of the company). The 10 a second limit is
    off so the poll can spin."""
    qbo = make_emu(requests_per_second=None)
    writer = other_app(qbo)
    created: list[str] = []

    def write() -> None:
        for number in range(30):
            created.append(writer.create("vendor", {"DisplayName": f"Racing {number}"})["Id"])

    since = cdc(qbo, "Vendor", (qbo.emu.now() - timedelta(minutes=1)).isoformat())["time"]
    seen: set[str] = set()
    thread = threading.Thread(target=write)
    thread.start()
    for _ in range(1000):  # bounded; the writer ends long before
        answer = cdc(qbo, "Vendor", since)
        seen.update(v["Id"] for v in changed(answer, "Vendor"))
        since = answer["time"]
        if not thread.is_alive():
            break
    thread.join(timeout=30)
    answer = cdc(qbo, "Vendor", since)
    seen.update(v["Id"] for v in changed(answer, "Vendor"))
    assert len(created) == 30 and set(created) <= seen


def test_cdc_shows_another_apps_update_and_delete(qbo):
    """A PO edited and another deleted through the normal API by a second app come back in the
    first app's CDC: the edit in full, the delete as status Deleted with only its Id (and
    MetaData), as Intuit's CDC page shows deleted objects."""
    kept = qbo.create("purchaseorder", qbo.po_body(doc_number="KEPT"))
    dropped = qbo.create("purchaseorder", qbo.po_body(doc_number="DROPPED"))
    since = cdc(qbo, "PurchaseOrder", qbo.emu.now().isoformat())["time"]
    writer = other_app(qbo)
    edit = {"Id": kept["Id"], "SyncToken": kept["SyncToken"], "sparse": True, "Memo": "by B"}
    assert writer.post("purchaseorder", edit).status_code == 200
    delete = {"Id": dropped["Id"], "SyncToken": dropped["SyncToken"]}
    assert writer.post("purchaseorder", delete, operation="delete").status_code == 200
    pos = {p["Id"]: p for p in changed(cdc(qbo, "PurchaseOrder", since), "PurchaseOrder")}
    assert pos[kept["Id"]]["Memo"] == "by B" and pos[kept["Id"]]["SyncToken"] == "1"
    stub = pos[dropped["Id"]]
    assert stub["status"] == "Deleted" and stub["Id"] == dropped["Id"]
    assert set(stub) <= {"domain", "status", "Id", "MetaData"}


def test_cdc_time_has_milliseconds_and_metadata_whole_seconds(qbo):
    """MetaData times render as QBO's do, to the second with an offset (a captured QBO answer in
    bkjboadu/betterbiz-backend quickbooks_json.py: "2024-03-04T14:28:52-08:00"); the answer's
    `time` carries milliseconds."""
    created = qbo.create("vendor", {"DisplayName": "Format Check"})
    answer = cdc(qbo, "Vendor", (qbo.emu.now() - timedelta(minutes=1)).isoformat())
    second = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
    offset = r"[+-]\d\d:\d\d"
    assert re.fullmatch(second + offset, created["MetaData"]["LastUpdatedTime"])
    assert re.fullmatch(second + r"\.\d{3}" + offset, answer["time"])


def test_cdc_covers_every_entity_it_is_asked_for(qbo):
    """CDC takes a list of entities (Intuit's CDC page) and answers one QueryResponse each, in
    order, empty ones as {}."""
    since = cdc(qbo, "Vendor", qbo.emu.now().isoformat())["time"]
    qbo.create("vendor", {"DisplayName": "Listed Vendor"})
    qbo.create("customer", {"DisplayName": "Listed Customer"})
    answer = cdc(qbo, "Customer,Item,Vendor", since)
    parts = answer["CDCResponse"][0]["QueryResponse"]
    assert [next(iter(part), None) for part in parts] == ["Customer", None, "Vendor"]
