"""Servers that ignore the filter or the sort, and the full sweep that finds deleted POs."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from luminous_fixtures import NOW, T0, Ledger, add_po, make_client, run_pass

from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sync.pull import sweep_vanished

MODES = [(False, True), (True, False), (False, False)]


def _emulator(honour_filters: bool, honour_sort: bool) -> LuminousEmulator:
    emulator = LuminousEmulator(honour_filters=honour_filters, honour_sort=honour_sort).start()
    emulator.set_now(NOW)
    emulator.add_supplier("Nutricost")
    emulator.add_product("Whey", "W-1")
    return emulator


@pytest.mark.parametrize(("honour_filters", "honour_sort"), MODES)
def test_server_ignoring_filter_or_sort_still_yields_exactly_the_window(
    honour_filters, honour_sort
):
    """Ties, out-of-window POs and a late id order: each in-window PO once, the rest never."""
    with _emulator(honour_filters, honour_sort) as emu:
        old = [add_po(emu, T0 - timedelta(days=2)) for _ in range(3)]
        tied = [add_po(emu, T0) for _ in range(130)]
        late = [add_po(emu, T0 - timedelta(minutes=1)) for _ in range(4)]  # high ids, older
        fresh = [add_po(emu, NOW - timedelta(seconds=5)) for _ in range(2)]  # inside settle lag
        client, ledger = make_client(emu), Ledger()
        run = run_pass(client, ledger, None, initial=T0 - timedelta(days=1))
        assert run.counts == {po_id: 1 for po_id in tied + late}
        assert not set(run.counts) & set(old + fresh)
        assert client.last_read.mode == "walk" and run.result.complete
        again = run_pass(client, ledger, run.checkpoint)
        assert again.yielded == []


def test_unstable_walk_is_repeated_until_it_reads_a_still_list():
    """A server ignoring both, with an edit and a deletion right after the walk's first page:
    the deletion shifts a PO off page 2, so the walk is repeated; every PO comes out once, at
    the version it had when read."""
    with _emulator(False, False) as emu:
        ids = [add_po(emu, T0 + timedelta(seconds=i)) for i in range(250)]
        edited, deleted = ids[5], ids[3]  # both on the walk's first page
        state = {"pages": 0, "meddled": False}

        def meddle(e: LuminousEmulator, query: dict, served: int) -> None:
            state["pages"] += 1
            e.set_now(NOW + timedelta(seconds=state["pages"]))  # the clock moves per request
            if query.get("sort") == "id:asc" and not state["meddled"]:
                state["meddled"] = True
                e.edit_po(edited, {"private_note": "x"})
                e.delete_po(deleted)

        emu.after_page(meddle)
        client = make_client(emu)
        run = run_pass(client, Ledger(), None)
        assert state["meddled"]
        assert run.counts == {i: 1 for i in ids}  # ids[100] is only found by the second walk
        assert dict(run.yielded)[edited] == T0 + timedelta(seconds=5)
        assert client.last_read.rewalks == 1 and run.result.complete


def test_sweep_reports_exactly_the_deleted_pos(emu_default):
    """POs deleted in Luminous are reported by the sweep; ids still present are not."""
    emu = emu_default
    ids = emu.po_ids()
    emu.delete_po(ids[2])
    emu.delete_po(ids[7])
    vanished = sweep_vanished(make_client(emu), [*ids, 999_999])
    assert vanished == {ids[2], ids[7], 999_999}


@pytest.mark.parametrize(("honour_filters", "honour_sort"), MODES)
def test_sweep_with_a_deletion_mid_walk_reports_no_survivor(honour_filters, honour_sort):
    """A deletion during a page walk shifts pages and hides a live PO from the listing; the
    sweep confirms each candidate by id, so only the really deleted one is reported."""
    with _emulator(honour_filters, honour_sort) as emu:
        ids = [add_po(emu, T0 + timedelta(seconds=i)) for i in range(230)]

        def delete_two(e: LuminousEmulator, query: dict, served: int) -> None:
            if served == 1:
                e.delete_po(ids[3])  # already listed: its removal shifts ids[100] off page 2
                e.delete_po(ids[150])  # not listed yet: really gone

        emu.after_page(delete_two)
        assert sweep_vanished(make_client(emu), ids) == {ids[150]}


@pytest.fixture
def emu_default():
    with LuminousEmulator() as emulator:
        emulator.seed_default()
        yield emulator


@pytest.fixture(scope="module")
def shared_emu():
    with LuminousEmulator() as emulator:
        emulator.add_supplier("Nutricost")
        emulator.add_product("Whey", "W-1")
        yield emulator


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=6), min_size=0, max_size=40),
    per_page=st.integers(min_value=2, max_value=6),
    lower=st.integers(min_value=0, max_value=6),
)
def test_key_pager_yields_each_po_in_the_window_exactly_once(shared_emu, offsets, per_page, lower):
    """Property: for any stamps (dense ties) and page size, the key-based read yields exactly
    the POs with since <= updated_at <= ceiling, each once, in non-decreasing stamp order."""
    emu = shared_emu
    emu.clear_pos()
    emu.set_now(NOW)
    stamps = {add_po(emu, T0 + timedelta(seconds=o)): T0 + timedelta(seconds=o) for o in offsets}
    since, ceiling = T0 + timedelta(seconds=lower), T0 + timedelta(seconds=5)
    client = make_client(emu, per_page=per_page)
    got = [(po["id"]) for po in client.iter_changed(since, ceiling)]
    assert sorted(got) == sorted(i for i, t in stamps.items() if since <= t <= ceiling)
    assert [stamps[i] for i in got] == sorted(stamps[i] for i in got)
    assert client.last_read.mode == "key" and client.last_read.complete


def test_a_full_first_page_is_vouched_for_by_two_probes_sent_at_once():
    """A full first page is trusted as the lowest keys only if the window's other end agrees
    (the newest stamp, the highest id): two requests a backlog's first document waits for.
    They go together, so the wait is one round trip, not two (here 0.8 s each)."""
    with _emulator(True, True) as emu:
        for i in range(150):
            add_po(emu, T0 + timedelta(seconds=i))
        client = make_client(emu)
        emu.latency = 0.8
        since, ceiling = T0 - timedelta(seconds=1), NOW - timedelta(minutes=5)
        started = time.monotonic()
        rows = client.iter_changed(since, ceiling)
        next(rows)  # the first page, then the probes
        waited = time.monotonic() - started
        asked = emu.count()
        assert client.last_read.mode == "key"
        assert asked == 3  # the page and both probes
        assert waited < 2.0, waited  # two round trips (1.6 s), not three (2.4 s)
