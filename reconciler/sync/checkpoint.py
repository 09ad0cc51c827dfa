"""Pure: the one place that answers "when does the checkpoint move?".

The checkpoint promises that every document whose key `(updated_at, id)` is at or before it
has a durable outcome in the ledger. A pass tells the tracker what it read and what it
recorded; the tracker says where the checkpoint may go:

- `read(key, in_key_order)`: a record was read. While the client reads in key order, every
  key below the first still-unsettled one is safe, so outcomes may carry the checkpoint along
  (`allowed()`). Once the client falls back to walking every page (the server ignored the
  filter or the sort), order proves nothing and the checkpoint waits for the end of the read.
- `settle(id)`: that record's outcome is durable (in the transaction that `allowed()` feeds).
- `settled_before(key)`: read again, but its outcome was recorded by an earlier pass (a crash
  between the outcome and the checkpoint move): it counts as settled.
- `at_end_of_read(safe_ceiling)`: the read ran to its end; the checkpoint may go to the
  highest key read, short of anything unsettled, never past `safe_ceiling` (None: the read
  cannot vouch for any prefix, e.g. an unstable fallback walk). `finish()` then stops
  outcomes from carrying it (the retries and the sweep that follow are not in key order).

The checkpoint never moves backwards, never past the pull's ceiling, and never to or past an
unsettled key (`cursor.advance` is the rule; this class keeps its inputs).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from reconciler.model import Checkpoint
from reconciler.sync.cursor import Key, advance


class CheckpointTracker:
    """What one read of Luminous has seen and settled, and the checkpoint that allows.

    In key order the keys arrive ascending, so the safe point is the end of the longest
    settled prefix of what was read (the watermark); only the keys still open are kept."""

    def __init__(self, committed: Checkpoint | None, ceiling: datetime) -> None:
        self.committed = committed
        self.ceiling = ceiling
        self.in_key_order = True
        self._queue: deque[_Read] = deque()  # read in key order, oldest first, not yet passed
        self._open: dict[int, _Read] = {}  # doc id -> its read, while unsettled
        self._watermark: Key | None = None  # the last key of the settled prefix
        self._read_high: Key | None = None

    def read(self, key: Key | None, *, in_key_order: bool) -> None:
        """A record came in (key None: it has no usable id or updated_at)."""
        self.in_key_order = self.in_key_order and in_key_order
        if key is None:
            return
        self._read_high = _max(self._read_high, key)
        if self.in_key_order:
            entry = _Read(key)
            self._queue.append(entry)
            self._open[key[1]] = entry

    def settled_before(self, key: Key) -> None:
        """Read again, already recorded by an earlier pass."""
        self._read_high = _max(self._read_high, key)
        if self.in_key_order:
            self._queue.append(_Read(key, settled=True))
            self._pass_settled()

    def passed(self, key: Key) -> None:
        """The read went as far as `key` in rows that held no record (a bill without payments,
        for payments read through their bills): the end of the read may take the checkpoint
        there."""
        self._read_high = _max(self._read_high, key)

    def settle(self, doc_id: int) -> None:
        entry = self._open.pop(doc_id, None)
        if entry is not None:
            entry.settled = True
            self._pass_settled()

    @property
    def unsettled(self) -> list[Key]:
        return [e.key for e in self._open.values()]

    def allowed(self) -> Checkpoint | None:
        """The checkpoint an outcome recorded now may carry; None: leave it where it is."""
        if not self.in_key_order or self._watermark is None:
            return None
        return self._moved([self._watermark], self.ceiling)

    def at_end_of_read(self, safe_ceiling: datetime | None) -> Checkpoint | None:
        """The checkpoint once the read ran to its end; None: leave it where it is."""
        if self._read_high is None or safe_ceiling is None:
            return None
        candidates = [k for k in (self._read_high, self._watermark) if k is not None]
        return self._moved(candidates, safe_ceiling)

    def finish(self) -> None:
        """The read is over: outcomes recorded after it (retries, the sweep) move nothing."""
        self.in_key_order = False

    def committed_to(self, checkpoint: Checkpoint | None) -> None:
        """The ledger now holds `checkpoint` (it never goes backwards)."""
        if checkpoint is not None and (
            self.committed is None or checkpoint.key() > self.committed.key()
        ):
            self.committed = checkpoint

    def _pass_settled(self) -> None:
        while self._queue and self._queue[0].settled:
            self._watermark = _max(self._watermark, self._queue.popleft().key)

    def _moved(self, candidates: list[Key], ceiling: datetime) -> Checkpoint | None:
        moved = advance(self.committed, candidates, self.unsettled, ceiling)
        return moved if moved is not self.committed else None


@dataclass
class _Read:
    key: Key
    settled: bool = False


def _max(current: Key | None, key: Key) -> Key:
    return key if current is None or key > current else current
