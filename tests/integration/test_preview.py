"""`run --once --dry-run`: a preview, then a real pass that does exactly what it listed.

Both emulators over HTTP, a real SQLite file, real intuit-oauth. The company holds data already
(a PO another client made, a customer and an employee whose names block vendors, an inactive
vendor), so every action the preview can name shows up: create, adopt, update, close, delete,
skip, conflict, fail, with vendors and items to create or reactivate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import pytest
from support import EventLog, wire_to
from sync_harness import harness

from reconciler.app import dry_run as preview
from reconciler.app import wiring
from reconciler.preview.plan import category
from reconciler.qbo import compare
from reconciler.state.run_lines import RunLines

API = "/v3/company/"


def _delete_on_cancel(settings):
    return dataclasses.replace(
        settings, sync=dataclasses.replace(settings.sync, on_cancel="delete")
    )


@pytest.fixture
def h(tmp_path, monkeypatch):
    with harness(tmp_path, settings_hook=_delete_on_cancel) as h:
        wire_to(h.clock, monkeypatch)  # the preview builds its own pass: on the harness's clock
        yield h


def _state_rows(path: str) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            t: conn.execute(f"select * from {t} order by 1, 2").fetchall()
            for t in ("ledger", "history", "checkpoint", "vendor_map", "item_map", "meta", "runs")
        }
    finally:
        conn.close()


def _qbo_state(h) -> dict[str, dict[str, dict]]:
    return {
        e: {o["Id"]: o for o in h.qbo.objects(e)}
        for e in ("PurchaseOrder", "Vendor", "Item", "Customer", "Employee")
    }


def _seed_qbo_po(h, number: str, vendor_id: str, item_id: str, qty: str, memo: str) -> dict:
    return h.qbo.seed(
        "PurchaseOrder",
        {
            "DocNumber": number,
            "VendorRef": {"value": vendor_id},
            "Memo": memo,
            "Line": [
                {
                    "DetailType": "ItemBasedExpenseLineDetail",
                    "Amount": Decimal(qty) * Decimal("42.50"),
                    "ItemBasedExpenseLineDetail": {
                        "ItemRef": {"value": item_id},
                        "Qty": Decimal(qty),
                        "UnitPrice": Decimal("42.50"),
                    },
                }
            ],
        },
    )


def _scenario(h) -> dict[str, dict]:
    """One real pass first, then Luminous and QBO changes for every action."""
    pos = {
        "update": h.po(order_numbers=["PO-100"]),
        "close": h.po(order_numbers=["PO-101"]),
        "delete": h.po(order_numbers=["PO-102"]),
        "vanish": h.po(order_numbers=["PO-103"]),
    }
    assert h.run().counts["created"] == 4
    vendor_id = h.qbo_po(pos["update"]["id"])["VendorRef"]["value"]
    item_id = h.qbo_po(pos["update"]["id"])["Line"][0]["ItemBasedExpenseLineDetail"]["ItemRef"]
    other = next(v for v in h.qbo.objects("Vendor") if v["DisplayName"] == "Acme Supply Co")
    _seed_qbo_po(h, "PO-200", vendor_id, item_id["value"], "3", "entered by hand")
    _seed_qbo_po(h, "PO-201", other["Id"], item_id["value"], "1", "another vendor's")
    h.edit(
        pos["update"]["id"],
        items=[
            {
                "product_id": h.product("Whey Protein 5lb", "NC-WHEY-5")["id"],
                "quantity": "12",
                "unit_price": "42.50",
            }
        ],
    )
    h.edit(pos["close"]["id"], order_status="completed")
    h.edit(pos["delete"]["id"], order_status="cancelled")
    h.lum.delete_po(pos["vanish"]["id"])
    fresh = h.product("Creatine 1kg", "NC-CREA-1")
    pos["create"] = h.po(
        supplier="Fresh Farms", lines=[(fresh, "4", "19.99")], order_numbers=["PO-300"]
    )
    pos["suffix"] = h.po(supplier="Emily Platt", order_numbers=["PO-301"])
    pos["reactivate"] = h.po(supplier="Retired Vendor", order_numbers=["PO-302"])
    pos["adopt"] = h.po(order_numbers=["PO-200"])  # QBO has it, same vendor, other content
    pos["conflict"] = h.po(order_numbers=["PO-201"])  # QBO has it under another vendor
    pos["draft"] = h.po(order_numbers=["PO-400"], order_status="draft")
    pos["approval"] = h.po(order_numbers=["PO-401"], approval_status="pending_approval")
    pos["no_lines"] = h.po(order_numbers=["PO-402"], items=[])
    return pos


def _preview_json(h, **kw) -> dict:
    out = io.StringIO()
    code = preview.command(h.settings, log=EventLog(), out=out, as_json=True, **kw)
    data = json.loads(out.getvalue())
    data["exit_code"] = code
    return data


def test_a_real_pass_does_exactly_what_the_preview_listed(h):
    pos = _scenario(h)
    state = Path(h.settings.state.path)
    digest, rows = hashlib.sha256(state.read_bytes()).hexdigest(), _state_rows(str(state))
    qbo_before, logged = _qbo_state(h), len(h.qbo.request_log)

    shown = _preview_json(h, full_sweep=True)

    # Nothing written: no QBO write, the state file the same to the byte.
    during = h.qbo.request_log[logged:]
    assert during, "the preview reads QBO"
    api = [e for e in during if API in e["path"]]
    assert all(e["method"] == "GET" or e["path"].endswith("/query") for e in api), api
    assert _qbo_state(h) == qbo_before
    assert hashlib.sha256(state.read_bytes()).hexdigest() == digest
    assert _state_rows(str(state)) == rows

    by_id = {d["doc_id"]: d for d in shown["documents"]}
    expected = {
        "update": "update",
        "close": "close",
        "delete": "delete",
        "vanish": "close",
        "create": "create",
        "suffix": "create",
        "reactivate": "create",
        "adopt": "adopt",
        "conflict": "conflict",
        "draft": "skip",
        "approval": "skip",
        "no_lines": "fail",
    }
    assert {name: by_id[po["id"]]["action"] for name, po in pos.items()} == expected
    assert shown["exit_code"] == 1  # a conflict and a failure would stay
    refs = {(r["entity"], r["operation"], r["name"]) for r in shown["references"]}
    assert refs == {
        ("Vendor", "create", "Fresh Farms"),
        ("Vendor", "create", "Emily Platt (Supplier)"),  # an employee holds "Emily Platt"
        ("Vendor", "reactivate", "Retired Vendor"),
        ("Item", "create", "Creatine 1kg"),
    }
    update = by_id[pos["update"]["id"]]
    assert {(c["field"], c["old"], c["new"]) for c in update["changes"]} >= {
        ("Line 1 Qty", "10", "12"),
        ("Line 1 Amount", "425", "510"),
    }

    report = h.run(full_sweep=True)

    store = wiring.open_store(h.settings, clock=h.clock)
    try:
        real = {line.doc_id: line for line in RunLines(store.db).of_run(report.run_id)}
    finally:
        store.close()
    assert set(real) == set(by_id)
    qbo_after = _qbo_state(h)
    for doc_id, planned in by_id.items():
        line = real[doc_id]
        assert category(line) == planned["action"], (planned, line)
        if planned["action"] in ("adopt", "update", "close", "delete"):
            assert line.qbo_id == planned["qbo_id"]
        if planned["action"] in ("adopt", "update", "close"):
            before, after = (
                qbo_before["PurchaseOrder"][line.qbo_id],
                qbo_after["PurchaseOrder"][line.qbo_id],
            )
            done = {
                (d.field, d.theirs, d.ours)
                for d in compare.differences(after, before)
                if d.field not in compare.NUMBERS  # QBO computes them from the lines
            }
            assert done == {(c["field"], c["old"], c["new"]) for c in planned["changes"]}
        if planned["action"] == "create":
            assert line.qbo_id not in qbo_before["PurchaseOrder"]
            assert qbo_after["PurchaseOrder"][line.qbo_id]["DocNumber"] == planned["number"]
        if planned["action"] in ("conflict", "fail", "skip"):
            assert line.message == planned["reason"]
    created = {
        (entity, o.get("DisplayName") or o.get("Name"))
        for entity in ("Vendor", "Item")
        for i, o in qbo_after[entity].items()
        if i not in qbo_before[entity]
    }
    assert created == {(e, n) for e, op, n in refs if op == "create"}
    retired = next(v for v in qbo_after["Vendor"].values() if v["DisplayName"] == "Retired Vendor")
    assert retired["Active"] is True
    new_pos = set(qbo_after["PurchaseOrder"]) - set(qbo_before["PurchaseOrder"])
    assert len(new_pos) == shown["totals"]["create"]


def test_first_connection_preview_creates_no_state_file(h):
    """The documented first step: no state file yet, and none after the preview; what QBO
    holds already (found through the first connection's index) is adopted, as the pass does."""
    vendor = h.qbo.seed("Vendor", {"DisplayName": "Nutricost"})
    item = h.qbo.seed(
        "Item",
        {
            "Name": "Whey Protein 5lb",
            "Sku": "NC-WHEY-5",
            "Type": "NonInventory",
            "ExpenseAccountRef": {"value": "2"},
        },
    )
    held = _seed_qbo_po(h, "PO-2", vendor["Id"], item["Id"], "10", "")
    h.po(order_numbers=["PO-1"])
    h.po(order_numbers=["PO-2"])
    state = Path(h.settings.state.path)
    assert not state.exists()
    out = io.StringIO()
    code = preview.command(h.settings, log=EventLog(), out=out)
    assert code == 0
    assert not state.exists() and not Path(f"{state}.lock").exists()
    text = out.getvalue()
    assert "First connection" in text
    assert "create     PO-1  Nutricost: new in QBO" in text
    assert f"adopt      PO-2  Nutricost: QBO id {held['Id']}, as is" in text
    assert "to create" not in text  # the vendor and the item are QBO's already
    assert [p["Id"] for p in h.qbo.objects("PurchaseOrder")] == [held["Id"]]
    report = h.run()
    assert (report.counts["created"], report.counts["adopted"]) == (1, 1)
    assert h.entry(2).qbo_id == held["Id"]


def test_an_interrupted_preview_says_its_list_is_partial(h):
    for n in range(3):
        h.po(order_numbers=[f"PO-{n}"])
    asked = iter([False, True])  # the first record is taken, then a signal arrives
    shown = _preview_json(h, stop_requested=lambda: next(asked, True))
    assert shown["outcome"] == "interrupted" and "partial" in shown["stopped"]
    assert shown["exit_code"] == 1
    assert len(shown["documents"]) < 3


def test_a_preview_sends_no_alert(h, tmp_path):
    from test_alerts import receiver

    from reconciler.config.settings import Secret

    h.po(items=[])  # would newly fail
    with receiver() as hook:
        alerts = dataclasses.replace(h.settings.alerts, webhook_url=Secret(hook.url))
        settings = dataclasses.replace(h.settings, alerts=alerts)
        assert preview.command(settings, log=EventLog(), out=io.StringIO()) == 1
        time.sleep(0.2)
        assert hook.received == []
