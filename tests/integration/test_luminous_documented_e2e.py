"""End to end against the Luminous emulator as the reference documents Luminous (and its less
forgiving variants): documented states, approval that cannot be read, filters a strict server
refuses, a full sweep.

Facts relied on (../shared/luminous-api.md): `order_status` "active", "inactive", "deleted"
(the PO list's filter) and "completed" (the update example) are real states, and a synced PO
that becomes inactive or deleted must follow in QBO; the reference's PO has no approval field,
and with approval required such a PO must not be pushed; `id` is not a documented filter of
the PO list and the date filter's form is not settled, so a server may refuse both with 422,
which must stop neither a pass nor a sweep.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from sync_harness import STRICT, harness

from reconciler.config.settings import ClassesSettings
from reconciler.model import SyncStatus

DOCUMENTED = {**STRICT, "approval_field": None}  # no approval field, strict filters


@pytest.fixture
def h(tmp_path):
    with harness(tmp_path) as h:
        yield h


def documented_po(h, **fields):
    """A PO as the reference shows one: no approval field at all."""
    supplier = h.supplier("Nutricost")
    whey = h.product("Whey Protein 5lb", "NC-WHEY-5")
    record = {
        "supplier_id": supplier["id"],
        "order_status": "active",
        "items": [{"product_id": whey["id"], "quantity": 10, "unit_price": 42.5}],
        **fields,
    }
    return h.lum.create_po(record, updated_at=h.next_stamp())


@pytest.mark.parametrize(
    ("status", "setting", "choice", "qbo_status"),
    [
        ("inactive", "on_inactive", "close", "Closed"),
        ("deleted", "on_deleted", "close", "Closed"),
        ("inactive", "on_inactive", "delete", None),
        ("deleted", "on_deleted", "delete", None),
    ],
)
def test_a_synced_po_that_becomes_inactive_or_deleted_follows_in_qbo(
    h, status, setting, choice, qbo_status
):
    """Not a failure (the pass exits 0): the QBO PO is closed or deleted by the setting."""
    po = h.po()
    h.run()
    qbo_id = h.entry(po["id"]).qbo_id
    h.edit(po["id"], order_status=status)
    report = h.run(settings=h.with_sync(**{setting: choice}))
    assert report.exit_code() == 0 and report.counts["failed"] == 0
    found = h.qbo.get("PurchaseOrder", qbo_id)
    if qbo_status is None:
        assert found is None and report.counts["deleted"] == 1
    else:
        assert found["POStatus"] == qbo_status and report.counts["closed"] == 1


def test_an_inactive_po_made_active_again_reopens(h):
    po = h.po()
    h.run()
    h.edit(po["id"], order_status="inactive")
    h.run()
    h.edit(po["id"], order_status="active")
    h.run()
    assert h.qbo_po(po["id"])["POStatus"] == "Open"


def test_an_undocumented_status_fails_that_po_alone(h):
    odd = h.po(order_status="archived")
    fine = h.po()
    report = h.run()
    assert report.fatal is None and report.exit_code() == 1
    assert h.entry(odd["id"]).status is SyncStatus.FAILED
    assert "unknown status 'archived'" in h.entry(odd["id"]).last_error_message
    assert h.entry(fine["id"]).status is SyncStatus.SYNCED


def test_a_documented_po_is_not_pushed_while_approval_is_required(tmp_path):
    """The emulator's default shape (no approval field) and default settings: the PO fails
    closed with a reason naming the field and the settings; turning approval off pushes it."""
    with harness(tmp_path, luminous_options=DOCUMENTED) as h:
        po = documented_po(h)
        served = h.lum.get_po(po["id"])
        assert "approval_status" not in served and "approval" not in served
        report = h.run()
        entry = h.entry(po["id"])
        assert entry.status is SyncStatus.FAILED and entry.qbo_id is None
        assert entry.last_error_code == "approval_unreadable"
        assert "'approval_status'" in entry.last_error_message
        assert "sync.approval_field" in entry.last_error_message
        assert h.qbo.objects("PurchaseOrder") == [] and report.fatal is None
        h.edit(po["id"], private_note="again")
        h.run(settings=h.with_sync(require_approval=False))
        assert h.entry(po["id"]).status is SyncStatus.SYNCED


def test_approval_in_a_configured_field(tmp_path):
    """A Luminous account that shows approval in `approval` (a variant): the setting names
    the field, pending POs wait, approved ones go."""
    with harness(tmp_path, luminous_options={**STRICT, "approval_field": "approval"}) as h:
        approved = documented_po(h, approval="Approved")
        pending = documented_po(h, approval="Pending Approval")
        settings = h.with_sync(approval_field="approval")
        h.run(settings=settings)
        assert h.entry(approved["id"]).status is SyncStatus.SYNCED
        assert h.entry(pending["id"]).status is SyncStatus.SKIPPED
        assert h.entry(pending["id"]).last_error_message == "awaiting approval"


def test_a_strict_server_stops_neither_the_pass_nor_the_full_sweep(tmp_path):
    """`id[gt]` and the old ISO form are refused with 422: the pass and the sweep go on, the
    sweep closes what vanished, what the server takes is kept in the state file, and the next
    pass asks nothing it refused."""
    with harness(tmp_path, luminous_options=STRICT) as h:
        pos = [h.po() for _ in range(3)]
        assert h.run().exit_code() == 0
        h.lum.delete_po(pos[1]["id"])
        report = h.run(full_sweep=True)
        assert report.fatal is None and report.exit_code() == 0
        assert h.qbo_po(pos[1]["id"])["POStatus"] == "Closed"
        refused = h.lum.count(status=422)
        assert refused >= 1  # the sweep's id[gt], once
        store = h.store()
        try:
            learnt = json.loads(store.get_meta("luminous_filters:/purchase-orders"))
        finally:
            store.close()
        assert learnt == {"date_form": "seconds", "id_filter": "refused"}
        h.run(full_sweep=True)
        assert h.lum.count(status=422) == refused


def test_a_server_that_takes_only_dates_syncs_and_keeps_the_date_form(tmp_path):
    with harness(tmp_path, luminous_options={"timestamp_filters": "dates"}) as h:
        first = h.po()
        h.run()
        second = h.po()
        report = h.run()
        assert report.counts["created"] == 1 and h.entry(second["id"]).qbo_id
        assert h.entry(first["id"]).status is SyncStatus.SYNCED
        assert h.lum.count(status=422) == 2  # seconds and iso, once each, then remembered


# --- absent fields ------------------------------------------------------------------------------


def multicurrency(h) -> None:
    """The QBO company keeps several currencies (Preferences.CurrencyPrefs)."""
    prefs = next(iter(h.qbo.company.objects["Preferences"].values()))
    prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] = True


def test_a_po_without_currency_in_a_multicurrency_company_is_a_decision(h):
    """By default it fails with the reason; with missing_currency = "vendor" it is booked in
    its vendor's currency in QBO (EUR for a vendor kept in euros, the home currency for the
    vendor the sync creates)."""
    multicurrency(h)
    h.qbo.seed("Vendor", {"DisplayName": "Acme GmbH", "CurrencyRef": {"value": "EUR"}})
    euro = documented_po(h, approval_status="approved", supplier_id=h.supplier("Acme GmbH")["id"])
    report = h.run()
    entry = h.entry(euro["id"])
    assert entry.status is SyncStatus.FAILED and "sync.missing_currency" in entry.last_error_message
    assert report.fatal is None and h.qbo.objects("PurchaseOrder") == []
    h.edit(euro["id"], private_note="decided")
    home = documented_po(h, approval_status="approved")  # Nutricost: a new vendor, in USD
    h.run(settings=h.with_sync(missing_currency="vendor"))
    assert h.qbo_po(euro["id"])["CurrencyRef"]["value"] == "EUR"
    assert h.qbo_po(home["id"])["CurrencyRef"]["value"] == "USD"


def test_a_po_without_a_warehouse_is_written_without_ship_to_and_says_so(h):
    po = h.po()  # no warehouse_id
    h.run()
    assert "ShipAddr" not in h.qbo_po(po["id"])
    store = h.store()
    try:
        messages = [row.message or "" for row in store.ledger.history(po["id"])]
    finally:
        store.close()
    assert any("no warehouse_id in Luminous): ShipAddr left out" in m for m in messages)


def test_a_warehouse_a_class_rule_needs_fails_or_takes_the_default_by_choice(tmp_path):
    classes = ClassesSettings(source="warehouse", map=(("Main", "East"),), default="General")

    def hook(settings):
        return dataclasses.replace(settings, classes=classes)

    with harness(tmp_path, settings_hook=hook) as h:
        general = h.qbo.seed("Class", {"Name": "General"})["Id"]
        h.qbo.seed("Class", {"Name": "East"})
        gone = h.po(warehouse_id=404)  # a warehouse Luminous no longer has
        h.run()
        reason = h.entry(gone["id"]).last_error_message
        assert "warehouse 404 not found" in reason and "[classes]" in reason
        h.edit(gone["id"], private_note="again")
        h.run(settings=h.with_sync(missing_warehouse="default"))
        line = h.qbo_po(gone["id"])["Line"][0]
        assert line["ItemBasedExpenseLineDetail"]["ClassRef"]["value"] == general
