"""The pull window and the checkpoint rule, as plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.model import Checkpoint
from reconciler.sync.cursor import (
    EPOCH,
    PullWindow,
    advance,
    brought_back,
    latest_trusted,
    pull_window,
)

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def test_window_from_a_checkpoint_reaches_back_by_the_overlap_and_stops_short_of_now():
    """since = checkpoint - overlap; ceiling = server now - settle lag."""
    window = pull_window(Checkpoint(T, 7), T + 3600 * S, overlap=300 * S, settle_lag=30 * S)
    assert window == PullWindow(since=T - 300 * S, ceiling=T + 3570 * S)


def test_window_without_a_checkpoint_starts_at_initial_or_epoch():
    """A first pass reads from the configured start, or from the epoch."""
    assert pull_window(None, T).since == EPOCH
    assert pull_window(None, T, initial=T - 10 * S).since == T - 10 * S


def test_the_ceiling_is_the_earlier_of_the_server_clock_and_ours_plus_the_tolerance():
    """A server clock a year ahead does not carry the ceiling; one behind ours sets it."""
    year = timedelta(days=365)
    assert latest_trusted(T + year, T, 300 * S) == T + 300 * S
    assert latest_trusted(T - 3600 * S, T, 300 * S) == T - 3600 * S
    window = pull_window(Checkpoint(T), T + year, settle_lag=30 * S, local_now=T, tolerance=300 * S)
    assert window.ceiling == T + 270 * S


def test_a_checkpoint_ahead_of_both_clocks_goes_back_to_the_start():
    """It vouches for nothing (POs stamped while it was wrong were never read): the next read
    starts from the epoch, not from the trusted instant, which would claim them."""
    ahead = Checkpoint(T + 3600 * S, 9)
    assert brought_back(ahead, T) == Checkpoint(EPOCH, 0)
    assert brought_back(Checkpoint(T, 9), T) is None  # at the trusted instant: where it may be
    assert brought_back(None, T) is None


def test_window_defaults_are_five_minutes_and_thirty_seconds():
    """Safe defaults: 5 min overlap, 30 s settle lag."""
    window = pull_window(Checkpoint(T), T + 3600 * S)
    assert (window.since, window.ceiling) == (T - 300 * S, T + 3570 * S)


def test_window_converts_other_offsets_to_utc():
    """A Date in another zone still yields UTC bounds."""
    from datetime import timezone

    plus_two = timezone(timedelta(hours=2))
    window = pull_window(None, datetime(2026, 3, 2, 14, 0, tzinfo=plus_two), settle_lag=0 * S)
    assert window.ceiling == T and window.ceiling.tzinfo == UTC


@pytest.mark.parametrize(
    "bad",
    [
        {"server_now": datetime(2026, 3, 2, 12)},  # naive
        {"overlap": -S},
        {"settle_lag": -S},
    ],
)
def test_window_refuses_naive_times_and_negative_spans(bad):
    """Naive datetimes and negative spans are programming errors, refused loudly."""
    kwargs = {"server_now": T, "overlap": S, "settle_lag": S, **bad}
    with pytest.raises(ValueError):
        pull_window(None, kwargs.pop("server_now"), **kwargs)


def test_window_behind_the_checkpoint_is_empty():
    """A server clock far behind the checkpoint gives an empty window, not a negative read."""
    window = pull_window(Checkpoint(T), T - 3600 * S)
    assert window.empty and not window.contains(T)


@pytest.mark.parametrize(
    ("old", "handled", "unsettled", "ceiling", "expected"),
    [
        (None, [], [], T, None),
        (None, [(T, 1), (T + S, 2)], [], T + S, Checkpoint(T + S, 2)),
        (None, [(T, 1), (T + S, 2), (T + 2 * S, 3)], [(T + S, 5)], T + 9 * S, Checkpoint(T + S, 2)),
        (None, [(T, 1), (T, 9)], [(T, 5)], T, Checkpoint(T, 1)),  # same instant, id order
        (Checkpoint(T, 4), [(T - S, 1)], [], T, Checkpoint(T, 4)),  # never backwards
        (None, [(T + 60 * S, 1)], [], T, None),  # never past the ceiling
        (Checkpoint(T, 1), [(T + S, 2)], [], None, Checkpoint(T, 1)),  # no ceiling: hold
        (None, [(T, 1)], [(T - S, 8)], T, None),  # unsettled before everything handled
    ],
)
def test_advance_table(old, handled, unsettled, ceiling, expected):
    """advance moves to the newest handled key before the first unsettled one, within bounds."""
    assert advance(old, handled, unsettled, ceiling) == expected


keys = st.tuples(
    st.integers(min_value=0, max_value=20).map(lambda n: T + n * S),
    st.integers(min_value=1, max_value=6),
)


@given(
    old=st.none() | keys.map(lambda k: Checkpoint(*k)),
    handled=st.lists(keys, max_size=12),
    unsettled=st.lists(keys, max_size=3),
    ceiling=st.none() | st.integers(min_value=0, max_value=20).map(lambda n: T + n * S),
)
def test_advance_properties(old, handled, unsettled, ceiling):
    """Never backwards, never past the ceiling, never at or past the first unsettled key, and
    only ever to a key that was handled."""
    new = advance(old, handled, unsettled, ceiling)
    if old is not None:
        assert new is not None and new.key() >= old.key()
    if new is None or new == old:
        return
    assert ceiling is not None and new.updated_at <= ceiling
    assert new.key() in handled
    if unsettled:
        assert new.key() < min(unsettled)


@given(
    checkpoint=keys.map(lambda k: Checkpoint(*k)),
    overlap=st.integers(min_value=0, max_value=600).map(lambda n: n * S),
    lag=st.integers(min_value=0, max_value=120).map(lambda n: n * S),
    now=st.integers(min_value=-100, max_value=10_000).map(lambda n: T + n * S),
)
def test_window_always_rereads_the_checkpoint_instant(checkpoint, overlap, lag, now):
    """Whatever the numbers, the checkpoint's own instant is inside [since, ...]: ties at the
    checkpoint are re-read, never skipped."""
    window = pull_window(checkpoint, now, overlap=overlap, settle_lag=lag)
    assert window.since <= checkpoint.updated_at
    assert window.ceiling == now - lag
