"""Issue 32, case 10: `run --once --dry-run` lists exactly what the real pass then does, bills
included (`[bills] from = "bills"`). Both run as child processes against the emulators.

QBO answers a write with each line's Id and LineNum (Intuit's Line.Id; the emulator's
sandbox/qbo/lines.py), and a bill's lines with the links (LinkedTxn) they made; a bill links
to PO lines by those Ids. The preview answers its writes the same way.
"""

from __future__ import annotations

import json

from life_kit import life


def _preview(w) -> tuple[int, dict]:
    proc = w.cli("run", "--once", "--dry-run", "--json")
    return proc.returncode, json.loads(proc.stdout)


def _planned(preview: dict) -> set[tuple[str, str, str]]:
    return {(d["kind"], d["number"], d["action"]) for d in preview["documents"]}


def test_a_bill_on_a_po_already_in_qbo_is_previewed_as_the_pass_does_it(tmp_path):
    """Before: `fail … [link_missing]` with a PO update that never happens, exit 1; the real
    pass linked both lines and exited 0. After: the same create, nothing else, exit 0."""
    with life(tmp_path) as w:
        w.env["RECONCILER_BILLS__FROM"] = "bills"
        w.connect()
        po = w.po(lines=2, order_numbers=["PO-100"])
        assert w.cli("run", "--once").returncode == 0
        w.bill(po, "B-100")
        code, preview = _preview(w)
        assert code == 0, preview
        assert _planned(preview) == {("bill", "B-100", "create")}, preview["documents"]
        real = w.cli("run", "--once")
        assert real.returncode == 0, real.stdout[-3000:]
        (bill,) = [b for b in w.qbo.objects("Bill") if b.get("DocNumber") == "B-100"]
        links = [ln.get("LinkedTxn") for ln in bill["Line"]]
        assert all(link and link[0]["TxnType"] == "PurchaseOrder" for link in links), links
        assert len(links) == 2


def test_a_new_po_and_its_bill_read_together_are_previewed_as_two_creates(tmp_path):
    """Before: the bill was listed as `wait … po_not_in_qbo` while the real pass created both.
    After: both previewed as creates, exactly what the real pass then does."""
    with life(tmp_path) as w:
        w.env["RECONCILER_BILLS__FROM"] = "bills"
        w.connect()
        po = w.po(lines=2, order_numbers=["PO-200"])
        w.bill(po, "B-200")
        code, preview = _preview(w)
        assert code == 0, preview
        planned = _planned(preview)
        assert planned == {("po", "PO-200", "create"), ("bill", "B-200", "create")}, planned
        assert w.qbo.objects("PurchaseOrder") == [] and w.qbo.objects("Bill") == []
        assert w.cli("run", "--once").returncode == 0
        assert [p["DocNumber"] for p in w.qbo.objects("PurchaseOrder")] == ["PO-200"]
        assert [b["DocNumber"] for b in w.qbo.objects("Bill")] == ["B-200"]
