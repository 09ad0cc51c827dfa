"""QBO, not the state file, decides whether a PO exists: the daemon as a subprocess (the CLI,
configured by RECONCILER_* variables) against both emulators, with QBO's duplicate-number
check on and off, and requestid replay off where a duplicate would otherwise hide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from decimal import Decimal

import pytest
from reliability_kit import (
    CAPTURED,
    REPO,
    SIGKILLED,
    assert_invariants,
    connect,
    run_once,
    scaled,
    settle,
    world,
)

from reconciler.model import SyncStatus
from reconciler.state import StateStore
from reconciler.state.lock import run_lock

PRODUCTS = ("Whey Protein 5lb", "Creatine 1kg", "Shaker Bottle")
SUPPLIERS = ("Nutricost", "O'Brien & Sons", "Acme Supply")


@contextmanager
def strict_world(tmp_path, *, duplicate_check: bool = False):
    """Both emulators as the least forgiving QBO: no requestid replay, and (by default) no
    duplicate-number check, so a duplicate shows up as a duplicate rather than as a 6140."""
    with world(tmp_path, requestid_replay=False) as w:
        w.qbo.duplicate_docnumber_check = duplicate_check
        yield w


def _pass_report(proc: subprocess.CompletedProcess[str]) -> dict:
    """The `pass_finished` event the daemon logged (one JSON event a line on stdout)."""
    for line in reversed(proc.stdout.splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "pass_finished":
            return event
    raise AssertionError(f"no pass_finished event:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def _creates(w) -> int:
    """Creates that reached QBO: PurchaseOrder POSTs without an Id, and batch create items."""
    return sum(1 for p in w.qbo.objects("PurchaseOrder"))


def _seed_like_another_client(w, pos: list[dict], *, differ_every: int = 0) -> None:
    """What Luminous's own PO sync would have left in QBO: the same vendors, items and POs
    (same numbers, vendors and lines); every `differ_every`-th PO with another note and qty."""
    vendors, items = {}, {}
    for po in pos:
        supplier = w.lum.get_po(po["id"])["supplier"]["name"]
        if supplier not in vendors:
            vendors[supplier] = w.qbo.seed("Vendor", {"DisplayName": supplier})["Id"]
        lines = []
        for n, line in enumerate(w.lum.get_po(po["id"])["items"], start=1):
            product = line["product"]
            if product["name"] not in items:
                body = {"Name": product["name"], "Type": "NonInventory", "Sku": product["sku"]}
                body["ExpenseAccountRef"] = {"value": "2"}
                items[product["name"]] = w.qbo.seed("Item", body)["Id"]
            qty, price = Decimal(str(line["quantity"])), Decimal(str(line["unit_price"]))
            if differ_every and po["id"] % differ_every == 0 and n == 1:
                qty += 1
            lines.append(
                {
                    "DetailType": "ItemBasedExpenseLineDetail",
                    "Amount": (qty * price).quantize(Decimal("0.01")),
                    "ItemBasedExpenseLineDetail": {
                        "ItemRef": {"value": items[product["name"]]},
                        "Qty": qty,
                        "UnitPrice": price,
                    },
                }
            )
        note = "typed in by hand" if differ_every and po["id"] % differ_every == 0 else None
        body = {"DocNumber": po["order_numbers"][0], "VendorRef": {"value": vendors[supplier]}}
        body |= {"Line": lines, "APAccountRef": {"value": "1"}}
        if note:
            body["PrivateNote"] = note
        w.qbo.seed("PurchaseOrder", body)


def _backlog(w, n: int) -> list[dict]:
    return [
        w.source.po(
            supplier=SUPPLIERS[i % len(SUPPLIERS)],
            product=PRODUCTS[i % len(PRODUCTS)],
            qty=str(1 + i % 7),
            price="12.50",
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("duplicate_check", [False, True], ids=["check-off", "check-on"])
@pytest.mark.parametrize("differ_every", [0, 3], ids=["same-content", "some-differ"])
def test_a_company_already_holding_the_pos_adopts_every_one(
    tmp_path, duplicate_check, differ_every
):
    """Switching from Luminous's built-in PO sync: 30 POs already in QBO with the same numbers.
    Every one is adopted (none created, none failed), and QBO matches Luminous afterwards."""
    with strict_world(tmp_path, duplicate_check=duplicate_check) as w:
        connect(w)
        pos = _backlog(w, 30)
        _seed_like_another_client(w, pos, differ_every=differ_every)
        before = _creates(w)
        proc = run_once(w.env, label="adopt")
        assert proc.returncode == 0, proc.stderr[-3000:]
        counts = _pass_report(proc)["counts"]
        assert counts.get("created", 0) == 0 and counts.get("failed", 0) == 0
        assert _creates(w) == before == 30
        assert_invariants(w)  # exactly once each, latest content, checkpoint, integrity
        store = StateStore.open(w.state_path)
        try:
            entries = [store.ledger.entry(po["id"]) for po in pos]
            assert all(e.status is SyncStatus.SYNCED and e.adopted for e in entries)
            assert {store.ledger.history(po["id"])[-1].action for po in pos} == {"adopt"}
        finally:
            store.close()
        if differ_every:  # brought to Luminous's content by a sparse update
            changed = [p for p in w.qbo.objects("PurchaseOrder") if p["SyncToken"] != "0"]
            assert len(changed) == 10
            assert not any(p.get("PrivateNote") for p in w.qbo.objects("PurchaseOrder"))


def test_a_lost_state_file_rebuilds_from_qbo_without_a_create(tmp_path):
    """250 POs synced, then the state file is gone (no volume, a deleted file): the next pass
    makes 0 creates and 0 failures, with QBO's requestid replay and duplicate check both off."""
    with strict_world(tmp_path) as w:
        connect(w)
        _backlog(w, 250)
        settle(w.env)
        assert len(w.qbo.objects("PurchaseOrder")) == 250
        for suffix in ("", "-wal", "-shm"):
            w.state_path.with_name(w.state_path.name + suffix).unlink(missing_ok=True)
        w.qbo.reset_log()
        proc = run_once(w.env, label="rebuild")
        assert proc.returncode == 0, proc.stderr[-3000:]
        counts = _pass_report(proc)["counts"]
        assert counts.get("created", 0) == 0 and counts.get("failed", 0) == 0
        assert counts["adopted"] == 250
        assert len(w.qbo.objects("PurchaseOrder")) == 250
        assert w.qbo.count(method="POST", path_contains="/purchaseorder") == 0
        assert_invariants(w)


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "run", "--once"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_run_started_while_another_holds_the_state_file_stops_naming_it(tmp_path):
    """The lock, deterministically: this process holds the state file's run lock (as a
    running daemon does) and one `run --once` starts. It exits 3 naming this process, with
    no traceback, before writing anything to QBO or to the state file; once the lock is free
    the next run syncs every PO once."""
    with strict_world(tmp_path) as w:
        connect(w)
        _backlog(w, 2)
        with run_lock(w.state_path):
            proc = run_once(w.env, label="while the lock is held")
        output = proc.stdout + proc.stderr
        assert proc.returncode == 3, output[-2000:]
        assert "already running reconciler on this state file" in proc.stderr
        assert f"process {os.getpid()}" in proc.stderr
        assert "Traceback" not in output
        assert w.qbo.objects("PurchaseOrder") == []  # it stopped before any write
        assert w.qbo.count(method="POST") == 0
        assert not w.state_path.exists()  # nor created the state file
        settle(w.env)
        assert assert_invariants(w).in_qbo == 2


RACE_TRIALS = scaled(4, 20)


@pytest.mark.slow
def test_two_processes_at_once_one_runs_and_the_other_stops_naming_it(tmp_path):
    """A timer and the daemon, or `--full` by hand: started at the same moment, a few times
    (RECONCILER_LONG_TESTS=1: 20). No traceback, no duplicate, the ledger intact; the one that
    did not run says who holds it. (The deterministic case is the test above.)"""
    with strict_world(tmp_path) as w:
        connect(w)
        # a pass lasts long enough for the second start to meet it, even when the interpreter
        # of one starts a second later than the other's on a loaded machine
        w.lum.latency = 0.15
        held = 0
        for trial in range(RACE_TRIALS):
            _backlog(w, 2)
            first, second = _start(w.env), _start(w.env)
            results = [(p, *p.communicate(timeout=120)) for p in (first, second)]
            for proc, out, err in results:
                CAPTURED.output(f"trial {trial} stdout", out)
                CAPTURED.output(f"trial {trial} stderr", err)
                assert "Traceback" not in err and "Traceback" not in out, err[-2000:]
                assert proc.returncode in (0, 1, 3), (proc.returncode, err[-2000:])
            locked = [(p, err) for p, _out, err in results if p.returncode == 3]
            for _proc, err in locked:
                assert "already running reconciler on this state file" in err
                other = next(p for p, _o, _e in results if p.returncode != 3)
                assert f"process {other.pid}" in err
            held += len(locked)
            assert len(locked) <= 1
        assert held >= RACE_TRIALS // 2  # they really did meet, most of the time
        w.lum.latency = 0
        settle(w.env)
        assert_invariants(w)


@pytest.mark.parametrize("policy", ["derive", "fail"])
def test_a_po_without_a_number_is_never_created_twice(tmp_path, policy):
    """A PO whose order_numbers is empty, killed right after QBO answered its create: with the
    derived number it exists exactly once (found again by that number); with `fail` it is
    never created and says why."""
    with strict_world(tmp_path) as w:
        w.env["RECONCILER_SYNC__DOC_NUMBER_MISSING"] = policy
        connect(w)
        po = w.source.po(order_numbers=[])
        crashed = run_once(w.env, crash_at="qbo_answered", label="blank number")
        if policy == "derive":
            assert crashed.returncode == SIGKILLED  # (reaped: the kernel dropped its lock)
            settle(w.env)
            found = [
                p for p in w.qbo.objects("PurchaseOrder") if p.get("DocNumber") == f"L-{po['id']}"
            ]
            assert len(found) == 1 and len(w.qbo.objects("PurchaseOrder")) == 1
        else:
            assert crashed.returncode == 1  # nothing to kill: no create was ever sent
            assert w.qbo.objects("PurchaseOrder") == []
            store = StateStore.open(w.state_path)
            try:
                entry = store.ledger.entry(po["id"])
            finally:
                store.close()
            assert entry.status is SyncStatus.FAILED
            assert "finds its POs in QBO by number" in entry.last_error_message
