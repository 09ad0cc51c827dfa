"""Every way a Luminous server may take the reads' filters, against the emulator's variants:
the client reads exactly the window, keeps the timestamp form the server takes (per list,
remembered), and no undocumented filter stops a read or a sweep.

Source: ../shared/luminous-api.md, "Transport": dates as `YYYY-MM-DD` (filters page),
`created_at[gte]=2024-10-25 00:00:00` (PO page); a full ISO timestamp is not documented: "the
client must work whichever of the three the server takes, and whether it refuses (422) or
ignores what it does not take. `id` is not among the PO list's documented filter fields: an
`id[gt]` that is ignored or refused must not stop a pass or a sweep."
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from luminous_fixtures import NOW, T0, Ledger, add_po, make_client, run_pass

from reconciler.documents.po.parse import parse_or_reject
from reconciler.luminous.filters import ListFilters
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sync.pull import pull_changes, sweep_vanished

PO = "/purchase-orders"
# emulator variant -> (the form the client ends with, what it learns of id[gt])
VARIANTS = {
    "lenient": ({}, "seconds", "works"),
    "strict": ({"id_filter": "refuse", "timestamp_filters": "strict"}, "seconds", "refused"),
    "dates only, 422 for a time": ({"timestamp_filters": "dates"}, "date", "works"),
    "compares dates only": ({"timestamp_filters": "date_only"}, "date", "works"),
    "ignores timestamps and id": (
        {"timestamp_filters": "ignore", "id_filter": "ignore"},
        "none",
        "ignored",
    ),
    "ignores every filter": ({"honour_filters": False}, "none", "ignored"),
}


def emulator(**options) -> LuminousEmulator:
    emu = LuminousEmulator(**options).start()
    emu.set_now(NOW)
    emu.add_supplier("Nutricost")
    emu.add_product("Whey", "W-1")
    return emu


class Meta(dict):
    """The state file's `meta`, as `StateStore` offers it."""

    def get_meta(self, key):
        return self.get(key)

    def set_meta(self, key, value):
        self[key] = value


def sent(emu: LuminousEmulator, name: str) -> list[str]:
    """The values sent for one query parameter of the PO list, in order."""
    return [v for r in emu.request_log if r.path == PO for k, v in r.query if k == name]


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_each_server_yields_exactly_the_window_and_what_it_takes_is_learnt(variant):
    """Ties over a page (the drain sends `id[gt]`), POs before and after the window: every
    in-window PO once, the rest never, a second pass reads nothing new; the form and the id
    filter the server takes are what the client ends with; a full sweep lists every id."""
    options, form, id_state = VARIANTS[variant]
    with emulator(**options) as emu:
        old = [add_po(emu, T0 - timedelta(days=2)) for _ in range(3)]
        tied = [add_po(emu, T0) for _ in range(130)]
        late = [add_po(emu, T0 - timedelta(minutes=1)) for _ in range(4)]
        fresh = [add_po(emu, NOW - timedelta(seconds=5)) for _ in range(2)]  # in the settle lag
        client, ledger = make_client(emu), Ledger()
        run = run_pass(client, ledger, None, initial=T0 - timedelta(days=1))
        assert run.counts == {po_id: 1 for po_id in tied + late}
        assert not set(run.counts) & set(old + fresh)
        assert run.result.complete
        assert run_pass(client, ledger, run.checkpoint).yielded == []
        emu.delete_po(tied[7])
        assert sweep_vanished(client, tied + late) == {tied[7]}
        assert client.filters.of(PO) == ListFilters(form, id_state)


def test_a_strict_server_never_stops_a_read():
    """The old client sent `1970-01-01T00:00:00.000000Z` and `id[gt]`; a strict server
    answers both with 422. Now the documented form goes first and `id[gt]` is dropped once
    refused: the read and the sweep complete, with one refusal each at most."""
    with emulator(id_filter="refuse", timestamp_filters="strict") as emu:
        ids = [add_po(emu, T0 + timedelta(seconds=i)) for i in range(250)]
        client = make_client(emu)
        run = run_pass(client, Ledger(), None, initial=T0 - timedelta(days=1))
        assert set(run.counts) == set(ids) and run.result.complete
        assert client.last_read.mode == "key"  # no ties over a page: no id[gt] needed
        assert all(
            re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", v)
            for v in sent(emu, "updated_at[gte]")
        )
        emu.delete_po(ids[0])
        assert sweep_vanished(client, ids) == {ids[0]}
        assert emu.count(status=422) == 1  # the sweep's first id[gt]; then pages
        assert sweep_vanished(client, ids) == {ids[0]}
        assert emu.count(status=422) == 1  # remembered: not asked again


def test_what_was_learnt_is_kept_in_the_state_and_used_by_the_next_client():
    """A server that takes only dates refuses the two timestamp forms once; a new client
    (a new process) bound to the same state sends the date form at once, no 422."""
    meta = Meta()
    with emulator(timestamp_filters="dates") as emu:
        ids = [add_po(emu, T0 + timedelta(minutes=i)) for i in range(5)]
        first = make_client(emu)
        first.remember_in(meta)
        run = run_pass(first, Ledger(), None, initial=T0 - timedelta(days=1))
        assert set(run.counts) == set(ids) and emu.count(status=422) == 2
        assert '"date_form": "date"' in meta["luminous_filters:/purchase-orders"]
        emu.request_log.clear()
        second = make_client(emu)
        second.remember_in(meta)
        again = run_pass(second, Ledger(), None, initial=T0 - timedelta(days=1))
        assert set(again.counts) == set(ids) and emu.count(status=422) == 0
        assert sent(emu, "updated_at[gte]") == ["2026-03-01"]  # the day since began


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_the_probe_finds_documents_stamped_in_the_future_in_every_form(variant):
    """POs stamped past our clock plus the tolerance get an outcome from the pass's first
    request, whatever the server takes (newest first when it cannot filter exactly)."""
    options = VARIANTS[variant][0]
    with emulator(**options) as emu:
        for i in range(150):
            add_po(emu, NOW - timedelta(hours=2, seconds=i))
        ahead = [add_po(emu, NOW + timedelta(minutes=20 + i)) for i in range(3)]
        client = make_client(emu)
        found = []
        for _ in range(2):  # the second pass starts from what the first learnt
            result = pull_changes(
                client,
                None,
                already_handled=lambda i, at: False,
                local_now=NOW,
                tolerance=timedelta(minutes=5),
                initial=T0 - timedelta(days=1),
                parse=parse_or_reject,
            )
            found.append(sorted(record.id for record in result.future))
        assert found == [ahead, ahead]
        assert emu.count(status=422) <= 2  # each form refused once at most


def test_stamps_finer_than_the_form_still_read_exactly():
    """A server that keeps fractions of a second (a variant: the reference shows whole
    seconds) with the seconds form: bounds round outwards, the read keeps to the window, ties
    within one second that fill pages make the read walk instead of looping."""
    with emulator(subsecond_stamps=True, timestamp_filters="strict") as emu:
        inside = [add_po(emu, T0 + timedelta(microseconds=500 + i)) for i in range(130)]
        before = add_po(emu, T0 - timedelta(days=1, microseconds=1))
        client = make_client(emu)
        run = run_pass(client, Ledger(), None, initial=T0 - timedelta(days=1))
        assert run.counts == {po_id: 1 for po_id in inside}
        assert before not in run.counts and run.result.complete
        assert emu.get_po(inside[0])["updated_at"].microsecond == 500
