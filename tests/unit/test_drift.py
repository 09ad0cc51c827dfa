"""Drift, the pure part: snapshots of our writes, what a CDC object says happened, what the
ledger row becomes under each policy, and how CDC is asked (qbo-api.md "Change data capture":
30 days back, 1000 objects per entity, deleted objects as status Deleted with their Id)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from support import rules

from reconciler.documents import drift
from reconciler.documents.drift import Drift, FieldDiff, Sighting, Snapshot
from reconciler.model import DocKind, LedgerEntry, Lifecycle, SyncStatus
from reconciler.qbo import cdc
from reconciler.redact import SECRETS

PO = DocKind.PURCHASE_ORDER
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FIELDS = drift.synced_fields(PO, rules())

# QBO's answer to our create: the document as a snapshot keeps it.
ANSWER = {
    "Id": "130",
    "SyncToken": "0",
    "DocNumber": "PO-1042",
    "POStatus": "Open",
    "VendorRef": {"value": "56", "name": "Nutricost"},
    "APAccountRef": {"value": "33"},
    "TxnDate": "2026-11-01",
    "TotalAmt": Decimal("451.00"),
    "Memo": "Deliver to dock 2",
    "ShipMethodRef": {"value": "FedEx"},  # a field the sync does not write
    "CurrencyRef": {"value": "USD"},
    "MetaData": {"LastUpdatedTime": "2026-11-01T12:00:00-07:00"},
    "Line": [
        {
            "Id": "1",
            "LineNum": 1,
            "Amount": Decimal("425.00"),
            "DetailType": "ItemBasedExpenseLineDetail",
            "ItemBasedExpenseLineDetail": {
                "ItemRef": {"value": "7", "name": "Whey"},
                "Qty": Decimal("10"),
                "UnitPrice": Decimal("42.50"),
                "BillableStatus": "NotBillable",
            },
        },
        {
            "Id": "2",
            "LineNum": 2,
            "Amount": Decimal("26.00"),
            "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "80"}},
        },
    ],
}  # fmt: skip


def row(**kw) -> LedgerEntry:
    fields = {
        "doc_id": 1042,
        "status": SyncStatus.SYNCED,
        "number": "PO-1042",
        "qbo_id": "130",
        "sync_token": "0",
        "content_hash": "h1",
        "lifecycle": Lifecycle.OPEN,
    }
    fields.update(kw)
    return LedgerEntry(**fields)


def ours() -> Snapshot:
    snap = drift.snapshot(PO, ANSWER, FIELDS)
    assert snap is not None
    return dataclasses.replace(snap, fields=drift.stored_form(snap.fields))


def held(**changes) -> dict:
    """QBO's document after someone else's edit (a new SyncToken), as a check compares it."""
    doc = copy.deepcopy(ANSWER)
    doc["SyncToken"] = "1"
    doc.update(changes)
    return drift.held_form(PO, doc, FIELDS)


def test_a_snapshot_keeps_every_synced_field_and_only_those():
    """Fields we do not write stay QBO's business; a synced field QBO left out is kept as None,
    so a value added in QBO later is a difference."""
    snap = drift.snapshot(PO, ANSWER, FIELDS)
    assert set(snap.fields) == set(FIELDS)
    assert "ShipMethodRef" not in snap.fields and snap.fields["PrivateNote"] is None
    assert snap.fields["Line"][0] == {
        "DetailType": "ItemBasedExpenseLineDetail",
        "Amount": Decimal("425.00"),
        "ItemBasedExpenseLineDetail": {
            "ItemRef": {"value": "7", "name": "Whey"},
            "Qty": Decimal("10"),
            "UnitPrice": Decimal("42.50"),
        },
    }
    assert snap.sync_token == "0" and snap.qbo_id == "130"
    assert snap.updated_at == datetime(2026, 11, 1, 19, 0, tzinfo=UTC)
    assert drift.snapshot(PO, {"Id": "130", "status": "Deleted"}, FIELDS).deleted


def test_fields_follow_the_configuration():
    off = drift.synced_fields(PO, rules(fields=(("DocNumber", "order_numbers"),)))
    assert "Memo" not in off and "DocNumber" in off and "VendorRef" in off
    custom = drift.synced_fields(PO, rules(custom_fields=(("Sales Rep", "rep"),)))
    assert "CustomField" in custom


def test_our_own_write_is_never_drift():
    """The SyncToken we recorded, or an older one (we wrote since), is ours: nothing."""
    assert drift.assess(PO, row(), ours(), drift.held_form(PO, ANSWER, FIELDS)) is None
    newer_row = row(sync_token="3")
    assert drift.assess(PO, newer_row, ours(), held()) is None  # QBO's "1" is older than ours
    seen = dataclasses.replace(ours(), seen_token="1")
    assert drift.assess(PO, row(), seen, held(Memo="changed")) is None  # already assessed


def test_is_news_reads_only_the_token_and_status_of_the_raw_object():
    """What a check asks before the work of `held_form`: the raw CDC object will do."""
    raw = copy.deepcopy(ANSWER)
    assert not drift.is_news(row(), ours(), raw)  # the SyncToken we wrote
    assert drift.is_news(row(), ours(), {**raw, "SyncToken": "1"})
    assert drift.is_news(row(), ours(), {"Id": "130", "status": "Deleted"})
    assert not drift.is_news(
        row(lifecycle=Lifecycle.DELETED), ours(), {"Id": "130", "status": "Deleted"}
    )
    assert not drift.is_news(row(status=SyncStatus.PENDING), ours(), {**raw, "SyncToken": "1"})
    assert drift.is_news(row(sync_token=None), None, raw)  # nothing known: look


def test_a_change_to_a_field_we_do_not_sync_only_refreshes_the_token():
    seen = drift.assess(PO, row(), ours(), held(ShipMethodRef={"value": "UPS"}))
    assert seen == Sighting("1", None)
    settled = drift.settle(row(), seen, ours(), "report")
    assert settled.finding is None and settled.outcome is None
    assert settled.entry.sync_token == "1" and settled.seen_token == "1"


def test_an_edit_names_each_field_ours_then_qbos_with_amounts_as_decimals():
    line = copy.deepcopy(ANSWER["Line"][0])
    line["Amount"] = Decimal("500.00")
    line["ItemBasedExpenseLineDetail"]["UnitPrice"] = Decimal("50")
    seen = drift.assess(
        PO,
        row(),
        ours(),
        held(
            Line=[line],  # the shipping line removed
            TotalAmt=Decimal("500.00"),
            VendorRef={"value": "57", "name": "Other"},
        ),
    )
    assert seen.change is Drift.EDITED and seen.token == "1"
    diffs = {d.field: d for d in seen.diffs}
    assert diffs["VendorRef"] == FieldDiff("VendorRef", "56", "57")
    assert diffs["TotalAmt"] == FieldDiff("TotalAmt", Decimal("451"), Decimal("500"))
    assert isinstance(diffs["TotalAmt"].ours, Decimal)
    assert diffs["Line count"] == FieldDiff("Line count", "2", "1")
    assert diffs["Line 1 UnitPrice"] == FieldDiff(
        "Line 1 UnitPrice", Decimal("42.5"), Decimal("50")
    )
    assert str(diffs["Line 1 Amount"]) == "Line 1 Amount: 425 -> 500"


def test_a_text_added_in_qbo_where_we_wrote_none_is_a_difference():
    seen = drift.assess(PO, row(), ours(), held(PrivateNote="added by the accountant"))
    assert [str(d) for d in seen.diffs] == ["PrivateNote: (empty) -> added by the accountant"]


def test_a_deletion_is_drift_unless_we_deleted_it():
    stub = {"domain": "QBO", "status": "Deleted", "Id": "130"}
    assert drift.assess(PO, row(), ours(), stub) == Sighting(
        None, Drift.DELETED, note="deleted in QBO by someone else"
    )
    assert drift.assess(PO, row(lifecycle=Lifecycle.DELETED), ours(), stub) is None


def test_a_write_of_ours_in_flight_is_left_to_its_answer():
    assert drift.assess(PO, row(status=SyncStatus.PENDING), ours(), held(Memo="x")) is None


def test_billed_and_closed_are_recorded_not_edits():
    """A bill closes the PO (POStatus Closed, LinkedTxn of the bill): recorded as billed; the
    POStatus difference is not reported as an edit. Closed without a bill: closed."""
    billed = drift.assess(
        PO, row(), ours(), held(POStatus="Closed", LinkedTxn=[{"TxnId": "9", "TxnType": "Bill"}])
    )
    assert billed == Sighting("1", Drift.BILLED, note="closed by bill 9 in QBO", ended=True)
    part = drift.assess(PO, row(), ours(), held(LinkedTxn=[{"TxnId": "9", "TxnType": "Bill"}]))
    assert part.change is Drift.BILLED and part.note == "billed in part by bill 9 in QBO"
    closed = drift.assess(PO, row(), ours(), held(POStatus="Closed"))
    assert closed.change is Drift.CLOSED
    edited = drift.assess(PO, row(), ours(), held(POStatus="Closed", Memo="x"))
    assert edited.change is Drift.EDITED and edited.ended
    assert [d.field for d in edited.diffs] == ["Memo"]


def test_written_before_drift_checks_a_new_token_is_an_edit_of_unknown_fields():
    seen = drift.assess(PO, row(), None, held(Memo="x"))
    assert seen.change is Drift.EDITED and seen.diffs == () and "not known" in seen.note
    assert drift.assess(PO, row(sync_token="1"), None, held(Memo="x")) is None


def test_sync_tokens_that_are_not_numbers_are_new_unless_known():
    assert drift._newer("abc", ["xyz"]) and not drift._newer("abc", ["abc"])
    assert drift._newer("10", ["9"]) and not drift._newer("9", ["10"])


@pytest.mark.parametrize("policy", drift.POLICIES)
def test_an_edit_under_each_policy(policy):
    seen = drift.assess(PO, row(), ours(), held(Memo="changed in QBO"))
    settled = drift.settle(row(), seen, ours(), policy)
    finding = settled.finding
    assert finding.reported and finding.change is Drift.EDITED and finding.qbo_id == "130"
    assert settled.entry.sync_token == "1" and settled.entry.drift is Drift.EDITED
    assert settled.outcome.action == "drift" and settled.outcome.message == finding.summary()
    if policy == "report":
        assert not finding.restoring and "QBO's version kept" in finding.summary()
        assert settled.entry.content_hash == "h1" and not settled.entry.force_retry
    else:
        # plan.decide then plans an update: no content hash to match, a retry asked for
        assert finding.restoring and "writes the sync's back" in finding.summary()
        assert settled.entry.content_hash is None and settled.entry.force_retry


@pytest.mark.parametrize("policy", drift.POLICIES)
def test_a_deletion_under_each_policy(policy):
    seen = drift.assess(PO, row(), ours(), {"status": "Deleted", "Id": "130"})
    settled = drift.settle(row(), seen, ours(), policy)
    entry = settled.entry
    assert entry.status is SyncStatus.SKIPPED and entry.lifecycle is Lifecycle.DELETED
    assert entry.drift is Drift.DELETED and entry.last_error_code == drift.DELETED_CODE
    assert entry.qbo_id == "130" and entry.sync_token == "0"  # its next create is a new id
    assert entry.force_retry is (policy == "restore")


def test_a_billed_po_is_never_restored():
    seen = drift.assess(
        PO, row(), ours(), held(POStatus="Closed", LinkedTxn=[{"TxnId": "9", "TxnType": "Bill"}])
    )
    settled = drift.settle(row(), seen, ours(), "restore")
    assert not settled.finding.reported and not settled.finding.restoring
    assert settled.entry.drift is Drift.BILLED and not settled.entry.force_retry
    assert "not an error" in settled.outcome.message
    edited = drift.assess(PO, row(), ours(), held(POStatus="Closed", Memo="x"))
    assert not drift.settle(row(), edited, ours(), "restore").finding.restoring


def test_the_same_drift_seen_again_is_not_reported_again():
    seen = drift.assess(PO, row(), ours(), held(Memo="changed"))
    first = drift.settle(row(), seen, ours(), "report")
    remembered = dataclasses.replace(ours(), seen_token="1", diffs=first.finding.diffs)
    again = dataclasses.replace(seen, token="2")
    quiet = drift.settle(first.entry, again, remembered, "report")
    assert quiet.finding is None and quiet.outcome is None and quiet.entry.sync_token == "2"


def test_qbo_matching_again_resolves_the_drift():
    drifted = row(drift=Drift.EDITED)
    settled = drift.settle(drifted, Sighting("3", None), ours(), "report")
    assert settled.entry.drift is None and settled.finding is None
    assert settled.outcome.message == "QBO matches what the sync last wrote again"


def test_redaction_never_shows_as_a_difference():
    """A secret-shaped note is stored redacted; QBO's copy is compared redacted the same way."""
    SECRETS.add("s3cr3t-value-123")
    try:
        answer = {**ANSWER, "PrivateNote": "Bearer abc.def and s3cr3t-value-123"}
        snap = drift.snapshot(PO, answer, FIELDS)
        stored = dataclasses.replace(snap, fields=drift.stored_form(snap.fields))
        assert "s3cr3t" not in str(stored.fields) and "abc.def" not in str(stored.fields)
        again = drift.held_form(PO, {**answer, "SyncToken": "1"}, FIELDS)
        assert drift.assess(PO, row(), stored, again) == Sighting("1", None)
    finally:
        SECRETS.clear()


# --- asking CDC ---------------------------------------------------------------------------


def test_check_due_and_off():
    assert cdc.check_due(T0, T0 + timedelta(minutes=15), timedelta(minutes=15))
    assert not cdc.check_due(T0, T0 + timedelta(minutes=14), timedelta(minutes=15))
    assert not cdc.check_due(T0, T0 + timedelta(days=9), timedelta(0))
    assert not cdc.check_due(None, T0, timedelta(minutes=15))


def test_where_a_check_asks_from():
    """From the last answer; the first check from the first write a snapshot holds, or from
    when drift checks started (a ledger synced before them); never past CDC's 30 days."""
    assert cdc.since_for(None, None, None, T0) == (None, False)
    first = T0 - timedelta(hours=1)
    started = T0 - timedelta(minutes=15)
    assert cdc.since_for(None, first, started, T0) == (first - cdc.CDC_OVERLAP, False)
    assert cdc.since_for(None, None, started, T0) == (started - cdc.CDC_OVERLAP, False)
    assert cdc.since_for(first, T0 - timedelta(days=3), started, T0) == (first, False)
    long_ago = T0 - timedelta(days=40)
    assert cdc.since_for(long_ago, None, None, T0) == (T0 - cdc.CDC_SAFE_LOOKBACK, True)


def _page(n: int, *, start: datetime = T0, time: datetime | None = None) -> cdc.CDCPage:
    rows = tuple(
        {"Id": str(i), "SyncToken": "0",
         "MetaData": {"LastUpdatedTime": (start + timedelta(seconds=i)).isoformat()}}
        for i in range(n)
    )  # fmt: skip
    return cdc.CDCPage({"PurchaseOrder": rows}, time or start + timedelta(hours=1))


def test_a_complete_answer_is_asked_again_from_its_time_less_the_overlap():
    page = _page(3)
    assert cdc.after_page(page, T0) == (page.time - cdc.CDC_OVERLAP, False, False)


def test_an_answer_cut_at_1000_goes_on_from_its_newest_change_at_once():
    page = _page(cdc.CDC_MAX_PER_ENTITY)
    resume = T0 + timedelta(seconds=cdc.CDC_MAX_PER_ENTITY - 1)
    assert cdc.after_page(page, T0) == (resume, True, False)
    same_second = cdc.CDCPage(
        {"PurchaseOrder": tuple({"Id": str(i), "MetaData": {"LastUpdatedTime": T0.isoformat()}}
                                for i in range(cdc.CDC_MAX_PER_ENTITY))},
        T0 + timedelta(hours=1),
    )  # fmt: skip
    assert cdc.after_page(same_second, T0) == (T0 + timedelta(seconds=1), True, True)


def test_parse_cdc_takes_qbo_answer_shape_and_ignores_the_rest():
    answer = {
        "CDCResponse": [
            {"QueryResponse": [
                {"PurchaseOrder": [{"Id": "1", "SyncToken": "2"}, "junk", {"no": "id"}],
                 "startPosition": 1, "maxResults": 1},
                {},
                {"Vendor": [{"Id": "5"}]},
            ]}
        ],
        "time": "2026-11-01T10:00:00.123-07:00",
    }  # fmt: skip
    page = cdc.parse_cdc(answer, ["PurchaseOrder"])
    assert page.objects == {"PurchaseOrder": ({"Id": "1", "SyncToken": "2"},)}
    assert page.time == datetime(2026, 11, 1, 17, 0, 0, 123000, tzinfo=UTC)
    assert cdc.parse_cdc({"Fault": {}}, ["PurchaseOrder"]).size == 0
    assert cdc.parse_cdc("not json", ["PurchaseOrder"]).time is None


def test_finding_as_a_small_record():
    seen = drift.assess(PO, row(), ours(), held(TotalAmt=Decimal("452")))
    finding = drift.settle(row(), seen, ours(), "report").finding
    assert finding.as_dict() == {
        "kind": "po",
        "doc_id": 1042,
        "number": "PO-1042",
        "qbo_id": "130",
        "change": "edited",
        "fields": [["TotalAmt", "451", "452"]],
        "policy": "report",
        "restoring": False,
        "note": "",
        "sync_token": "1",
    }
