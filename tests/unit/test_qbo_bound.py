"""bench/qbo_bound.py: the shortest backfill QBO's limits permit, against hand-computed cases.

Every schedule is also checked here, independently of the simulation, against every limit and
every dependency of the work (`check_feasible`).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# bench/ is not a package: its scripts import their siblings from their own directory
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from qbo_bound import (
    Limits,
    Schedule,
    Work,
    binding_limits,
    lower_bound,
    min_makespan,
    mix_lower_bound,
)

US = 1_000_000
REAL = Limits()
COLD_1000 = Work.cold_backfill(1000, 50, 300)
COLD_10000 = Work.cold_backfill(10_000, 50, 300)


def check_feasible(schedule: Schedule, work: Work, latency: float, limits: Limits) -> None:
    """Every limit holds in every window, every dependency is met, all the work is done."""
    lat = round(latency * US)
    adm = sorted(schedule.admissions)
    times = [t for t, _, _ in adm]
    batch_times = [t for t, kind, n in adm if kind in ("ref", "po") and n > 1]

    def most_in(span_us: int, points: list[int]) -> int:  # most admissions in any [x, x + span)
        most, j = 0, 0
        for i, t in enumerate(points):
            while points[j] <= t - span_us:
                j += 1
            most = max(most, i - j + 1)
        return most

    if limits.per_second is not None:
        assert most_in(US, times) <= limits.per_second
    if limits.per_minute is not None:
        assert most_in(60 * US, times) <= limits.per_minute
    if limits.batches_per_minute is not None:
        assert most_in(60 * US, batch_times) <= limits.batches_per_minute
    if limits.in_flight is not None and lat > 0:
        assert most_in(lat, times) <= limits.in_flight  # in flight: admitted in (t - lat, t]
    assert all(n <= limits.batch_items for _, _, n in adm)
    kinds = {k: [(t, n) for t, kind, n in adm if kind == k] for k in ("ref_lookup", "ref", "po")}
    docs = sorted(t for t, kind, _ in adm if kind == "doc_lookup")
    assert len(kinds["ref_lookup"]) == work.ref_lookups
    assert len(docs) == work.docnumber_lookups
    assert sum(n for _, n in kinds["ref"]) == work.ref_creates
    assert sum(n for _, n in kinds["po"]) == work.po_creates
    if kinds["ref"] and kinds["ref_lookup"]:
        assert min(t for t, _ in kinds["ref"]) >= max(t for t, _ in kinds["ref_lookup"]) + lat
    if kinds["po"] and kinds["ref"]:
        assert min(t for t, _ in kinds["po"]) >= max(t for t, _ in kinds["ref"]) + lat
    sent = 0  # POs sent by time t never outnumber those whose look-up answered by t
    for t, n in sorted(kinds["po"]):
        sent += n
        answered = sum(1 for d in docs if d + lat <= t)
        assert not work.group_size or sent <= answered * work.group_size
    assert schedule.makespan_s == pytest.approx((max(times) + lat) / US)
    assert schedule.requests == len(adm)


def per_second(schedule: Schedule, start_s: int) -> list[tuple[int, int]]:
    """(batches, other requests) admitted in each whole second from `start_s` on."""
    rows: dict[int, list[int]] = {}
    for t, kind, n in schedule.admissions:
        second = t // US
        if second >= start_s:
            row = rows.setdefault(second, [0, 0])
            row[0 if kind in ("ref", "po") and n > 1 else 1] += 1
    return [tuple(rows[s]) for s in sorted(rows)]  # type: ignore[misc]


def test_the_work_of_a_cold_backfill():
    # ceil(50/100) vendor queries + 2 ceil(300/100) item queries + 3 account queries
    assert Work(ref_lookups=10, ref_creates=350, po_creates=1000, group_size=30) == COLD_1000
    assert COLD_1000.docnumber_lookups == 34  # ceil(1000 / 30)
    assert (COLD_1000.reads, COLD_1000.writes) == (44, 1350)
    assert Work.cold_backfill(1000, 150, 250, group_size=10).ref_lookups == 2 + 6 + 3
    assert Work.cold_backfill(1000, 150, 250, group_size=10).docnumber_lookups == 100
    assert Work.cold_backfill(1000, 150, 250, group_size=0).docnumber_lookups == 0


def test_1000_pos_cold_are_bound_by_10_a_second_and_the_batch_budget():
    # 1,350 writes would need 45 full batches; the job ends inside its first minute, so only 40
    # are allowed: 1,200 writes in batches, 150 alone. Requests: 44 reads + 40 + 150 = 234; at
    # 10 a second the 234th is admitted at 23 s and answers 150 ms later.
    schedule = min_makespan(COLD_1000, 0.15)
    check_feasible(schedule, COLD_1000, 0.15, REAL)
    assert (schedule.reads, schedule.batches, schedule.single_writes) == (44, 40, 150)
    assert schedule.makespan_s == pytest.approx(23.15)
    assert lower_bound(COLD_1000, 0.15) == pytest.approx(23.15)  # so it is optimal
    # the chain (look-ups, references, POs) costs nothing here: DocNumber look-ups fill its
    # round trips. The references' tail (350 = 11 x 30 + 20) goes alone: 20 singles cost 19
    # requests more than a batch, but the batch slot carries 30 POs (29 requests fewer).
    assert schedule.ref_tail == "single"
    assert schedule.refs_answered_s == pytest.approx(4.15)
    binding = binding_limits(COLD_1000, 0.15)
    assert binding["binding"][0] == "10 requests/s"
    assert "40 batches/min" in binding["binding"]
    assert "dependencies" not in binding["binding"]
    assert binding["makespan_without_s"]["dependencies"] == pytest.approx(23.15)
    # no batch limit: 45 batches + 44 reads = 89 requests, as fast as the chain lets them go
    assert binding["makespan_without_s"]["40 batches/min"] < 10


def test_10000_pos_are_bound_by_40_batches_a_minute_and_the_request_budget():
    work = COLD_10000
    assert (work.reads, work.writes) == (10 + 334, 10_350)
    # Counting: six full minutes admit 3,000 requests, 240 of them batches: 7,200 writes in
    # batches and 3,000 - 240 - 344 = 2,416 alone, 9,616 writes. The 734 left need 25 batches
    # (24.5): the 7th minute's first 3 seconds (360, 361, 362 s) admit 30. So 362.15 s at best.
    assert lower_bound(work, 0.15) == pytest.approx(362.15)
    schedule = min_makespan(work, 0.15)
    check_feasible(schedule, work, 0.15, REAL)
    assert schedule.peak_per_minute == 500 and schedule.peak_batches_per_minute == 40
    # The schedule: the first minute's 40 batch slots are taken at 1 s (10 reference batches),
    # 2 s (2, the reference tail, with 8 DocNumber look-ups), then PO batches alternating with
    # the look-ups they wait for: 8 at 3 s, 2 at 4 s, 8 at 5 s, 2 at 6 s, 8 at 7 s.
    head = per_second(schedule, 0)[:8]
    assert head == [(0, 10), (10, 0), (2, 8), (8, 2), (2, 8), (8, 2), (2, 8), (8, 2)]
    # Each later minute's batch slots free up 60 s after those; from 360 s: 10 singles (no
    # batch slot until 361 s), 10 batches, 2 + 8 singles, 8 + 2, 2 + 8, and the last 2 batches.
    assert per_second(schedule, 360) == [(0, 10), (10, 0), (2, 8), (8, 2), (2, 8), (2, 0)]
    assert schedule.makespan_s == pytest.approx(365.15)  # 3 s (0.8 %) above the bound
    binding = binding_limits(work, 0.15)
    # lifting the batch limit: every write in a batch, 345 + 344 = 689 requests; lifting both
    # request limits: 10 in flight at 150 ms. Lifting one request limit leaves the other.
    assert binding["binding"] == ["40 batches/min", "10/s and 500/min together"]
    assert binding["makespan_without_s"]["10 requests/s"] > 355
    assert binding["makespan_without_s"]["500 requests/min"] > 355


def test_one_po_waits_for_the_chain():
    # 10 reference look-ups fill the first second; the 12 reference batches (350 = 11 x 30 +
    # 20) take 10 slots at 1 s and 2 at 2 s, answered at 2.15 s; the PO (its look-up answered
    # long before) goes at 2.15 s into the second's free slots and answers at 2.3 s.
    work = Work.cold_backfill(1, 50, 300)
    schedule = min_makespan(work, 0.15)
    check_feasible(schedule, work, 0.15, REAL)
    assert schedule.makespan_s == pytest.approx(2.3)
    assert lower_bound(work, 0.15) == pytest.approx(2.3)
    assert "dependencies" in binding_limits(work, 0.15)["binding"]


def test_without_docnumber_look_ups():
    # 10 look-ups + 40 batches + 150 singles = 200 requests: counting alone, the 200th at 19 s.
    # But nothing fills the chain's round trips now: the references' last single goes at 4 s,
    # the POs from 4.15 s; with the window sliding, each later second admits 1 request at k s
    # and 9 at k.15 s, and the 200th goes at 19.15 s.
    work = Work.cold_backfill(1000, 50, 300, group_size=0)
    schedule = min_makespan(work, 0.15)
    check_feasible(schedule, work, 0.15, REAL)
    assert (schedule.reads, schedule.requests) == (10, 200)
    assert schedule.makespan_s == pytest.approx(19.3)
    assert lower_bound(work, 0.15) == pytest.approx(19.15)


def test_with_no_limits_only_the_chain_is_left():
    free = Limits(per_second=None, per_minute=None, batches_per_minute=None, in_flight=None)
    schedule = min_makespan(COLD_1000, 0.15, free)
    check_feasible(schedule, COLD_1000, 0.15, free)
    assert schedule.makespan_s == pytest.approx(0.45)  # look-up, reference, PO: 3 round trips
    assert schedule.batches == math.ceil(350 / 30) + math.ceil(1000 / 30)
    assert schedule.single_writes == 0


def test_a_long_round_trip_makes_10_in_flight_bind():
    # 2 s a request: 10 in flight is 5 a second, under the 10 a second; 234 requests in 24
    # rounds of 2 s (23 rounds of 10 start by 46 s; the last answers at 48 s).
    schedule = min_makespan(COLD_1000, 2.0)
    check_feasible(schedule, COLD_1000, 2.0, REAL)
    assert schedule.makespan_s == pytest.approx(48.0)
    assert lower_bound(COLD_1000, 2.0) == pytest.approx(48.0)
    assert "10 in flight" in binding_limits(COLD_1000, 2.0)["binding"]


def test_the_minute_window_makes_the_rest_wait():
    # 600 reads: 500 at 10 a second by 49 s, then nothing until the first ones leave the window
    # at 60 s; the 100 left go at 60..69 s.
    work = Work(ref_lookups=600, ref_creates=0, po_creates=0)
    schedule = min_makespan(work, 0.15)
    check_feasible(schedule, work, 0.15, REAL)
    assert schedule.makespan_s == pytest.approx(69.15)
    assert lower_bound(work, 0.15) == pytest.approx(69.15)


def test_zero_latency():
    schedule = min_makespan(COLD_1000, 0.0)
    check_feasible(schedule, COLD_1000, 0.0, REAL)
    assert schedule.makespan_s == pytest.approx(23.0)  # the 234th request at 23 s


def test_the_mix_a_client_sent():
    # the client of the measured run: 434 requests (34 batches) at 10 a second: 43.15 s at best,
    # which is why the bound must come from the work: this mix makes a slow run look close.
    assert mix_lower_bound(434, 34, 0.15) == pytest.approx(43.15)
    assert mix_lower_bound(0, 0, 0.15) == 0.0
    # 80 batches: 40 in the first window, the 41st not before 60 s
    assert mix_lower_bound(80, 80, 0.15) == pytest.approx(63.15)


@settings(max_examples=60, deadline=None)
@given(
    pos=st.integers(0, 400),
    suppliers=st.integers(0, 60),
    products=st.integers(0, 200),
    group=st.sampled_from([0, 1, 10, 30, 50]),
    latency=st.sampled_from([0.0, 0.05, 0.15, 0.7, 1.5]),
)
def test_every_schedule_is_feasible_and_never_beats_the_bound(
    pos, suppliers, products, group, latency
):
    work = Work.cold_backfill(pos, suppliers, products, group_size=group)
    schedule = min_makespan(work, latency)
    check_feasible(schedule, work, latency, REAL)
    assert schedule.makespan_s >= lower_bound(work, latency) - 1e-9


def test_a_small_item_table_listed_costs_two_reads_however_many_products():
    """300 products: six `IN (...)` look-ups, or a count and one page of the item table."""
    looked_up = Work.cold_backfill(1000, 50, 300, account_queries=6, group_size=0)
    listed = Work.cold_backfill(1000, 50, 300, account_queries=6, group_size=0, item_listing=True)
    assert (looked_up.reads, listed.reads) == (1 + 6 + 6, 1 + 2 + 6)
    few = Work.cold_backfill(10, 3, 40, account_queries=0, group_size=0, item_listing=True)
    assert few.reads == 1 + 2  # 2 look-ups (SKU, name) are no dearer than count and page
