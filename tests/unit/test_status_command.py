"""`reconciler status` with the status page's filters, over a real state file: the table, one
key set in JSON for every kind, the CSV the page exports, and bad input refused clearly."""

from __future__ import annotations

import csv
import io
import json

import pytest
from status_samples import HOSTILE_VENDOR, seed

from reconciler.app import status_options
from reconciler.app.cli import main
from reconciler.model import DocKind


@pytest.fixture
def state(tmp_path, monkeypatch):
    path = tmp_path / "state.sqlite"
    seed(path).close()
    for name in list(__import__("os").environ):
        if name.startswith("RECONCILER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RECONCILER_STATE__PATH", str(path))
    monkeypatch.setenv("RECONCILER_QBO__REALM_ID", "4620816365")
    return path


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(["status", *args])
    return code, capsys.readouterr().out


def test_kinds_offered_are_the_kinds():
    assert tuple(str(k) for k in DocKind) == status_options.KINDS


def test_code_lists_its_documents_and_its_fix(state, capsys):
    code, out = run(capsys, "--code", "6240")
    assert code == 0
    assert "PO-1002" in out and "PO-1006" not in out
    assert "1 with code 6240. What to do: A vendor, customer or employee" in out


def test_filters_combine(state, capsys):
    _, out = run(capsys, "--kind", "bill", "--failed")
    assert "INV-78" in out and "INV-79" in out and "INV-77" not in out and "PO-" not in out
    _, out = run(capsys, "--vendor", "ACME", "--json")
    assert sorted(r["number"] for r in json.loads(out)) == ["INV-77", "PO-1001", "PO-1003"]
    _, out = run(capsys, "--since", "2026-03-03", "--json")
    assert json.loads(out) == []
    _, out = run(capsys, "--since", "2026-03-02", "--until", "2026-03-02", "--json")
    assert len(json.loads(out)) == 9


def test_json_has_one_key_set_for_every_kind(state, capsys):
    _, out = run(capsys, "--json")
    rows = json.loads(out)
    assert {r["kind"] for r in rows} == {"po", "bill"}
    assert len({tuple(r) for r in rows}) == 1  # the same keys, in the same order
    po = next(r for r in rows if r["number"] == "PO-1001")
    assert po["doc_id"] == 1001 and po["qbo_id"] == "101"
    assert po["qbo_link"] == (
        "https://qbo.intuit.com/app/login?deeplinkcompanyid=4620816365"
        "&pagereq=purchaseorder%3FtxnId%3D101"
    )
    assert po["last_attempt_at"].startswith("2026-03-02T09:30")
    assert po["recorded_at"] is not None and "request_id" in po and "intuit_tid" in po
    _, out = run(capsys, "--json", "--limit", "2")
    assert len(json.loads(out)) == 2


def test_csv_is_the_pages_export(state, capsys):
    code, out = run(capsys, "--csv", "--failed")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert sorted(r["number"] for r in rows) == [
        "INV-78",
        "INV-79",
        "PO-1002",
        "PO-1003",
        "PO-1006",
    ]
    hostile = next(r for r in rows if r["number"] == "PO-1006")
    assert hostile["vendor"] == HOSTILE_VENDOR and hostile["error_code"] == "bad_input"
    assert hostile["reason"].startswith("[bad_input] ")
    assert next(r for r in rows if r["number"] == "PO-1003")["qbo_link"].endswith("%3D103")


def test_a_cell_a_spreadsheet_would_run_is_defused(tmp_path, capsys, monkeypatch):
    """OWASP's CSV injection advice: a leading =, +, - or @ becomes text."""
    from status_samples import StepClock, record

    from reconciler.model import LedgerEntry, SyncStatus
    from reconciler.state import StateStore

    path = tmp_path / "formula.sqlite"
    store = StateStore.open(path, clock=StepClock())
    entry = LedgerEntry(
        5, SyncStatus.FAILED, '=HYPERLINK("x")', vendor="@SUM(A1)", last_error_message="-2+3"
    )
    record(store, entry, "create")
    store.close()
    monkeypatch.setenv("RECONCILER_STATE__PATH", str(path))
    _, out = run(capsys, "--csv")
    row = next(csv.DictReader(io.StringIO(out)))
    assert row["number"] == '\'=HYPERLINK("x")' and row["vendor"] == "'@SUM(A1)"
    assert row["reason"] == "'-2+3"


def test_bad_days_and_formats_are_refused(state, capsys):
    assert main(["status", "--since", "yesterday"]) == 2
    assert "--since takes a day as YYYY-MM-DD" in capsys.readouterr().err
    assert main(["status", "--csv", "--json"]) == 2
    with pytest.raises(SystemExit):
        main(["status", "--kind", "invoice"])
