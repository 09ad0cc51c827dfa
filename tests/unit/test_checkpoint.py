"""The checkpoint rule, table-driven: what a pass read and settled, and where it may go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.model import Checkpoint
from reconciler.sync.checkpoint import CheckpointTracker

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CEILING = T0 + timedelta(minutes=10)


def at(minutes: int, doc_id: int) -> tuple[datetime, int]:
    return (T0 + timedelta(minutes=minutes), doc_id)


def cp(minutes: int, doc_id: int) -> Checkpoint:
    return Checkpoint(T0 + timedelta(minutes=minutes), doc_id)


# Each step: ("read", key[, "walk"]), ("settle", id), ("before", key) (recorded by an earlier
# pass), ("commit",) (the allowed checkpoint was committed), ("finish",). `allowed` is what an
# outcome recorded after the last step may carry.
CASES = {
    "outcomes carry it in key order": (
        None,
        [("read", at(1, 1)), ("read", at(2, 2)), ("settle", 1)],
        cp(1, 1),
    ),
    "never past the first unsettled key": (
        None,
        [("read", at(1, 1)), ("read", at(2, 2)), ("read", at(3, 3)), ("settle", 1), ("settle", 3)],
        cp(1, 1),
    ),
    "the gap closes when the unsettled one settles": (
        None,
        [
            ("read", at(1, 1)),
            ("read", at(2, 2)),
            ("read", at(3, 3)),
            ("settle", 1),
            ("settle", 3),
            ("settle", 2),
        ],
        cp(3, 3),
    ),
    "a key recorded by an earlier pass counts as settled": (
        None,
        [("before", at(1, 1)), ("read", at(2, 2))],
        cp(1, 1),
    ),
    "nothing settled, nothing to carry": (None, [("read", at(1, 1))], None),
    "the fallback walk proves no order": (
        None,
        [("read", at(2, 2), "walk"), ("read", at(1, 1), "walk"), ("settle", 2), ("settle", 1)],
        None,
    ),
    "a switch to the walk mid-read stops carrying it": (
        None,
        [("read", at(1, 1)), ("settle", 1), ("read", at(2, 2), "walk"), ("settle", 2)],
        None,
    ),
    "never past the pull ceiling": (
        None,
        [("read", at(11, 5)), ("settle", 5)],
        None,
    ),
    "never backwards": (
        cp(5, 9),
        [("read", at(1, 1)), ("settle", 1)],
        None,
    ),
    "nothing once committed": (
        None,
        [("read", at(1, 1)), ("settle", 1), ("commit",)],
        None,
    ),
    "the retries and the sweep after the read move nothing": (
        None,
        [("read", at(1, 1)), ("read", at(2, 2)), ("finish",), ("settle", 1)],
        None,
    ),
    "an unknown id settling changes nothing": (
        None,
        [("read", at(1, 1)), ("settle", 99)],
        None,
    ),
}


def _run(committed: Checkpoint | None, steps) -> CheckpointTracker:
    tracker = CheckpointTracker(committed, CEILING)
    for step in steps:
        if step[0] == "read":
            tracker.read(step[1], in_key_order=len(step) < 3)
        elif step[0] == "settle":
            tracker.settle(step[1])
        elif step[0] == "before":
            tracker.settled_before(step[1])
        elif step[0] == "commit":
            tracker.committed_to(tracker.allowed())
        elif step[0] == "finish":
            tracker.finish()
    return tracker


@pytest.mark.parametrize("name", sorted(CASES))
def test_what_an_outcome_may_carry(name):
    committed, steps, expected = CASES[name]
    assert _run(committed, steps).allowed() == expected


# The end-of-read move: (committed, steps, safe ceiling, expected).
END_CASES = {
    "a complete walk moves to the highest key read": (
        None,
        [("read", at(2, 2), "walk"), ("read", at(1, 1), "walk"), ("settle", 2), ("settle", 1)],
        CEILING,
        cp(2, 2),
    ),
    "keys recorded earlier count for the end of the read": (
        None,
        [("read", at(1, 1)), ("settle", 1), ("before", at(4, 7))],
        CEILING,
        cp(4, 7),
    ),
    "an unstable walk vouches for nothing": (
        None,
        [("read", at(1, 1), "walk"), ("settle", 1)],
        None,
        None,
    ),
    "still short of an unsettled key from the key-order part": (
        None,
        [("read", at(1, 1)), ("read", at(2, 2)), ("settle", 1), ("read", at(3, 3), "walk")],
        CEILING,
        cp(1, 1),
    ),
    "an empty read stays": (cp(1, 1), [], CEILING, None),
    "behind the committed checkpoint stays": (cp(9, 9), [("before", at(1, 1))], CEILING, None),
}


@pytest.mark.parametrize("name", sorted(END_CASES))
def test_the_end_of_read_move(name):
    committed, steps, ceiling, expected = END_CASES[name]
    assert _run(committed, steps).at_end_of_read(ceiling) == expected


def test_committed_never_goes_backwards():
    tracker = CheckpointTracker(cp(5, 5), CEILING)
    tracker.committed_to(cp(1, 1))
    tracker.committed_to(None)
    assert tracker.committed == cp(5, 5)
