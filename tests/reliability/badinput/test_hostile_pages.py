"""What Luminous's pages say, through the CLI (issue 13, cases 4 and 5): a PO whose `updated_at`
cannot be used gets a ledger row with the reason that `status` shows, and the pass exits 1;
paging trusts only data, never `meta.last_page`.

`reconciler run --once` (and `status`) run as subprocesses against both emulators; the kit's
environment reads 2 POs a page, so every list here takes several pages.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from reliability_kit import CAPTURED, REPO, World, check_invariants, connect, run_once, world

from reconciler.model import SyncStatus
from reconciler.state import StateStore


def _cli(w: World, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        env=w.env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=REPO,
    )
    CAPTURED.output(f"{' '.join(args)} stdout", proc.stdout)
    CAPTURED.output(f"{' '.join(args)} stderr", proc.stderr)
    return proc


def _entry(w: World, po_id: int):
    store = StateStore.open(w.state_path)
    try:
        return store.ledger.entry(po_id)
    finally:
        store.close()


# --- an updated_at that cannot place the PO in time ----------------------------------------

UNUSABLE = [
    ("malformed", "soonish", "bad timestamp"),
    ("year-10000-in-utc", "9999-12-31T23:59:59-05:00", "not a UTC instant"),
]


@pytest.mark.parametrize("full", [False, True], ids=["normal-pass", "full-sweep"])
def test_an_unusable_updated_at_gets_a_row_that_status_shows_and_the_pass_exits_1(tmp_path, full):
    with world(tmp_path) as w:
        connect(w)
        good = w.source.po("Well Stamped", "Stamp Item", "1", "2.00")
        bad = {}
        for name, value, _ in UNUSABLE:
            po = w.source.po(f"Stamped {name}", "Stamp Item", "1", "2.00")
            w.lum.set_raw(po["id"], updated_at=value)
            bad[name] = po
        proc = _cli(w, "run", "--once", *(["--full"] if full else []))
        assert proc.returncode == 1, proc.stdout[-3000:]
        assert _entry(w, good["id"]).status is SyncStatus.SYNCED  # type: ignore[union-attr]

        table = _cli(w, "status")
        assert table.returncode == 0, table.stderr
        listed = json.loads(_cli(w, "status", "--json").stdout)
        by_id = {row["doc_id"]: row for row in listed}
        for name, _, reason in UNUSABLE:
            po, number = bad[name], bad[name]["order_numbers"][0]
            entry = _entry(w, po["id"])
            assert entry is not None, f"{name}: no ledger row"
            assert entry.status is SyncStatus.FAILED and reason in entry.last_error_message
            row = next(line for line in table.stdout.splitlines() if line.startswith(number))
            assert "failed" in row and "bad timestamp in updated_at" in row, row  # cut to fit
            assert by_id[po["id"]]["status"] == "failed"
            assert reason in by_id[po["id"]]["reason"]
            detail = _cli(w, "status", number)
            assert detail.returncode == 0 and reason in detail.stdout, detail.stdout


# --- paging trusts only data -----------------------------------------------------------------


def test_a_lying_last_page_in_the_fallback_walk_leaves_no_po_behind_the_checkpoint(tmp_path):
    """The server ignores filters (so the client walks every page in id order) and says every
    list has one page: each PO is still read, synced, and covered by the checkpoint."""
    with world(tmp_path) as w:
        connect(w)
        first = [w.source.po(f"Walk Supplier {i}", "Walk Item", "1", "3.00") for i in range(3)]
        assert run_once(w.env, label="before the lie").returncode == 0
        w.lum.honour_filters = False
        w.lum.meta_last_page = 1
        later = [w.source.po(f"Walk Supplier {i}", "Walk Item", "2", "3.00") for i in range(7)]
        proc = run_once(w.env, label="lying last_page")
        assert proc.returncode == 0, proc.stdout[-3000:]
        verdict = check_invariants(w.qbo, w.lum, w.state_path)
        assert verdict.ok(), verdict.problems  # all in QBO once; the checkpoint covers them
        for po in first + later:
            entry = _entry(w, po["id"])
            assert entry is not None and entry.status is SyncStatus.SYNCED, po["id"]
        walked = [r for r in w.lum.request_log if r.path == "/purchase-orders"]
        assert any(("sort", "id:asc") in r.query and ("page", "5") in r.query for r in walked)


def test_a_po_with_five_lines_read_two_a_page_keeps_all_five_in_qbo(tmp_path):
    """Lines not embedded in the list: the client reads `/purchase-orders/items` two a page
    while `meta.last_page` says 1; the QBO PO has every line, and the total of all five."""
    with world(tmp_path) as w:
        connect(w)
        w.lum.embed_items = False
        w.lum.meta_last_page = 1
        products = [w.source.product(f"Line Item {n}", f"LINE-{n}") for n in range(5)]
        po = w.lum.create_po(
            {
                "supplier_id": w.source.supplier("Five Lines")["id"],
                "order_status": "active",
                "approval_status": "approved",
                "items": [
                    {"product_id": p["id"], "quantity": str(n + 1), "unit_price": "10.00"}
                    for n, p in enumerate(products)
                ],
            },
            updated_at=w.source.stamps.next(),
        )
        proc = run_once(w.env, label="items two a page")
        assert proc.returncode == 0, proc.stdout[-3000:]
        entry = _entry(w, po["id"])
        assert entry is not None and entry.status is SyncStatus.SYNCED
        qpo = w.qbo.get("PurchaseOrder", entry.qbo_id)
        lines = [line for line in qpo["Line"] if "ItemBasedExpenseLineDetail" in line]
        assert len(lines) == 5
        assert sorted(str(line["ItemBasedExpenseLineDetail"]["Qty"]) for line in lines) == [
            "1", "2", "3", "4", "5"
        ]  # fmt: skip
        assert str(qpo["TotalAmt"]) in ("150", "150.0", "150.00")
        pages = [r for r in w.lum.request_log if r.path == "/purchase-orders/items"]
        assert len(pages) >= 3  # 2 + 2 + 1 lines
