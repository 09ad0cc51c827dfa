"""A hypothesis state machine: PO creates, edits, closes, deletes, passes, crashes, faults and
token rotations in any order keep every invariant (nothing lost, nothing doubled).

In process for speed: `run_pass` against both emulators with a real SQLite file. A crash is
`SimulatedCrash` raised at a named crash point after the SQLite connection is closed, so nothing
the pass would do afterwards reaches the ledger (a power cut); the next pass opens the file
afresh, as a restarted daemon does. A crash at `token_issued` loses the rotated refresh token:
the next QBO call must stop the pass with authorization lost, and the model reconnects.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule
from reliability_kit import (
    CAPTURED,
    SimulatedCrash,
    check_invariants,
    connect,
    crash_armed,
    crash_modules,
    in_process_deps,
    scaled,
    world,
)
from support import EventLog

from reconciler import crashpoints
from reconciler.config.loader import load_settings
from reconciler.crashpoints import POINTS
from reconciler.model import SyncStatus
from reconciler.sandbox.qbo.server import FaultRule
from reconciler.state import StateStore
from reconciler.sync.engine import PassReport, run_pass

CRASH_MODULES = crash_modules()


def test_the_model_can_crash_every_module_that_has_a_crash_point():
    """A module that calls crash_point but is not patched would crash the test process: the
    model patches every one the source names, and each really holds crash_point."""
    assert len(CRASH_MODULES) >= 6
    for module in CRASH_MODULES:
        assert module.crash_point is crashpoints.crash_point, module.__name__


SUPPLIERS = ("Nutricost", "O'Brien & Sons", "Back\\slash\\", "Ünïcode GmbH")
PRODUCTS = ("Whey Protein 5lb", "Creatine 1kg", "Shaker Bottle")
SETTLE_PASSES = 8
WRITES = r"/(purchaseorder|batch)"


class SyncModel(RuleBasedStateMachine):
    """Luminous changes and daemon passes in any order, against the invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.stack = ExitStack()
        self.tmp = Path(tempfile.mkdtemp(prefix="reconciler-model-"))
        self.w = None
        self.ids: list[int] = []
        self.log = EventLog()
        self.need_reconnect = False
        self.crashes = 0

    @initialize(forgetful=st.booleans())
    def start(self, forgetful: bool) -> None:
        """`forgetful`: QBO forgets every requestid between passes (as after a long gap), so
        only the daemon's look-before-create prevents a second PO after a crash."""
        self.forgetful = forgetful
        self.w = self.stack.enter_context(world(self.tmp))
        self.clock = self.w.clock  # the passes' fake time, the QBO emulator's windows too
        self.w.qbo.duplicate_docnumber_check = not forgetful
        connect(self.w)
        self.settings = load_settings(None, self.w.env)

    def teardown(self) -> None:
        try:
            if self.w is not None:
                self._settle_and_check()
        finally:
            CAPTURED.output("model events", "\n".join(self.log.lines))
            self.stack.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- Luminous changes ---------------------------------------------------------------

    @rule(
        supplier=st.sampled_from(SUPPLIERS),
        product=st.sampled_from(PRODUCTS),
        qty=st.integers(1, 40),
        cents=st.integers(1, 99_999),
    )
    def create(self, supplier: str, product: str, qty: int, cents: int) -> None:
        po = self.w.source.po(supplier, product, str(qty), f"{cents / 100:.2f}")
        self.ids.append(po["id"])

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), note=st.text(max_size=30))
    def edit_note(self, data: st.DataObject, note: str) -> None:
        po_id = data.draw(st.sampled_from(self.ids))
        self.w.source.edit(po_id, private_note=note.strip() or None)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), qty=st.integers(1, 99))
    def edit_quantity(self, data: st.DataObject, qty: int) -> None:
        po_id = data.draw(st.sampled_from(self.ids))
        product = self.w.lum.get_po(po_id)["items"][0]["product"]["name"]
        self.w.source.set_qty(po_id, str(qty), product)

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        self.w.source.edit(data.draw(st.sampled_from(self.ids)), order_status="completed")

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        po_id = data.draw(st.sampled_from(self.ids))
        self.ids.remove(po_id)
        self.w.source.delete(po_id)

    @rule()
    def rotate_token(self) -> None:
        """The access token runs out: the next QBO call refreshes (and rotates) it."""
        path = self.w.token_path
        data = json.loads(path.read_text())
        data["access_expires_at"] = (self.clock() - timedelta(minutes=1)).isoformat()
        path.write_text(json.dumps(data))

    # --- passes -------------------------------------------------------------------------

    @rule(
        crash=st.none() | st.tuples(st.sampled_from(POINTS), st.integers(1, 3)),
        fault=st.none() | st.sampled_from((429, 500, 503, "drop_after_commit", "reset")),
        full_sweep=st.booleans(),
    )
    def daemon_pass(self, crash, fault, full_sweep: bool) -> None:
        if fault is not None:
            action = fault if isinstance(fault, str) else "status"
            status = fault if isinstance(fault, int) else 503
            self.w.qbo.add_fault(
                FaultRule(
                    method="POST",
                    path_regex=WRITES,
                    action=action,
                    status=status,
                    times=2,
                )
            )
        point, hit = crash if crash is not None else (None, 1)
        if point == "qbo_no_reply" and fault != "drop_after_commit":
            self.w.qbo.add_fault(
                FaultRule(method="POST", path_regex=WRITES, action="drop_after_commit")
            )
        try:
            self._pass(full_sweep=full_sweep, crash=point, hit=hit)
        finally:
            self.w.qbo.clear_faults()

    @rule()
    def settle_and_check(self) -> None:
        self._settle_and_check()

    # --- machinery ----------------------------------------------------------------------

    def _deps(self, store: StateStore):
        return in_process_deps(
            self.settings,
            log=self.log,
            clock=self.clock,
            store=store,
            qbo_timeout=(5.0, 5.0),
        )

    def _pass(
        self, *, full_sweep: bool, crash: str | None = None, hit: int = 1
    ) -> PassReport | None:
        if self.forgetful:
            self.w.qbo.forget_requestids()
        store = StateStore.open(self.w.state_path, clock=self.clock)
        deps, counter = self._deps(store)
        # The "power cut" closes the database under the store's own lock: closing a sqlite3
        # connection while a worker thread is inside a statement on it crashes CPython.
        with crash_armed(crash, hit, store.close) as seen:
            try:
                report = run_pass(deps, full_sweep=full_sweep, counter=counter)
            except (SimulatedCrash, sqlite3.ProgrammingError):
                assert seen["fired"], "a closed database without a crash"
                self.crashes += 1
                if crash == "token_issued":
                    self.need_reconnect = True
                return None
        store.close()
        if report.authorization_lost:
            assert self.need_reconnect, f"authorization lost without a lost token: {report.fatal}"
            connect(self.w)
            self.need_reconnect = False
        else:
            assert report.fatal is None, report.fatal
        return report

    def _settled(self) -> bool:
        store = StateStore.open(self.w.state_path)
        try:
            for entry in store.ledger.entries():
                if entry.status in (SyncStatus.PENDING, SyncStatus.RETRYING):
                    return False
                if entry.status is SyncStatus.FAILED and entry.doc_id in self.ids:
                    return False
            return all(store.ledger.entry(i) is not None for i in self.ids)
        finally:
            store.close()

    def _settle_and_check(self) -> None:
        self.w.qbo.clear_faults()
        for _ in range(SETTLE_PASSES):
            self.clock.offset += timedelta(hours=2)
            self._pass(full_sweep=True)
            if self._settled():
                break
        assert self._settled(), "the passes did not settle"
        verdict = check_invariants(
            self.w.qbo,
            self.w.lum,
            self.w.state_path,
            deleted_numbers=self.w.source.deleted_numbers,
            max_stamp=self.w.source.stamps.max_seen,
        )
        assert verdict.ok(), "\n".join(verdict.problems)
        qbo_numbers = {p.get("DocNumber"): p for p in self.w.qbo.objects("PurchaseOrder")}
        store = StateStore.open(self.w.state_path)
        try:
            for number in self.w.source.deleted_numbers:
                found = qbo_numbers.get(number)
                entries = [store.ledger.entry(i, k) for k, i in store.ledger.find(number)]
                unconfirmed = any(e.status is SyncStatus.FAILED for e in entries if e)
                if found is not None and not unconfirmed:
                    assert found["POStatus"] == "Closed", f"deleted PO {number} still open"
        finally:
            store.close()


SyncModel.TestCase.settings = settings(
    max_examples=scaled(8, 120),
    stateful_step_count=scaled(15, 40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
    # the bounded run does not shrink (time); the long run does, for a readable failure
    phases=tuple(Phase) if scaled(0, 1) else (Phase.explicit, Phase.reuse, Phase.generate),
)
TestSyncModel = SyncModel.TestCase
TestSyncModel.__doc__ = "Random creates, edits, closes, deletes, passes, crashes and rotations."
TestSyncModel.pytestmark = [__import__("pytest").mark.slow]
