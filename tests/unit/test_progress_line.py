"""The progress line's arithmetic and manners, on a fake clock and a captured stream (the real
terminal: tests/integration/test_progress.py)."""

import io

from support import EventLog

from reconciler.app.progress import CLEAR, Progress, ProgressLog, on_terminal


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _progress(width: int = 200):
    clock, out = Clock(), io.StringIO()
    return Progress(out, every=0.5, monotonic=clock, width=lambda: width), clock, out


def _frames(out: io.StringIO) -> list[str]:
    return [f for f in out.getvalue().split(CLEAR) if f]


def test_counts_rate_and_time_left_from_events():
    p, clock, _out = _progress()
    p.expected = lambda: 1000
    p.on_event("pass_started", {})
    clock.now += 10
    for n in range(200):
        status = "failed" if n % 50 == 0 else "synced"
        p.on_event(f"po_{status}", {"action": "none" if n % 2 else "create"})
    p.on_event("pass_progress", {"processed": 300})
    assert p.line() == (
        "reconciler: 300 of ~1,000 read · 96 synced · 4 failed · 100 unchanged · 20.0/s · ~40s left"
    )
    p.expected = lambda: None
    assert "left" not in p.line() and "of ~" not in p.line()


def test_drawn_at_most_every_interval_and_cut_to_the_width():
    p, clock, out = _progress(width=30)
    p.on_event("pass_started", {})
    for _ in range(50):
        p.on_event("bill_synced", {"action": "create"})  # any kind of document counts
    assert len(_frames(out)) == 1
    clock.now += 0.6
    p.on_event("po_synced", {"action": "update"})
    assert len(_frames(out)) == 2
    assert all(len(f) <= 29 for f in _frames(out))
    p.on_event("something_else", {"action": "x"})  # not an outcome: not counted
    assert p.counts["done"] == 51


def test_sweep_counts_afresh_and_the_summary_ends_the_line():
    p, clock, out = _progress()
    p.on_event("pass_started", {})
    p.on_event("po_synced", {"action": "create"})
    p.on_event("full_sweep", {"known": 1})
    assert p.counts["done"] == 0 and p.line().startswith("sweep: ")
    clock.now += 65
    p.on_event("pass_finished", {"outcome": "ok", "counts": {"read": 9, "created": 2}})
    assert out.getvalue().endswith(f"{CLEAR}pass ok in 1m05s: 9 read, 2 created\n")


def test_warnings_clear_the_line_and_it_comes_back():
    p, _clock, out = _progress()
    inner = EventLog()
    log = ProgressLog(inner, p).bind(dry_run=True)
    log.info("pass_started")
    before = out.getvalue()
    log.warning("checkpoint_ahead_of_clocks", was="x")
    assert out.getvalue().startswith(before + CLEAR + CLEAR + "reconciler: ")
    assert [line.count("dry_run") for line in inner.lines] == [0, 0]  # EventLog has no bind
    log.info("pass_finished", outcome="ok", counts={})
    assert out.getvalue().endswith("preview ok in 0s: nothing to do\n")


def test_only_a_terminal_gets_one():
    assert on_terminal(io.StringIO()) is None
