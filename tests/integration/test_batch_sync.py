"""Backlogs go to QBO in /batch requests: costs, per-item faults, lost answers, checkpoint."""

from __future__ import annotations

import math
from typing import Any

import pytest
import structlog
from sync_harness import harness

from reconciler.model import SyncStatus
from reconciler.sandbox.qbo.server import FaultRule
from reconciler.sync.engine import RequestCounter, run_pass

SUPPLIERS = ("Nutricost", "O'Brien & Sons", "Acme Supply")


@pytest.fixture
def h(tmp_path):
    with harness(tmp_path) as h:
        yield h


def _backlog(h, n: int, **fields: Any) -> list[dict[str, Any]]:
    products = [h.product(f"Batch Product {i}", f"BP-{i}" if i % 2 else None) for i in range(4)]
    return [
        h.po(
            supplier=SUPPLIERS[i % len(SUPPLIERS)],
            lines=[(products[i % 4], "2", "3.50"), (products[(i + 1) % 4], "1", "10.00")],
            **fields,
        )
        for i in range(n)
    ]


def _count(h, path: str, method: str = "POST") -> int:
    return h.qbo.count(method=method, path_contains=path)


def test_a_backlog_of_70_new_pos_costs_three_batches_and_the_reference_work(h):
    """70 new POs: ceil(70/30) batch requests, no single PO create; the 7 missing references
    created together in one more batch; a second pass with no change costs nothing."""
    pos = _backlog(h, 70)
    report = h.run()
    assert report.counts["created"] == 70
    assert _count(h, "/batch") == math.ceil(70 / 30) + 1
    assert _count(h, "/purchaseorder") == 0
    assert _count(h, "/vendor") == 0 and _count(h, "/item") == 0  # none alone
    assert len(h.qbo.objects("Vendor")) >= len(SUPPLIERS)
    queries = h.qbo.count(path_contains="/query")
    # one IN query for vendors, one by SKU, one by name, plus the configured accounts, the
    # first connection's index of POs, and the company's Preferences (read with its
    # CompanyInfo once, then kept for a day)
    assert queries <= 3 + 6 + 1
    assert h.qbo.count(path_contains="/companyinfo/") == 1
    assert h.qbo.count() == math.ceil(70 / 30) + 1 + 1 + queries
    assert all(h.entry(po["id"]).status is SyncStatus.SYNCED for po in pos)
    numbers = sorted(p["DocNumber"] for p in h.qbo.objects("PurchaseOrder"))
    assert numbers == sorted(po["order_numbers"][0] for po in pos)
    before = h.qbo.count()
    again = h.run()
    assert h.qbo.count() == before
    assert again.qbo_requests == 0


def test_updates_of_a_backlog_go_in_batches_too(h):
    """Edits to 40 synced POs are two batches of sparse updates, SyncTokens recorded."""
    pos = _backlog(h, 40)
    h.run()
    # Each pass here has a new client (and limiter): let the first pass's burst leave QBO's
    # 10-per-second window, as the minute between two daemon passes does.
    h.clock.sleep(1.1)
    h.qbo.reset_log()
    for po in pos:
        h.edit(po["id"], private_note="changed")
    report = h.run()
    assert report.counts["updated"] == 40
    assert _count(h, "/batch") == 2
    assert h.qbo.count() == 2
    for po in pos:
        qpo = h.qbo_po(po["id"])
        assert qpo["PrivateNote"] == "changed"
        assert h.entry(po["id"]).sync_token == qpo["SyncToken"]


def test_a_single_buffered_write_is_sent_alone(h):
    """One new PO spends no batch quota: one create request."""
    h.po()
    h.run()
    h.qbo.reset_log()
    h.po()
    h.run()
    assert _count(h, "/batch") == 0
    assert _count(h, "/purchaseorder") == 1


def test_one_failing_item_fails_alone_and_the_rest_sync(h):
    """A DocNumber already used in QBO (6140) fails that PO only; the batch's others sync."""
    vendor = h.qbo.objects("Vendor")[0]
    account = next(a for a in h.qbo.objects("Account") if a.get("AccountType") == "Expense")
    h.qbo.seed(
        "PurchaseOrder",
        {
            "DocNumber": "PO-TAKEN",
            "VendorRef": {"value": vendor["Id"]},
            "Line": [
                {
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "Amount": 1,
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account["Id"]}},
                }
            ],
        },
    )
    good = _backlog(h, 4)
    clash = h.po(order_numbers=["PO-TAKEN"])
    more = _backlog(h, 3)
    report = h.run()
    assert _count(h, "/batch") == 2  # the missing references together, then the POs
    entry = h.entry(clash["id"])
    assert entry.status is SyncStatus.FAILED
    assert entry.last_error_code == "6140"
    assert all(h.entry(po["id"]).status is SyncStatus.SYNCED for po in good + more)
    assert report.counts["created"] == 7
    assert len(h.qbo_pos_by_doc_number("PO-TAKEN")) == 1


def test_item_whose_vendor_vanished_is_resent_alone_with_fresh_references(h):
    """A vendor made inactive in QBO behind our back: 610 in that item, the PO is resent
    singly after the references are resolved again; the others sync in the batch."""
    pos = _backlog(h, 6)
    h.run()
    nutricost = next(v for v in h.qbo.objects("Vendor") if v["DisplayName"] == "Nutricost")
    h.qbo.company.update(
        "Vendor",
        {
            "Id": nutricost["Id"],
            "SyncToken": nutricost["SyncToken"],
            "sparse": True,
            "Active": False,
        },
    )
    for po in pos:
        h.edit(po["id"], private_note="again")
    report = h.run()
    assert report.counts["updated"] == 6
    assert all(h.qbo_po(po["id"])["PrivateNote"] == "again" for po in pos)
    assert h.qbo.get("Vendor", nutricost["Id"])["Active"] is True


def test_stale_sync_token_in_a_batch_falls_back_to_the_single_update(h):
    """A PO edited in QBO meanwhile: 5010 for that item, re-read, update lands; others batch."""
    pos = _backlog(h, 5)
    h.run()
    target = h.qbo_po(pos[2]["id"])
    h.qbo.company.update(
        "PurchaseOrder",
        {"Id": target["Id"], "SyncToken": target["SyncToken"], "sparse": True, "Memo": "qbo"},
    )
    for po in pos:
        h.edit(po["id"], private_note="from luminous")
    report = h.run()
    assert report.counts["updated"] == 5
    after = h.qbo_po(pos[2]["id"])
    assert after["PrivateNote"] == "from luminous"
    assert h.entry(pos[2]["id"]).sync_token == after["SyncToken"]


@pytest.mark.parametrize("replay", [True, False])
def test_lost_batch_answer_leaves_every_po_exactly_once(h, replay):
    """The batch commits but its answer is lost; the next pass leaves each PO once in QBO."""
    h.qbo.requestid_replay = replay
    # With replay, the client's resend gets the first answer; without it, every attempt's
    # answer is lost too and the POs wait for a retry that looks them up by DocNumber.
    h.qbo.add_fault(
        FaultRule(
            method="POST",
            path_regex=r"/batch",
            action="drop_after_commit",
            times=1 if replay else 4,
        )
    )
    pos = _backlog(h, 12)
    h.run()
    h.qbo.clear_faults()
    h.clock.advance(hours=3)
    h.run()
    for po in pos:
        assert len(h.qbo_pos_by_doc_number(po["order_numbers"][0])) == 1
        assert h.entry(po["id"]).status is SyncStatus.SYNCED
    assert len(h.qbo.objects("PurchaseOrder")) == 12


class _CrashingBatches:
    """The QBO client, except that a group send blows up (a crash while it is in flight)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send_group(self, ops: Any, **kwargs: Any) -> Any:
        if all(op.entity != "PurchaseOrder" for op in ops):  # the references go through
            return self._inner.send_group(ops, **kwargs)
        raise RuntimeError("crashed while the batch was in flight")


def test_checkpoint_never_passes_a_buffered_po(h):
    """Skips recorded after buffered writes do not carry the checkpoint past them; a crash
    during the batch leaves the checkpoint short of the first buffered PO, and the next pass
    finishes the job with each PO once."""
    first = h.po()  # buffered: the first item of the batch
    drafts = [h.po(order_status="draft") for _ in range(3)]  # skipped, recorded at once
    rest = _backlog(h, 5)
    counter = RequestCounter()
    deps = h.deps(log=structlog.get_logger("test"), counter=counter)
    deps.qbo = _CrashingBatches(deps.qbo)
    try:
        crashed = run_pass(deps, counter=counter)
        assert crashed.outcome == "crashed" and "RuntimeError" in crashed.crashed
        assert crashed.exit_code() == 1
        checkpoint = deps.store.ledger.checkpoint()
        assert checkpoint is None or checkpoint.key() < (
            h.entry(first["id"]).source_updated_at,
            first["id"],
        )
        assert all(h.entry(d["id"]).status is SyncStatus.SKIPPED for d in drafts)
        assert h.entry(first["id"]).status is SyncStatus.PENDING
    finally:
        deps.store.close()
    h.clock.advance(hours=3)
    h.run()
    h.run()
    for po in [first, *rest]:
        assert len(h.qbo_pos_by_doc_number(po["order_numbers"][0])) == 1
        assert h.entry(po["id"]).status is SyncStatus.SYNCED
    store = h.store()
    try:
        last = max(rest, key=lambda p: p["id"])
        assert store.ledger.checkpoint().key() >= (
            h.entry(last["id"]).source_updated_at,
            last["id"],
        )
    finally:
        store.close()


def test_retry_after_a_throttled_batch_backs_off_then_syncs(h):
    """429 on every batch attempt: all items back off, then sync once later."""
    h.qbo.add_fault(FaultRule(method="POST", path_regex=r"/batch", status=429, times=None))
    pos = _backlog(h, 5)
    report = h.run()
    assert report.counts["retrying"] == 5
    h.qbo.clear_faults()
    h.clock.advance(hours=2)
    h.run()
    for po in pos:
        assert h.entry(po["id"]).status is SyncStatus.SYNCED
    assert len(h.qbo.objects("PurchaseOrder")) == 5


def test_a_reference_the_group_create_cannot_make_is_settled_by_the_naming_policy(h):
    """A supplier name a QBO customer holds: its create in the references' group is refused
    (6240), and the one-by-one path applies `vendor_name_collision` ("suffix"); the others of
    the group are created, each once, and every PO syncs."""
    h.qbo.seed("Customer", {"DisplayName": "Acme Supply"})
    pos = _backlog(h, 9)
    report = h.run()
    assert report.counts["created"] == 9
    names = sorted(v["DisplayName"] for v in h.qbo.objects("Vendor"))
    assert "Acme Supply (Supplier)" in names
    assert names.count("Nutricost") == 1 and names.count("O'Brien & Sons") == 1
    assert _count(h, "/vendor") >= 1  # the suffixed one went alone
    assert all(h.entry(po["id"]).status is SyncStatus.SYNCED for po in pos)


def test_a_cold_backlog_lists_a_small_item_table_once_instead_of_many_in_lookups(h):
    """120 new products are four `IN (...)` look-ups by SKU and name (long ones, sent as
    POST); a company with a few items answers them all with a count and one page. What the
    listing finds is used: an item QBO already holds under the SKU is not created again, an
    inactive one is reactivated by policy, and every other product is created once."""
    expense = {"value": h.qbo.objects("Account")[0]["Id"]}
    old = {"Type": "NonInventory", "ExpenseAccountRef": expense}
    h.qbo.seed("Item", {**old, "Name": "Old Name For CP-0", "Sku": "CP-0"})
    h.qbo.seed("Item", {**old, "Name": "Cold Product 1", "Active": False})
    products = [
        h.product(f"Cold Product {i}", f"CP-{i}" if i % 2 == 0 else None) for i in range(120)
    ]
    pairs = [(products[2 * i], products[2 * i + 1]) for i in range(60)]
    pos = [
        h.po(supplier=SUPPLIERS[i % 3], lines=[(a, "1", "2.00"), (b, "3", "1.25")])
        for i, (a, b) in enumerate(pairs)
    ]
    h.qbo.reset_log()
    report = h.run()
    assert report.counts["created"] == 60
    assert all(h.entry(po["id"]).status is SyncStatus.SYNCED for po in pos)
    item_reads = [
        e["query"]["query"]
        for e in h.qbo.request_log
        if e["path"].endswith("/query") and "FROM Item" in e["query"].get("query", "")
    ]
    # the count, the page of names and SKUs (QBO adds the Id), then the inactive one's own
    # read for its reactivation (its full body and SyncToken)
    assert len(item_reads) == 3, item_reads
    assert "COUNT(*)" in item_reads[0] and "SELECT Name, Sku, Active FROM" in item_reads[1]
    assert "Name = 'Cold Product 1'" in item_reads[2]
    assert _count(h, "/query", "POST") == 0  # no long IN list of names went
    items = h.qbo.objects("Item")
    names = [i["Name"] for i in items]
    assert names.count("Old Name For CP-0") == 1 and "Cold Product 0" not in names
    reactivated = [i for i in items if i["Name"] == "Cold Product 1"]
    assert len(reactivated) == 1 and reactivated[0]["Active"] is True
    assert all(names.count(f"Cold Product {i}") == 1 for i in range(1, 120))


def test_a_first_read_asks_qbo_for_the_po_index_and_the_accounts_while_luminous_answers(h):
    """A backlog's first read (a new install, a lost state file): QBO's PO index and the
    configured accounts need no Luminous data, so they are read while Luminous is still
    answering (here 1 s a request: the window's probe, then the page), not after the page
    is decided; and each only once."""
    _backlog(h, 40)
    h.lum.latency = 1.0
    h.qbo.reset_log()
    started = h.clock.monotonic()  # the clock the emulator stamps `admitted_at` with
    report = h.run()
    assert report.counts["created"] == 40
    queries = [
        (e["admitted_at"] - started, e["query"].get("query", ""))
        for e in h.qbo.request_log
        if e["path"].endswith("/query")
    ]
    index = [at for at, q in queries if "FROM PurchaseOrder" in q]
    accounts = [at for at, q in queries if "FROM Account" in q]
    assert len(accounts) == 1 and len(index) == 3, queries  # (count, page, count again)
    # the probe is answered at 1 s and the page at 2 s; before, the index waited for both
    assert max(index + accounts) < 1.8, queries
