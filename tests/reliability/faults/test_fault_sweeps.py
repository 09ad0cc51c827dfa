"""Fault sweeps on both APIs: POs are delayed, never lost or doubled; throttling is honoured.

Each sweep injects one kind of fault (429, 500, 503, a timeout, a connection reset, an answer
dropped after the commit) for a number of requests, first while POs are created and again while
they are edited, and runs passes (the clock moved on between them) until everything settles.
Bounded: faults for 3 and 7 requests; RECONCILER_LONG_TESTS=1 adds longer storms.
"""

from __future__ import annotations

import pytest
from reliability_kit import (
    InProcessDaemon,
    assert_bill_invariants,
    assert_invariants,
    connect,
    scaled,
    world,
)

from reconciler.sandbox.luminous.server import LuminousFault
from reconciler.sandbox.qbo.server import FaultRule

QBO_KINDS = ("429", "500", "503", "timeout", "reset", "drop_after_commit")
LUMINOUS_KINDS = ("429", "500", "503", "timeout", "reset")
STORMS = (3, 7) + ((15, 40) if scaled(0, 1) else ())
SUPPLIERS = ("Nutricost", "O'Brien & Sons", "Acme West")


def _qbo_rule(kind: str, times: int) -> FaultRule:
    api = r"/v3/company/"
    if kind in ("429", "500", "503"):
        return FaultRule(path_regex=api, action="status", status=int(kind), times=times)
    if kind == "timeout":  # slower than the client's read timeout; the work still happens
        return FaultRule(path_regex=api, action="latency", latency=0.4, times=times)
    return FaultRule(method="POST", path_regex=api, action=kind, times=times)


def _luminous_fault(kind: str, times: int) -> LuminousFault:
    if kind == "429":
        return LuminousFault(path_regex="", status=429, retry_after=0.01, times=times)
    if kind in ("500", "503"):
        return LuminousFault(path_regex="", status=int(kind), times=times)
    if kind == "timeout":
        return LuminousFault(path_regex="", action="latency", latency=0.4, times=times)
    return LuminousFault(path_regex="", action="reset", times=times)


def _inject(w, api: str, kind: str, times: int) -> None:
    if api == "qbo":
        w.qbo.add_fault(_qbo_rule(kind, times))
    else:
        w.lum.add_fault(_luminous_fault(kind, times))


SWEEP = [("qbo", k, n) for k in QBO_KINDS for n in STORMS] + [
    ("luminous", k, n) for k in LUMINOUS_KINDS for n in STORMS
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("api", "kind", "times"), SWEEP, ids=[f"{a}-{k}-x{n}" for a, k, n in SWEEP]
)
def test_fault_sweep_delays_but_never_loses_or_doubles(tmp_path, api, kind, times):
    """One fault kind for `times` requests, on creates and on edits: settles exactly once."""
    with world(tmp_path) as w:
        connect(w)
        daemon = InProcessDaemon(w, qbo_timeout=(2.0, 0.2), lum_timeout=0.2)
        pos = [
            w.source.po(SUPPLIERS[i % 3], f"Product {i % 4}", str(i + 1), "12.50") for i in range(6)
        ]
        _inject(w, api, kind, times)
        daemon.settle(max_passes=8 + times)  # a Luminous outage stops whole passes
        assert_invariants(w)

        w.source.edit(pos[0]["id"], private_note="edited under faults")
        w.source.set_qty(pos[1]["id"], "99", "Product 1")
        w.source.edit(pos[2]["id"], order_status="completed")
        w.source.po("Late Supplier", "Late Product", "1", "1.00")
        _inject(w, api, kind, times)
        daemon.settle(max_passes=8 + times)  # a Luminous outage stops whole passes
        verdict = assert_invariants(w)
        assert verdict.in_qbo == 7


class SleepRecorder:
    """The client's sleep: records (requests the emulator had seen when it began, seconds,
    requests seen when it ended), and moves the world's fake clock instead of waiting."""

    def __init__(self, w, requests_seen) -> None:
        self.clock = w.clock
        self.requests_seen = requests_seen
        self.calls: list[tuple[int, float, int]] = []

    def __call__(self, seconds: float) -> None:
        before = self.requests_seen()
        self.clock.sleep(seconds)
        self.calls.append((before, seconds, self.requests_seen()))

    def waits_after(self, request_index: int) -> list[tuple[float, int]]:
        """(seconds, requests seen at its end) of each sleep begun right after that request."""
        return [(s, end) for seen, s, end in self.calls if seen == request_index + 1]


def test_qbo_429_is_followed_by_a_backoff_before_the_next_request(tmp_path):
    """After each QBO 429 the client waits (exponential back-off) before sending again: the
    wait begins once the 429 is answered and nothing is sent until it ends.
    (Not on a first read: its warm-up asks QBO on a second thread at the same moment as the
    company's read, so the second request may already be on its way when the first is
    throttled; an empty first pass comes first.)"""
    with world(tmp_path) as w:
        connect(w)
        recorder = SleepRecorder(w, lambda: len(w.qbo.request_log))
        daemon = InProcessDaemon(w, sleep=recorder)
        daemon.settle()  # nothing to read yet: the checkpoint is set, the company known
        w.clock.sleep(1.1)  # (that pass's reads out of QBO's 10-a-second window)
        w.qbo.reset_log()
        recorder.calls.clear()
        w.source.po()
        w.qbo.add_fault(FaultRule(path_regex=r"/v3/company/", status=429, times=3))
        daemon.settle()
        log = w.qbo.request_log
        throttled = [i for i, e in enumerate(log) if e["status"] == 429]
        assert len(throttled) == 3
        for i in throttled:
            waits = recorder.waits_after(i)
            assert waits and waits[0][0] >= 0.01, f"no back-off after the 429 at request {i}"
            assert waits[0][1] == i + 1, f"request {i + 1} went out during the back-off"
        assert_invariants(w)


def test_a_throttle_storm_before_the_company_is_known_aborts_the_pass(tmp_path):
    """No company profile kept yet and QBO throttling: the pass cannot tell the tax rule, so
    it stops like any transient failure (aborted, nothing recorded, checkpoint held) after the
    read's own attempts; once the storm is over the PO lands once."""
    with world(tmp_path) as w:
        connect(w)
        daemon = InProcessDaemon(w)
        po = w.source.po()
        rule = w.qbo.add_fault(FaultRule(path_regex=r"/v3/company/", status=429, times=None))
        report = daemon.run()
        assert report is not None and report.outcome == "aborted" and report.exit_code() == 1
        assert rule.fired <= 4 and report.checkpoint is None
        w.qbo.clear_faults()
        daemon.clock.advance(hours=2)
        daemon.settle()
        assert_invariants(w)
        assert [p["DocNumber"] for p in w.qbo.objects("PurchaseOrder")] == po["order_numbers"][:1]


def test_luminous_429_waits_retry_after_before_the_next_request(tmp_path):
    """A Luminous 429 with Retry-After: no request until that many seconds have passed."""
    with world(tmp_path) as w:
        connect(w)
        recorder = SleepRecorder(w, lambda: len(w.lum.request_log))
        daemon = InProcessDaemon(w, sleep=recorder)
        w.source.po()
        w.lum.add_fault(LuminousFault(path_regex="", status=429, retry_after=0.08, times=2))
        daemon.settle()
        statuses = [r.status for r in w.lum.request_log]
        throttled = [i for i, s in enumerate(statuses) if s == 429]
        assert len(throttled) == 2
        for i in throttled:
            waits = recorder.waits_after(i)
            assert waits and waits[0][0] >= 0.08, f"retried {waits} after Retry-After 0.08"
            assert waits[0][1] == i + 1, f"request {i + 1} went out during the wait"
        assert_invariants(w)


def test_throttle_storm_costs_at_most_max_attempts_per_call(tmp_path):
    """An endless 429 storm: each call gives up after its attempts; the PO retries later."""
    with world(tmp_path) as w:
        connect(w)
        daemon = InProcessDaemon(w)
        daemon.run()  # a quiet first pass: the QBO company is read and kept (a day)
        po = w.source.po()
        rule = w.qbo.add_fault(FaultRule(path_regex=r"/v3/company/", status=429, times=None))
        report = daemon.run()
        assert report is not None and report.failed == 1
        assert rule.fired <= 4 * 3  # a few calls, each at most max_attempts (4) tries
        w.qbo.clear_faults()
        daemon.clock.advance(hours=2)
        daemon.settle()
        assert_invariants(w)
        assert len([p for p in w.qbo.objects("PurchaseOrder") if p["DocNumber"]]) == 1
        assert po["order_numbers"][0] in {p["DocNumber"] for p in w.qbo.objects("PurchaseOrder")}


BILL_SWEEP = [("qbo", "503", 3), ("qbo", "reset", 3), ("qbo", "drop_after_commit", 3)]
BILL_SWEEP += [("luminous", "500", 3)]


@pytest.mark.parametrize(
    ("api", "kind", "times"), BILL_SWEEP, ids=[f"{a}-{k}-x{n}" for a, k, n in BILL_SWEEP]
)
def test_fault_sweep_on_bills_delays_but_never_loses_or_doubles(tmp_path, api, kind, times):
    """Faults while bills are created (four, one /batch) and again while one is edited and
    one added: every bill once in QBO, linked to its PO line, with its latest total."""
    with world(tmp_path) as w:
        connect(w)
        env = {**w.env, "RECONCILER_BILLS__FROM": "bills"}
        daemon = InProcessDaemon(w, env=env, qbo_timeout=(2.0, 0.2), lum_timeout=0.2)
        pos = [w.source.po(SUPPLIERS[i % 3], f"Product {i}", "10", "12.50") for i in range(5)]
        daemon.settle()
        bills = [w.source.bill(po, "4", f"INV-{n}") for n, po in enumerate(pos[:4])]
        _inject(w, api, kind, times)
        daemon.settle(max_passes=8 + times)
        assert_bill_invariants(w)

        w.source.edit_bill(bills[0]["id"], memo="edited under faults")
        w.source.bill(pos[4], "2", "INV-LATE")
        _inject(w, api, kind, times)
        daemon.settle(max_passes=8 + times)
        assert assert_bill_invariants(w).in_qbo == 5
        assert assert_invariants(w).in_qbo == 5
