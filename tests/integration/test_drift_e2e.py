"""Drift end to end: someone else edits, deletes or bills a synced PO in QBO.

Both emulators over HTTP, a real state file, real intuit-oauth. "Someone else" is a second app
of the company with its own token, using QBO's normal API (Intuit's CDC page: CDC reports the
changes of any app or QuickBooks Online user). A drift check asks CDC once per
`sync.drift_check_interval` (qbo-api.md "Change data capture": 30 days back at most, 1000
objects per entity, deleted objects as status Deleted); our clock is moved past the interval.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import pytest
import requests
from support import EventLog
from sync_harness import harness

from reconciler.app.cli import main
from reconciler.app.service import status_page
from reconciler.config.loader import Settings
from reconciler.model import Drift, Lifecycle, SyncStatus
from reconciler.qbo.cdc import CDC_OVERLAP
from reconciler.qbo.wire import encode_json
from reconciler.sync.engine import PassReport, RequestCounter, run_pass
from reconciler.web.health import HealthState

APP, SECRET = "accountant-app", "accountant-secret"
PO_ENTITY = "PurchaseOrder"


@pytest.fixture
def h(tmp_path):
    with harness(tmp_path) as h:
        yield h


class Accountant:
    """Another app of the same company, through QBO's normal API over HTTP (waiting on the
    harness's clock, which the emulator's rate windows read)."""

    def __init__(self, h: Any) -> None:
        emu = h.qbo
        emu.register_app(APP, SECRET)
        self.emu = emu
        self.sleep = h.clock.sleep
        self.http = requests.Session()
        token = emu.issue_tokens(APP)["access_token"]
        self.http.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/json",
             "Content-Type": "application/json"}
        )  # fmt: skip

    def post(self, resource: str, body: dict, **params: str) -> dict:
        url = f"{self.emu.api_base}/{self.emu.realm_id}/{resource}"
        for _ in range(20):  # QBO's 10 a second per app apply to this app too: wait them out
            answer = self.http.post(
                url, data=encode_json(body), params={"minorversion": "75", **params}, timeout=10
            )
            if answer.status_code != 429:
                break
            self.sleep(0.5)
        assert answer.status_code == 200, answer.text
        return next(v for k, v in answer.json(parse_float=Decimal).items() if k != "time")

    def edit(self, po: dict, **changes: Any) -> dict:
        body = {"Id": po["Id"], "SyncToken": po["SyncToken"], "sparse": True, **changes}
        return self.post("purchaseorder", body)

    def delete(self, po: dict) -> None:
        self.post(
            "purchaseorder", {"Id": po["Id"], "SyncToken": po["SyncToken"]}, operation="delete"
        )

    def bill_every_line(self, po: dict) -> dict:
        """A Bill whose lines are linked to each PO line: QBO closes the PO."""
        lines = []
        for line in po["Line"]:
            kind = line["DetailType"]
            detail = {k: v for k, v in line[kind].items() if k in ("ItemRef", "AccountRef", "Qty",
                                                                   "UnitPrice")}  # fmt: skip
            link = {"TxnId": po["Id"], "TxnType": PO_ENTITY, "TxnLineId": line["Id"]}
            lines.append(
                {"Amount": line["Amount"], "DetailType": kind, kind: detail, "LinkedTxn": [link]}
            )
        return self.post("bill", {"VendorRef": po["VendorRef"], "Line": lines})


def run(h, settings: Settings | None = None, *, full_sweep: bool = False):
    """One pass with fresh wiring (a restart, as far as the state file is concerned)."""
    log, counter = EventLog(), RequestCounter()
    deps = h.deps(settings, log=log, counter=counter)
    try:
        report = run_pass(deps, full_sweep=full_sweep, counter=counter)
    finally:
        deps.store.close()
    assert report.outcome == "ok", report.as_dict()
    return report, [json.loads(line) for line in log.lines]


def check(h, settings: Settings | None = None, **kw: Any) -> tuple[PassReport, list[dict]]:
    """A pass once the drift interval has passed."""
    h.clock.advance(minutes=16)
    return run(h, settings, **kw)


def events(log: list[dict], name: str) -> list[dict]:
    return [e for e in log if e["event"] == name]


def our_requests(h, start: int) -> list[dict]:
    """The sync's own QBO API requests since log position `start` (not the accountant's)."""
    return [
        e
        for e in h.qbo.request_log[start:]
        if e.get("app") == h.qbo.client_id and "/v3/company/" in e["path"]
    ]


def synced_po(h, settings: Settings | None = None, **fields: Any) -> tuple[dict, dict]:
    """A two-line PO synced to QBO; the pass also starts the drift interval."""
    whey = h.product("Whey Protein 5lb", "NC-WHEY-5")
    scoop = h.product("Measuring Scoop", None)
    po = h.po(lines=[(whey, "10", "42.50"), (scoop, "2", "3.00")], **fields)
    report, _ = run(h, settings)
    assert report.counts["created"] >= 1
    return po, h.qbo_po(po["id"])


def other_vendor(h, qpo: dict) -> str:
    return next(
        v["Id"] for v in h.qbo.objects("Vendor") if v["Id"] != qpo["VendorRef"]["value"]
        and v.get("Active", True)
    )  # fmt: skip


@pytest.mark.parametrize("policy", ["report", "restore"])
def test_an_edit_in_qbo_is_reported_field_by_field_under_both_policies(h, policy):
    """Amount, a line and the vendor changed by someone else: one finding naming each field
    (ours -> QBO's, amounts as Decimal), one log event, one CDC request and no re-read.
    `report` keeps QBO's version; `restore` writes ours back on the next pass (a sparse
    update with QBO's current SyncToken: no 5010), after which nothing is drift."""
    settings = h.with_sync(drift=policy)
    po, qpo = synced_po(h, settings, order_numbers=["PO-7001"])
    whey = dict(qpo["Line"][0])
    whey["ItemBasedExpenseLineDetail"] = {**whey["ItemBasedExpenseLineDetail"], "Qty": 12}
    whey["Amount"] = Decimal("510.00")
    vendor = other_vendor(h, qpo)
    Accountant(h).edit(qpo, VendorRef={"value": vendor}, Line=[whey])  # the scoop line gone
    start = len(h.qbo.request_log)

    report, log = check(h, settings)

    assert [f.number for f in report.drift] == ["PO-7001"]
    finding = report.drift[0]
    diffs = {d.field: (d.ours, d.theirs) for d in finding.diffs}
    assert diffs["VendorRef"] == (qpo["VendorRef"]["value"], vendor)
    assert diffs["Line count"] == ("2", "1")
    assert diffs["Line 1 Qty"] == (Decimal("10"), Decimal("12"))
    assert diffs["Line 1 Amount"] == (Decimal("425"), Decimal("510"))
    assert diffs["TotalAmt"] == (Decimal("431"), Decimal("510"))
    assert finding.doc_id == po["id"] and finding.qbo_id == qpo["Id"]
    assert finding.restoring is (policy == "restore")
    drifted = events(log, "po_drift")
    assert len(drifted) == 1 and drifted[0]["po_number"] == "PO-7001"
    assert "VendorRef: " in " ".join(drifted[0]["fields"])
    sent = our_requests(h, start)
    assert [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in sent] == [("GET", "cdc")]
    entry = h.entry(po["id"])
    assert entry.drift is Drift.EDITED
    assert entry.sync_token == h.qbo.get(PO_ENTITY, qpo["Id"])["SyncToken"]  # fresh

    start = len(h.qbo.request_log)
    after, _ = run(h, settings, full_sweep=True)
    now = h.qbo.get(PO_ENTITY, qpo["Id"])
    writes = [e for e in our_requests(h, start) if e["method"] == "POST"]
    if policy == "report":
        assert writes == [] and after.counts["updated"] == 0
        assert now["VendorRef"]["value"] == vendor and len(now["Line"]) == 1
        assert h.entry(po["id"]).drift is Drift.EDITED
    else:
        assert after.counts["updated"] == 1
        assert [e["status"] for e in writes] == [200]  # no 5010 first
        assert now["VendorRef"]["value"] == qpo["VendorRef"]["value"] and len(now["Line"]) == 2
        assert Decimal(str(now["TotalAmt"])) == Decimal("431.00")
        assert h.entry(po["id"]).drift is None
        again, log = check(h, settings)
        assert again.drift == [] and events(log, "po_drift") == []


def test_an_update_after_a_qbo_edit_sends_qbos_sync_token_first_time(h):
    """The drift check refreshed the cached SyncToken: a later Luminous edit updates the PO
    with one request, not a 5010 and a re-read."""
    po, qpo = synced_po(h)
    Accountant(h).edit(qpo, Memo="checked by accounts")
    report, _ = check(h)
    assert [d.field for d in report.drift[0].diffs] == ["Memo"]
    h.edit(po["id"], public_note="Deliver to dock 3")
    start = len(h.qbo.request_log)
    after, _ = run(h)
    assert after.counts["updated"] == 1
    sent = our_requests(h, start)
    assert [(e["method"], e["status"]) for e in sent] == [("POST", 200)]
    assert h.qbo_po(po["id"])["Memo"] == "Deliver to dock 3"


@pytest.mark.parametrize("policy", ["report", "restore"])
def test_an_edit_our_update_meets_as_a_5010_is_reported_not_masked(h, policy):
    """Someone edits the PO in QBO and, before a drift check sees it, a Luminous edit updates
    the PO: QBO answers 5010, the sync reads QBO's version and compares it with the snapshot
    of its last write before its update goes over it. Before: the update went out on the new
    SyncToken and the edit was never reported (the next check took that version for ours)."""
    settings = h.with_sync(drift=policy)
    po, qpo = synced_po(h, settings, order_numbers=["PO-7010"])
    Accountant(h).edit(qpo, Memo="checked by accounts")
    h.edit(po["id"], public_note="Deliver to dock 3")
    start = len(h.qbo.request_log)

    report, log = run(h, settings)

    posts = [e["status"] for e in our_requests(h, start) if e["method"] == "POST"]
    assert posts[0] != 200 and posts[-1] == 200 and len(posts) == 2  # the 5010, then ours
    assert [f.number for f in report.drift] == ["PO-7010"]
    assert {d.field: d.theirs for d in report.drift[0].diffs} == {"Memo": "checked by accounts"}
    assert len(events(log, "po_drift")) == 1
    assert report.counts["updated"] == 1
    assert h.qbo_po(po["id"])["Memo"] == "Deliver to dock 3"  # Luminous's edit went through
    store = h.store()
    try:
        history = [row.message or "" for row in store.ledger.history(po["id"])]
    finally:
        store.close()
    assert any("Memo" in line for line in history), history  # kept, not only logged
    again, log = check(h, settings)
    assert again.drift == [] and events(log, "po_drift") == []


@pytest.mark.parametrize("policy", ["report", "restore"])
def test_a_po_deleted_in_qbo(h, policy):
    """Reported as deleted. `report`: not recreated, even when Luminous changes the PO, until a
    user asks (`reconciler retry`); `restore`: recreated on the next pass (looked up first)."""
    settings = h.with_sync(drift=policy)
    po, qpo = synced_po(h, settings, order_numbers=["PO-7002"])
    Accountant(h).delete(qpo)

    report, log = check(h, settings)

    assert [(f.number, f.change) for f in report.drift] == [("PO-7002", Drift.DELETED)]
    assert len(events(log, "po_drift")) == 1
    entry = h.entry(po["id"])
    assert entry.lifecycle is Lifecycle.DELETED and entry.drift is Drift.DELETED
    h.edit(po["id"], public_note="more to come")
    after, _ = run(h, settings)
    if policy == "report":
        assert h.qbo_pos_by_doc_number("PO-7002") == []
        assert after.counts["created"] == 0 and after.counts["skipped"] == 1
        assert "reconciler retry" in h.entry(po["id"]).last_error_message
        store = h.store()
        store.ledger.request_retry(po["id"])
        store.close()
        after, _ = run(h, settings)
    assert after.counts["created"] == 1
    [recreated] = h.qbo_pos_by_doc_number("PO-7002")
    entry = h.entry(po["id"])
    assert entry.qbo_id == recreated["Id"] != qpo["Id"] and entry.drift is None
    again, log = check(h, settings)
    assert again.drift == [] and events(log, "po_drift") == []


@pytest.mark.parametrize("policy", ["report", "restore"])
def test_a_bill_closing_the_po_is_recorded_as_billed_not_as_an_error(h, policy):
    """Another app bills every line (Bill lines with LinkedTxn to the PO lines): QBO closes the
    PO. The check records it as billed: no drift on the report, no failure, nothing restored."""
    settings = h.with_sync(drift=policy)
    po, qpo = synced_po(h, settings)
    bill = Accountant(h).bill_every_line(qpo)
    assert h.qbo.get(PO_ENTITY, qpo["Id"])["POStatus"] == "Closed"

    report, log = check(h, settings)

    assert report.drift == [] and report.counts["billed_in_qbo"] == 1
    assert report.exit_code() == 0 and report.drift_outstanding == {"billed": 1}
    [billed] = events(log, "po_billed_in_qbo")
    assert billed["note"] == f"closed by bill {bill['Id']} in QBO"
    entry = h.entry(po["id"])
    assert entry.drift is Drift.BILLED and entry.status is SyncStatus.SYNCED
    start = len(h.qbo.request_log)
    run(h, settings, full_sweep=True)
    assert [e for e in our_requests(h, start) if e["method"] == "POST"] == []
    assert h.qbo.get(PO_ENTITY, qpo["Id"])["POStatus"] == "Closed"


def test_our_own_updates_are_never_drift(h):
    """Creates, batched and single updates, a close: CDC returns every one of them; none is
    reported, and the cached SyncTokens are QBO's."""
    pos = [h.po(order_numbers=[f"PO-80{n}"]) for n in range(4)]
    run(h)
    for po in pos[:3]:
        h.edit(po["id"], public_note="updated in Luminous")
    h.edit(pos[3]["id"], order_status="completed")
    updated, _ = run(h)
    assert updated.counts["updated"] == 3 and updated.counts["closed"] == 1

    report, log = check(h)

    assert report.drift == [] and events(log, "po_drift") == []
    [checked] = events(log, "drift_checked")
    assert checked["changed"] >= 4 and checked["ours"] == 0
    for po in pos:
        assert h.entry(po["id"]).sync_token == h.qbo_po(po["id"])["SyncToken"]


def test_a_restart_between_two_checks_loses_nothing(h, monkeypatch):
    """The CDC checkpoint is in the state file: a new process asks from a little before the
    last answer's time. A check that dies before recording leaves the checkpoint where it was,
    and the edit is reported once, by the next one."""
    _, qpo = synced_po(h)
    first, _ = check(h)
    assert first.counts["drift_cdc_requests"] == 1
    store = h.store()
    asked_from = store.drift.cdc_from()
    store.close()
    Accountant(h).edit(qpo, Memo="after the first check")

    def power_cut(*_a, **_kw):
        raise KeyboardInterrupt  # the process dies between the answer and the record

    monkeypatch.setattr("reconciler.state.drift.DriftRecords.apply", power_cut)
    h.clock.advance(minutes=16)
    with pytest.raises(KeyboardInterrupt):
        run(h)
    monkeypatch.undo()
    store = h.store()
    assert store.drift.cdc_from() == asked_from
    store.close()

    start = len(h.qbo.request_log)
    report, _ = run(h)  # a new process: fresh wiring, the same state file

    [cdc] = our_requests(h, start)
    assert cdc["query"]["changedSince"] == asked_from.isoformat(timespec="seconds")
    assert [d.field for d in report.drift[0].diffs] == ["Memo"]
    again, log = check(h)
    assert again.drift == [] and events(log, "po_drift") == []
    store = h.store()
    assert store.drift.cdc_from() > asked_from
    store.close()


def test_each_check_asks_from_a_little_before_the_last_answers_time(h):
    synced_po(h)
    check(h)
    store = h.store()
    first_from = store.drift.cdc_from()
    store.close()
    start = len(h.qbo.request_log)
    check(h)
    [cdc] = our_requests(h, start)
    assert cdc["query"]["changedSince"] == first_from.isoformat(timespec="seconds")
    answer_time = first_from + CDC_OVERLAP
    assert abs((h.qbo.now() - answer_time).total_seconds()) < 60  # QBO's clock, not ours


def test_requests_per_check(h):
    """Nothing changed: one CDC request. Twenty POs changed by someone else: still one (CDC
    answers with whole objects: nothing is read again)."""
    pos = [h.po(order_numbers=[f"PO-90{n:02}"]) for n in range(20)]
    run(h)
    check(h)  # the first check covers our creates
    start = len(h.qbo.request_log)
    idle, _ = check(h)
    assert len(our_requests(h, start)) == 1 and idle.qbo_requests == 1 and idle.drift == []
    accountant = Accountant(h)
    for po in pos:
        accountant.edit(h.qbo_po(po["id"]), Memo="re-keyed")
    start = len(h.qbo.request_log)
    busy, _ = check(h)
    assert len(our_requests(h, start)) == 1 and busy.qbo_requests == 1
    assert len(busy.drift) == 20


def test_over_1000_changes_are_paged_from_the_newest_change_held(h):
    """QBO answers at most 1000 objects per entity: the check asks again from the newest change
    of a full answer, in the same pass, and still finds the edit behind them."""
    po, qpo = synced_po(h)
    check(h)
    vendor = qpo["VendorRef"]["value"]
    account = next(a["Id"] for a in h.qbo.objects("Account") if a.get("AccountType") == "Expense")
    for n in range(1005):
        # 2 ms of QBO's clock apart, so no second holds over 1000 of them however slow the
        # machine (CDC cannot page within one second: the check says so, drift_cdc_second_skipped)
        h.qbo.advance_clock(0.002)
        h.qbo.seed(
            PO_ENTITY,
            {"VendorRef": {"value": vendor}, "DocNumber": f"X-{n}",
             "Line": [{"Amount": 1, "DetailType": "AccountBasedExpenseLineDetail",
                       "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account}}}]},
        )  # fmt: skip
    Accountant(h).edit(qpo, Memo="behind a thousand others")
    report, _ = check(h)
    # 2, or 3 when more than 1000 of the changes share the second the client asks from
    # (changedSince is sent to the second, as Intuit's examples show it)
    assert report.counts["drift_cdc_requests"] in (2, 3)
    assert [f.doc_id for f in report.drift] == [po["id"]]


def test_a_gap_over_30_days_asks_from_as_far_back_as_qbo_allows(h):
    """Stopped for 31 days: the check asks from within CDC's 30 days (QBO would refuse more)
    and says what it cannot know."""
    _, qpo = synced_po(h)
    check(h)
    Accountant(h).edit(qpo, Memo="edited while the sync was stopped")
    h.qbo.advance_clock(31 * 86400)
    h.clock.advance(days=31)
    report, log = run(h)
    assert [g["event"] for g in events(log, "drift_gap")] == ["drift_gap"]
    assert report.counts["drift_cdc_requests"] == 1 and events(log, "drift_check_failed") == []


def test_drift_checks_off_send_nothing(h):
    settings = h.with_sync(drift_check_interval=0)
    _, qpo = synced_po(h, settings)
    Accountant(h).edit(qpo, Memo="x")
    start = len(h.qbo.request_log)
    report, _ = check(h, settings)
    assert our_requests(h, start) == [] and report.drift == []


def test_a_ledger_synced_before_drift_checks_existed(h):
    """An upgraded install has ledger rows but no snapshots: checks start with the first pass;
    an edit by someone else since (a SyncToken newer than the ledger's) is reported without
    field names, an untouched PO is not."""
    edited = h.po(order_numbers=["PO-6001"])
    untouched = h.po(order_numbers=["PO-6002"])
    run(h)
    store = h.store()
    store.db.execute("delete from qbo_snapshot")  # as m005_drift leaves an older state file
    store.db.execute("delete from meta where key like 'drift_%'")
    store.close()
    run(h)  # the interval starts
    Accountant(h).edit(h.qbo_po(edited["id"]), Memo="changed after the upgrade")
    report, _ = check(h)
    assert [(f.doc_id, f.diffs) for f in report.drift] == [(edited["id"], ())]
    assert "not known" in report.drift[0].note
    assert h.entry(untouched["id"]).drift is None


def test_drift_shows_in_status_the_status_page_and_metrics(h, monkeypatch, capsys):
    """`reconciler status`, `status PO` (text and JSON), the status page and /metrics."""
    po, qpo = synced_po(h, order_numbers=["PO-5001"])
    other = h.po(order_numbers=["PO-5002"])
    run(h)
    Accountant(h).edit(qpo, Memo="changed by accounts")
    Accountant(h).bill_every_line(h.qbo_po(other["id"]))
    report, _ = check(h)
    assert report.drift_outstanding == {"edited": 1, "billed": 1}

    for key in [k for k in os.environ if k.startswith("RECONCILER_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("RECONCILER_STATE__PATH", h.settings.state.path)
    assert main(["status"]) == 0
    table = capsys.readouterr().out
    assert "synced, changed in QBO" in table and "synced, billed in QBO" in table
    assert "drift: 1 changed in QBO, 1 billed in QBO (next drift check from " in table
    assert main(["status", "PO-5001"]) == 0
    detail = capsys.readouterr().out
    assert "in QBO:        changed in QBO (found " in detail
    assert "    Memo: (empty) -> changed by accounts" in detail
    assert "drift   synced   qbo=" in detail  # the history line
    assert main(["status", "PO-5001", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["drift"] == "edited"
    assert data["drift_detail"]["fields"] == [["Memo", "", "changed by accounts"]]

    store = h.store()
    try:
        page = status_page(h.settings, store, EventLog())
        overview = page.overview("").html
        assert "1 changed in QBO</a>" in overview and "1 billed in QBO</a>" in overview
        assert page.overview("drift=edited").html.count('<span class="badge drift">') == 1
        document = page.document("po", str(po["id"])).html
        assert '<h2 id="drift-h">Changed in QuickBooks</h2>' in document
        assert '<th scope="row">Memo</th>' in document and "changed by accounts" in document
    finally:
        store.close()

    health = HealthState(h.settings.poll_interval)
    health.record_pass(report)
    metrics = health.metrics_text().decode()
    assert 'reconciler_drift_found_total{change="edited"} 1.0' in metrics
    assert 'reconciler_drift_found_total{change="billed"} 1.0' in metrics
    assert 'reconciler_drift_documents{change="edited"} 1.0' in metrics
    assert "reconciler_drift_cdc_requests_total 1.0" in metrics
