"""One pass's read of a Luminous list: the window, the changed documents (parsed, lazily),
and the sweep's listing.

No database here: the ledger is reached through `already_handled(doc_id, updated_at)`, which
answers "is an outcome for this document at this version (or newer) durably recorded?". The engine
consumes `PullResult.records` one at a time, records each outcome, then moves the checkpoint
with `cursor.advance(..., ceiling=result.safe_ceiling)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from reconciler.model import Checkpoint, RejectedRecord
from reconciler.sync.cursor import (
    DEFAULT_CLOCK_TOLERANCE,
    DEFAULT_OVERLAP,
    DEFAULT_SETTLE_LAG,
    PullWindow,
    latest_trusted,
    pull_window,
)


class ChangeSource(Protocol):
    """What the pull needs from a client (LuminousClient, or a fake in tests)."""

    last_read: Any

    def server_now(self) -> datetime: ...

    def probe(self, future_after: datetime | None) -> tuple[datetime, list[dict[str, Any]]]: ...

    def iter_changed(self, since: datetime, ceiling: datetime) -> Iterator[dict[str, Any]]: ...

    def get(self, doc_id: int) -> dict[str, Any] | None: ...

    def iter_all_ids(self) -> Iterator[int]: ...


@dataclass
class PullStats:
    read: int = 0  # raw records the client returned inside the window
    skipped_handled: int = 0  # already handled at that version (overlap re-reads)
    parsed: int = 0
    rejected: int = 0
    finished: bool = False  # the records iterator ran to its end


@dataclass
class PullResult:
    window: PullWindow
    records: Iterator[Any]
    stats: PullStats = field(default_factory=PullStats)
    _client: Any = None
    # documents stamped after what both clocks vouch for (a server clock ahead of ours): they get an
    # outcome and wait, and the checkpoint never moves past them
    future: list[Any] = field(default_factory=list)
    trusted_until: datetime | None = None

    @property
    def skipped_handled(self) -> int:
        return self.stats.skipped_handled

    @property
    def complete(self) -> bool:
        """Every document in the window was read (only meaningful once `records` is exhausted)."""
        if self.window.empty:
            return True
        report = getattr(self._client, "last_read", None)
        return self.stats.finished and bool(getattr(report, "complete", False))

    @property
    def safe_ceiling(self) -> datetime | None:
        """The `ceiling` to give `cursor.advance`: the window's, if the read was in key order
        (a prefix is safe even when interrupted) or complete; None (hold the checkpoint)
        after an interrupted or unstable fallback walk."""
        if self.complete:
            return self.window.ceiling
        report = getattr(self._client, "last_read", None)
        if getattr(report, "mode", None) == "key":
            return self.window.ceiling
        return None


def pull_changes(
    client: ChangeSource,
    checkpoint: Checkpoint | None,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    settle_lag: timedelta = DEFAULT_SETTLE_LAG,
    already_handled: Callable[[int, datetime], bool],
    initial: datetime | None = None,
    local_now: datetime | None = None,
    tolerance: timedelta = DEFAULT_CLOCK_TOLERANCE,
    parse: Callable[[Any], Any],
) -> PullResult:
    """Fix the window from the server clock and ours now; read and parse lazily as records
    are taken (`parse`: the list's parser, raw record -> its record or RejectedRecord). With
    `local_now`, the documents stamped past our clock + `tolerance` come in `future` (the
    same request that reads the server's clock finds them)."""
    future_after = local_now + tolerance if local_now is not None else None
    server_now, future_rows = client.probe(future_after)
    window = pull_window(
        checkpoint,
        server_now,
        overlap=overlap,
        settle_lag=settle_lag,
        initial=initial,
        local_now=local_now,
        tolerance=tolerance,
    )
    stats = PullStats()

    def records() -> Iterator[Any]:
        if not window.empty:
            for raw in client.iter_changed(window.since, window.ceiling):
                stats.read += 1
                record = parse(raw)
                doc_id = record.id
                if (
                    doc_id is not None
                    and record.updated_at is not None
                    and already_handled(doc_id, record.updated_at)
                ):
                    stats.skipped_handled += 1
                    continue
                if not isinstance(record, RejectedRecord):
                    stats.parsed += 1
                else:
                    stats.rejected += 1
                yield record
        stats.finished = True

    future = [parse(raw) for raw in future_rows]
    return PullResult(
        window=window,
        records=records(),
        stats=stats,
        _client=client,
        future=future,
        trusted_until=latest_trusted(server_now, local_now, tolerance),
    )


def sweep_vanished(client: ChangeSource, known_ids: Iterable[int]) -> set[int]:
    """Ids the ledger knows that Luminous no longer has, each confirmed by a direct read
    (a page walk that raced a deletion can miss an id that still exists)."""
    return sweep_ids(client, known_ids)[0]


def sweep_ids(client: ChangeSource, known_ids: Iterable[int]) -> tuple[set[int], set[int]]:
    """(the known ids Luminous no longer has, confirmed; every id Luminous lists)."""
    listed = set(client.iter_all_ids())
    candidates = sorted(set(known_ids) - listed)
    return {doc_id for doc_id in candidates if client.get(doc_id) is None}, listed
