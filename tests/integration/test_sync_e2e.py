"""End to end: Luminous emulator -> run_pass -> QBO emulator, over HTTP, real SQLite."""

from datetime import date
from decimal import Decimal

import pytest
from sync_harness import harness

from reconciler.model import Lifecycle, SyncStatus
from reconciler.sandbox.qbo.server import FaultRule


@pytest.fixture
def h(tmp_path):
    with harness(tmp_path) as h:
        yield h


def _writes(h):
    return h.qbo.count(method="POST") - h.qbo.count(method="POST", path_contains="/query")


def test_first_sync_creates_vendor_items_and_po_with_every_mapped_field(h):
    """A new PO creates its vendor, its items and the PurchaseOrder with all mapped fields."""
    h.supplier(
        "Nutricost",
        street_address="1250 S Industrial Way",
        city="Vineyard",
        state="UT",
        zip="84059",
        country="US",
        contact_email="orders@nutricost.example",
        contact_phone="+1 801 555 0100",
    )
    wh = h.lum.add_warehouse(
        "Main Warehouse",
        street_address="100 Dock Rd",
        city="Salt Lake City",
        state="UT",
        zip="84101",
        country="US",
    )
    whey = h.product("Whey Protein 5lb", "NC-WHEY-5")
    scoop = h.product("Measuring Scoop", None)
    po = h.po(
        lines=[(whey, "10", "42.50"), (scoop, "3", "0.333")],
        warehouse_id=wh["id"],
        order_date="2026-11-20",
        arrival_due_date="2026-12-04",
        total_shipping_cost="25.00",
        public_note="Deliver to dock 2",
        private_note="internal: check pricing",
        order_numbers=["PO-1042"],
    )
    report = h.run()
    assert report.fatal is None
    assert report.counts["created"] == 1

    qpo = h.qbo_po(po["id"])
    assert qpo["DocNumber"] == "PO-1042"
    assert qpo["POStatus"] == "Open"
    assert qpo["TxnDate"] == "2026-11-20"
    assert qpo["DueDate"] == "2026-12-04"
    assert qpo["PrivateNote"] == "internal: check pricing"
    assert qpo["Memo"] == "Deliver to dock 2"
    assert qpo["ShipAddr"]["City"] == "Salt Lake City"
    assert qpo["VendorAddr"]["City"] == "Vineyard"
    vendor = h.qbo.get("Vendor", qpo["VendorRef"]["value"])
    assert vendor["DisplayName"] == "Nutricost"
    assert vendor["PrimaryEmailAddr"]["Address"] == "orders@nutricost.example"
    assert vendor["PrimaryPhone"]["FreeFormNumber"] == "+1 801 555 0100"
    item_lines = [ln for ln in qpo["Line"] if ln["DetailType"] == "ItemBasedExpenseLineDetail"]
    assert [Decimal(str(ln["Amount"])) for ln in item_lines] == [Decimal("425.00"), Decimal("1.00")]
    items = {
        h.qbo.get("Item", ln["ItemBasedExpenseLineDetail"]["ItemRef"]["value"])["Name"]
        for ln in item_lines
    }
    assert items == {"Whey Protein 5lb", "Measuring Scoop"}
    whey_item = next(i for i in h.qbo.objects("Item") if i["Name"] == "Whey Protein 5lb")
    assert whey_item["Sku"] == "NC-WHEY-5"
    shipping = [ln for ln in qpo["Line"] if ln["DetailType"] == "AccountBasedExpenseLineDetail"]
    assert [Decimal(str(ln["Amount"])) for ln in shipping] == [Decimal("25.00")]
    assert Decimal(str(qpo["TotalAmt"])) == Decimal("451.00")
    entry = h.entry(po["id"])
    assert entry.status is SyncStatus.SYNCED
    assert entry.sync_token == qpo["SyncToken"]


def test_second_pass_makes_no_qbo_request(h):
    """With nothing changed in Luminous, a pass costs QBO nothing at all."""
    h.po()
    h.po(supplier="O'Brien & Sons")
    h.run()
    before = h.qbo.count()
    report = h.run()
    assert h.qbo.count() == before
    assert report.qbo_requests == 0
    assert report.counts["synced"] == 0


def test_warm_cache_new_po_costs_one_look_up_and_one_create(h):
    """Once vendor and items are known, a new PO alone is two QBO requests: the look-up by
    DocNumber that every create makes first, and the create."""
    h.po()
    h.run()
    before = h.qbo.count()
    h.po()
    report = h.run()
    assert report.counts["created"] == 1
    assert h.qbo.count() - before == 2
    new = h.qbo.request_log[-2:]
    assert [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in new] == [
        ("GET", "query"),
        ("POST", "purchaseorder"),
    ]


def test_edit_is_a_sparse_update_with_sync_token(h):
    """A changed quantity updates the same QBO PO; SyncToken moves on."""
    po = h.po()
    h.run()
    first = h.qbo_po(po["id"])
    whey = h.product("Whey Protein 5lb", "NC-WHEY-5")
    h.edit(po["id"], items=[{"product_id": whey["id"], "quantity": "12", "unit_price": "42.50"}])
    report = h.run()
    assert report.counts["updated"] == 1
    second = h.qbo_po(po["id"])
    assert second["Id"] == first["Id"]
    assert int(second["SyncToken"]) == int(first["SyncToken"]) + 1
    assert Decimal(str(second["TotalAmt"])) == Decimal("510.00")
    assert len(h.qbo.objects("PurchaseOrder")) == 1


def test_completed_po_is_closed_in_qbo(h):
    """Completing a PO in Luminous closes it in QBO."""
    po = h.po()
    h.run()
    h.edit(po["id"], order_status="completed")
    report = h.run()
    assert report.counts["closed"] == 1
    assert h.qbo_po(po["id"])["POStatus"] == "Closed"
    assert h.entry(po["id"]).lifecycle is Lifecycle.CLOSED


def test_cancelled_po_is_deleted_when_configured(h):
    """With on_cancel = delete, a cancelled PO is deleted in QBO."""
    po = h.po()
    h.run()
    qbo_id = h.entry(po["id"]).qbo_id
    h.edit(po["id"], order_status="cancelled")
    report = h.run(settings=h.with_sync(on_cancel="delete"))
    assert report.counts["deleted"] == 1
    assert h.qbo.get("PurchaseOrder", qbo_id) is None


def test_supplier_named_like_a_qbo_customer_gets_a_suffixed_vendor(h):
    """A 6240 collision with a customer is resolved by the suffix policy, not a blind retry."""
    h.qbo.seed("Customer", {"DisplayName": "Nutricost"})
    po = h.po(supplier="Nutricost")
    h.run()
    qpo = h.qbo_po(po["id"])
    vendor = h.qbo.get("Vendor", qpo["VendorRef"]["value"])
    assert vendor["DisplayName"] == "Nutricost (Supplier)"
    vendor_creates = h.qbo.count(method="POST", path_contains="/vendor")
    h.po(supplier="Nutricost")
    h.run()
    assert h.qbo.count(method="POST", path_contains="/vendor") == vendor_creates


def test_collision_policy_fail_parks_the_po_with_the_reason(h):
    """With vendor_name_collision = fail, the PO is parked with a clear reason."""
    h.qbo.seed("Customer", {"DisplayName": "Nutricost"})
    po = h.po(supplier="Nutricost")
    report = h.run(settings=h.with_sync(vendor_name_collision="fail"))
    entry = h.entry(po["id"])
    assert entry.status is SyncStatus.FAILED
    assert entry.last_error_code == "6240"
    assert "customer or employee" in entry.last_error_message
    assert report.exit_code() == 1


@pytest.mark.parametrize(
    "name,expected",
    [
        ("O'Brien & Sons", "O'Brien & Sons"),
        ("Back\\slash Supplies\\", "Back\\slash Supplies\\"),
        ("Acme: West Division", "Acme- West Division"),
        ("Café Ñandú Größe 株式会社", "Café Ñandú Größe 株式会社"),
        ("  padded   name  ", "padded name"),
        ("Smith\u2019s Ltd", "Smith\u2019s Ltd"),
        ("\u682a\u5f0f\u4f1a\u793e Tokyo", "\u682a\u5f0f\u4f1a\u793e Tokyo"),
    ],
)
def test_hostile_supplier_names_resolve_to_one_vendor(h, name, expected):
    """Quotes, backslashes, colons, unicode and padding map to one vendor, found again later."""
    h.po(supplier=name)
    h.run()
    h.po(supplier=name)
    h.run()
    vendors = [v for v in h.qbo.objects("Vendor") if v["DisplayName"] == expected]
    assert len(vendors) == 1
    assert len(h.qbo.objects("PurchaseOrder")) == 2


def test_existing_vendor_found_by_name_is_not_created_again(h):
    """A vendor already in QBO (with a quote in its name) is used, not duplicated."""
    h.po(supplier="O'Brien Hardware")
    h.run()
    assert [v["DisplayName"] for v in h.qbo.objects("Vendor")].count("O'Brien Hardware") == 1


def test_long_supplier_name_is_cut_with_a_stable_hash(h):
    """A 150-character name becomes a 100-character display name, the same on every pass."""
    name = "N" * 150
    h.po(supplier=name)
    h.run()
    h.po(supplier=name)
    h.run()
    long_vendors = [v for v in h.qbo.objects("Vendor") if v["DisplayName"].startswith("NNNN")]
    assert len(long_vendors) == 1
    assert len(long_vendors[0]["DisplayName"]) == 100


def test_bad_records_fail_alone_and_the_pass_goes_on(h):
    """0 lines, a negative quantity and an unknown currency fail clearly; good POs sync."""
    whey = h.product("Whey Protein 5lb", "NC-WHEY-5")
    empty = h.po(lines=[])
    negative = h.po(lines=[(whey, "-3", "42.50")])
    currency = h.po(currency="XYZ")
    good = h.po()
    report = h.run()
    assert h.entry(good["id"]).status is SyncStatus.SYNCED
    reasons = {po["id"]: h.entry(po["id"]).last_error_message for po in (empty, negative, currency)}
    assert "no lines" in reasons[empty["id"]]
    assert "negative quantity" in reasons[negative["id"]]
    assert "currency" in reasons[currency["id"]]
    assert all(h.entry(i).status is SyncStatus.FAILED for i in reasons)
    assert report.counts["failed"] == 3
    assert report.exit_code() == 1
    assert len(h.qbo.objects("PurchaseOrder")) == 1


def test_fixed_record_syncs_after_the_edit(h):
    """A parked bad record is taken again when the PO changes in Luminous."""
    po = h.po(lines=[])
    h.run()
    assert h.entry(po["id"]).status is SyncStatus.FAILED
    whey = h.product("Whey Protein 5lb", "NC-WHEY-5")
    h.edit(po["id"], items=[{"product_id": whey["id"], "quantity": "1", "unit_price": "1"}])
    h.run()
    assert h.entry(po["id"]).status is SyncStatus.SYNCED


def test_po_awaiting_approval_waits_until_approved(h):
    """Pending approval is skipped; approval pushes it."""
    po = h.po(approval_status="pending_approval")
    h.run()
    assert h.entry(po["id"]).status is SyncStatus.SKIPPED
    assert h.qbo.objects("PurchaseOrder") == []
    h.edit(po["id"], approval_status="approved")
    h.run()
    assert h.entry(po["id"]).status is SyncStatus.SYNCED


def test_transient_failure_retries_later_exactly_once_in_qbo(h):
    """A 503 on create schedules a retry; after the back-off the PO is created once."""
    h.qbo.add_fault(
        FaultRule(
            method="POST", path_regex=r"/purchaseorder", action="status", status=503, times=10
        )
    )
    po = h.po()
    h.run()
    entry = h.entry(po["id"])
    assert entry.status is SyncStatus.RETRYING
    assert entry.next_retry_at is not None
    h.qbo.clear_faults()
    h.run()  # still backing off: no write
    assert h.qbo.objects("PurchaseOrder") == []
    h.clock.advance(hours=2)
    h.run()
    assert h.entry(po["id"]).status is SyncStatus.SYNCED
    assert len(h.qbo.objects("PurchaseOrder")) == 1


def test_response_lost_after_commit_does_not_duplicate(h):
    """The create lands but the answer is lost: the retry's requestid returns the first PO."""
    h.qbo.add_fault(
        FaultRule(method="POST", path_regex=r"/purchaseorder", action="drop_after_commit", times=1)
    )
    po = h.po()
    h.run()
    h.clock.advance(hours=2)
    h.run()
    assert h.entry(po["id"]).status is SyncStatus.SYNCED
    assert len(h.qbo_pos_by_doc_number(po["order_numbers"][0])) == 1


def test_lost_answer_without_requestid_replay_is_found_by_doc_number(h):
    """Even if QBO forgot the requestid, the look-before-create finds the landed PO."""
    h.qbo.requestid_replay = False
    h.qbo.add_fault(
        FaultRule(method="POST", path_regex=r"/purchaseorder", action="drop_after_commit", times=4)
    )
    po = h.po()
    h.run()
    h.qbo.clear_faults()
    h.clock.advance(hours=3)
    h.run()
    assert h.entry(po["id"]).status is SyncStatus.SYNCED
    assert len(h.qbo_pos_by_doc_number(po["order_numbers"][0])) == 1


def test_deleted_in_luminous_is_closed_by_the_full_sweep(h):
    """A PO deleted in Luminous never shows in the poll; the full sweep closes it in QBO."""
    po = h.po()
    keep = h.po()
    h.run()
    h.lum.delete_po(po["id"])
    h.run()
    assert h.qbo_po(po["id"])["POStatus"] == "Open"
    h.run(full_sweep=True)
    assert h.qbo_po(po["id"])["POStatus"] == "Closed"
    assert h.qbo_po(keep["id"])["POStatus"] == "Open"


def test_stale_sync_token_is_reread_and_reapplied(h):
    """Someone edits the PO in QBO between passes: 5010, re-read, the update still lands."""
    po = h.po()
    h.run()
    qpo = h.qbo_po(po["id"])
    import requests

    token = h.qbo.issue_tokens()["access_token"]
    requests.post(
        f"{h.qbo.api_base}/{h.qbo.realm_id}/purchaseorder",
        json={"Id": qpo["Id"], "SyncToken": qpo["SyncToken"], "sparse": True, "Memo": "edited"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    ).raise_for_status()
    h.edit(po["id"], private_note="changed in Luminous")
    h.run()
    after = h.qbo_po(po["id"])
    assert after["PrivateNote"] == "changed in Luminous"
    assert h.entry(po["id"]).status is SyncStatus.SYNCED
    assert int(after["SyncToken"]) == int(qpo["SyncToken"]) + 2


def test_order_dates_reach_qbo_as_dates(h):
    """Dates keep their calendar day (no timezone shift)."""
    po = h.po(order_date="2026-01-31", arrival_due_date="2026-02-28")
    h.run()
    qpo = h.qbo_po(po["id"])
    assert date.fromisoformat(qpo["TxnDate"]) == date(2026, 1, 31)
    assert date.fromisoformat(qpo["DueDate"]) == date(2026, 2, 28)


def test_content_that_comes_back_is_still_written(h):
    """A -> B -> A -> B: each update reaches QBO (no requestid is replayed for new state)."""
    po = h.po(private_note="A")
    h.run()
    for note in ("B", "A", "B"):
        h.edit(po["id"], private_note=note)
        h.run()
        assert h.qbo_po(po["id"])["PrivateNote"] == note


def test_full_sweep_catches_an_edit_that_did_not_move_updated_at(h):
    """Content changed without a new updated_at is found by the sweep's comparison."""
    po = h.po(private_note="before")
    h.run()
    stamp = h.lum.get_po(po["id"])["updated_at"]
    h.lum.edit_po(po["id"], {"private_note": "after"}, updated_at=stamp)
    h.run()
    assert h.qbo_po(po["id"])["PrivateNote"] == "before"
    before = h.qbo.count()
    report = h.run(full_sweep=True)
    assert h.qbo_po(po["id"])["PrivateNote"] == "after"
    assert report.counts["updated"] == 1
    assert h.qbo.count() - before == 1  # the one update; unchanged POs cost nothing


def test_duplicate_po_number_never_adopts_another_pos_document(h):
    """Two Luminous POs with one number: the second fails with 6140, even on a forced retry."""
    first = h.po(order_numbers=["PO-DUP"], private_note="first")
    second = h.po(order_numbers=["PO-DUP"], private_note="second")
    h.run()
    assert h.entry(first["id"]).status is SyncStatus.SYNCED
    entry = h.entry(second["id"])
    assert entry.status is SyncStatus.FAILED and entry.last_error_code == "6140"
    store = h.store()
    store.ledger.request_retry(second["id"])
    store.close()
    h.run()
    entry = h.entry(second["id"])
    assert entry.status is SyncStatus.FAILED and entry.qbo_id is None
    assert "synced from Luminous PO" in entry.last_error_message
    docs = h.qbo_pos_by_doc_number("PO-DUP")
    assert len(docs) == 1 and docs[0]["PrivateNote"] == "first"


def test_existing_qbo_po_of_another_vendor_is_not_adopted(h):
    """A PO typed into QBO by hand with our number but another vendor stays untouched."""
    h.qbo.seed(
        "PurchaseOrder",
        {
            "DocNumber": "PO-HAND",
            "VendorRef": {"value": "1"},
            "Line": [
                {
                    "Amount": 5,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "2"}},
                }
            ],
        },
    )
    po = h.po(order_numbers=["PO-HAND"])
    h.qbo.add_fault(
        FaultRule(method="POST", path_regex="/purchaseorder", action="status", status=503, times=4)
    )
    h.run()  # the create fails transiently, so the next attempt looks first
    h.clock.advance(hours=2)
    h.run()
    entry = h.entry(po["id"])
    assert entry.status is SyncStatus.FAILED and entry.last_error_code == "6140"
    assert "another vendor" in entry.last_error_message
    docs = h.qbo_pos_by_doc_number("PO-HAND")
    assert len(docs) == 1 and docs[0]["VendorRef"]["value"] == "1"


def test_inventory_items_are_created_with_their_accounts(h):
    """item_type = Inventory creates tracked items with income, expense and asset accounts."""
    po = h.po(lines=[(h.product("Tracked Thing", "TRK-1"), "4", "2.50")])
    h.run(settings=h.with_sync(item_type="Inventory"))
    assert h.entry(po["id"]).status is SyncStatus.SYNCED
    item = next(i for i in h.qbo.objects("Item") if i.get("Sku") == "TRK-1")
    assert item["Type"] == "Inventory" and item["TrackQtyOnHand"] is True
    assert item["AssetAccountRef"]["value"] and item["IncomeAccountRef"]["value"]


def test_note_removed_in_luminous_is_removed_in_qbo(h):
    """Clearing the private note clears PrivateNote in QBO (a sparse update names it, empty)."""
    po = h.po(private_note="temporary")
    h.run()
    h.edit(po["id"], private_note=None)
    h.run()
    assert h.qbo_po(po["id"]).get("PrivateNote", "") == ""


def test_a_field_turned_off_is_left_alone_in_qbo(h):
    """[fields] Memo = false: QBO's Memo is neither written nor cleared."""
    import dataclasses

    settings = dataclasses.replace(
        h.settings, fields=tuple((f, None if f == "Memo" else s) for f, s in h.settings.fields)
    )
    po = h.po(public_note="for the vendor")
    h.run(settings=settings)
    assert "Memo" not in h.qbo_po(po["id"]) or h.qbo_po(po["id"])["Memo"] == ""
    assert h.qbo_po(po["id"])["DocNumber"] == po["order_numbers"][0]


def test_luminous_outage_aborts_the_pass_cleanly(h):
    """Luminous throttling for an hour: the pass ends 'aborted' (exit 1), nothing recorded wrong."""
    from reconciler.sandbox.luminous.server import LuminousFault

    po = h.po()
    h.lum.add_fault(
        LuminousFault(
            path_regex="/purchase-orders",
            action="status",
            status=429,
            retry_after=3600,
            times=None,
        )
    )
    report = h.run()
    assert report.aborted and report.fatal is None
    assert report.exit_code() == 1
    assert h.entry(po["id"]) is None
    store = h.store()
    assert store.runs.last(1)[0]["outcome"] == "aborted"
    assert store.ledger.checkpoint() is None
    store.close()
    h.lum.clear_faults()
    h.run()
    assert h.entry(po["id"]).status is SyncStatus.SYNCED


def test_lost_answers_without_replay_never_duplicate_within_a_pass(h):
    """QBO forgot the requestid and the answer was lost twice: one PO, found by DocNumber."""
    h.qbo.requestid_replay = False
    h.qbo.duplicate_docnumber_check = False  # a duplicate would show, not fail with 6140
    h.qbo.add_fault(
        FaultRule(method="POST", path_regex="/purchaseorder", action="drop_after_commit", times=2)
    )
    po = h.po()
    h.run()
    h.clock.advance(hours=2)
    h.run()
    assert h.entry(po["id"]).status is SyncStatus.SYNCED
    assert len(h.qbo_pos_by_doc_number(po["order_numbers"][0])) == 1


def test_cancelled_while_create_unconfirmed_is_deleted_when_configured(h):
    """on_cancel = delete: a create whose answer was lost, then a cancel, leaves no PO in QBO."""
    h.qbo.add_fault(
        FaultRule(
            method="POST", path_regex="/purchaseorder", action="drop_after_commit", times=None
        )
    )
    po = h.po()
    h.run()
    assert h.entry(po["id"]).qbo_id is None  # unconfirmed
    assert len(h.qbo_pos_by_doc_number(po["order_numbers"][0])) == 1  # but it landed
    h.qbo.clear_faults()
    h.edit(po["id"], order_status="cancelled")
    h.clock.advance(hours=2)
    h.run(settings=h.with_sync(on_cancel="delete"))
    assert h.qbo_pos_by_doc_number(po["order_numbers"][0]) == []
    assert h.entry(po["id"]).lifecycle is Lifecycle.DELETED
