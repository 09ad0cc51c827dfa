"""Pure: the pull window and the rule that moves the checkpoint.

Keys are `(updated_at, po_id)`, compared as tuples. The checkpoint promises that every PO whose
key is at or before it has an outcome in the ledger. A pass:

- fixes its ceiling from the *server's* clock (the `Date` header) minus a settle lag, so a PO
  committed late with a slightly older stamp, or a server whose clock differs from ours, cannot
  slip behind the checkpoint; and never trusts one clock alone: the ceiling is also at most
  our own clock plus a tolerance, so a server clock that jumps a year ahead for one pass (and
  the stamps it gives meanwhile) cannot carry the checkpoint a year ahead;
- reads from `checkpoint.updated_at - overlap` (inclusive) up to the ceiling (inclusive), so a
  late commit stamped a little before the checkpoint is still seen (the ledger then skips what
  was already handled at that version);
- moves the checkpoint with `advance`: never backwards, never past the ceiling, never to or past
  the first unsettled key, and only to keys actually handled in the pass (a key that was merely
  skipped, or never read, does not move it: that is conservative, the next pass re-reads a little
  more and the ledger skips it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconciler.model import Checkpoint

DEFAULT_OVERLAP = timedelta(minutes=5)
DEFAULT_SETTLE_LAG = timedelta(seconds=30)
DEFAULT_CLOCK_TOLERANCE = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Key = tuple[datetime, int]


@dataclass(frozen=True)
class PullWindow:
    """Read POs with `since <= updated_at <= ceiling` (both inclusive)."""

    since: datetime
    ceiling: datetime

    def contains(self, updated_at: datetime) -> bool:
        return self.since <= updated_at <= self.ceiling

    @property
    def empty(self) -> bool:
        return self.since > self.ceiling


def pull_window(
    checkpoint: Checkpoint | None,
    server_now: datetime,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    settle_lag: timedelta = DEFAULT_SETTLE_LAG,
    initial: datetime | None = None,
    local_now: datetime | None = None,
    tolerance: timedelta = DEFAULT_CLOCK_TOLERANCE,
) -> PullWindow:
    """The window of one pass. Without a checkpoint it starts at `initial` (default: epoch).
    The ceiling is the earlier of the server's clock and ours plus `tolerance`."""
    _aware(server_now, "server_now")
    if overlap < timedelta(0) or settle_lag < timedelta(0):
        raise ValueError("overlap and settle_lag must not be negative")
    ceiling = latest_trusted(server_now, local_now, tolerance) - settle_lag
    if checkpoint is None:
        since = (initial or EPOCH).astimezone(UTC)
    else:
        since = _aware(checkpoint.updated_at, "checkpoint").astimezone(UTC) - overlap
    return PullWindow(since=since, ceiling=ceiling)


def latest_trusted(
    server_now: datetime, local_now: datetime | None, tolerance: timedelta
) -> datetime:
    """The latest instant both clocks vouch for: a stamp after it is in the future."""
    trusted = server_now.astimezone(UTC)
    if local_now is not None:
        trusted = min(trusted, _aware(local_now, "local_now").astimezone(UTC) + tolerance)
    return trusted


def brought_back(checkpoint: Checkpoint | None, trusted: datetime | None) -> Checkpoint | None:
    """A checkpoint ahead of both clocks (left by a clock that jumped, or a bad restore): the
    one to put in its place; None when it is where it may be.

    It vouches for nothing: nobody knows since when it has been wrong, and the POs stamped
    meanwhile were never read. So it goes back to the start, not to `trusted` (which would
    claim them): the next read takes every PO again, the ledger skips each one it holds at
    that version (Luminous reads only, no QBO request), and outcomes carry the checkpoint up
    to where it is true. (`trusted` None: no clock was read, so there is nothing to compare.)"""
    if checkpoint is None or trusted is None or checkpoint.updated_at <= trusted:
        return None
    return Checkpoint(updated_at=EPOCH, doc_id=0)


def advance(
    checkpoint: Checkpoint | None,
    handled: Iterable[Key],
    unsettled: Iterable[Key],
    ceiling: datetime | None,
) -> Checkpoint | None:
    """The checkpoint after a pass.

    `handled`: keys of POs this pass read and whose outcome is durably in the ledger.
    `unsettled`: keys of POs it read without recording an outcome (crash, shutdown, fatal error).
    `ceiling`: the instant through which the pull read every PO in order (the window's ceiling,
    or None when the read cannot vouch for any prefix: then the checkpoint stays).
    """
    if ceiling is None:
        return checkpoint
    old = checkpoint.key() if checkpoint is not None else None
    unsettled_keys = [_key(k) for k in unsettled]
    first_unsettled = min(unsettled_keys) if unsettled_keys else None
    best: Key | None = None
    for key in map(_key, handled):
        if key[0] > ceiling:
            continue
        if first_unsettled is not None and key >= first_unsettled:
            continue
        if best is None or key > best:
            best = key
    if best is None or (old is not None and best <= old):
        return checkpoint
    return Checkpoint(updated_at=best[0], doc_id=best[1])


def _key(key: Key) -> Key:
    updated_at, po_id = key
    return (_aware(updated_at, "key").astimezone(UTC), int(po_id))


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")
    return value


def sweep_due(last: str | None, now: datetime, interval: timedelta) -> bool:
    """Whether the full sweep is due: `last` is when the previous one ended (ISO text; None
    when there was none, and then the first pass's full read stands for it)."""
    return last is not None and now - datetime.fromisoformat(last) >= interval
