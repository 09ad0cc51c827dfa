"""The full sweep: every document again, every `full_sweep_interval` or with `run --once --full`.

For each source:
- documents gone from Luminous (not listed any more, and a direct read agrees) are closed,
  voided or deleted in QBO, by that kind's policy;
- for a kind that re-reads (`Kind.sweep_rereads`: POs), every document is read again and
  compared by content: edits that did not move `updated_at`, and commits backdated past the
  overlap, are caught; unchanged ones cost no QBO request; and documents Luminous lists but
  that no filtered read ever returned (an unusable `updated_at` a server leaves out of
  filtered lists) are read one by one, so each gets an outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from reconciler.model import Lifecycle
from reconciler.sync import cursor
from reconciler.sync.pull import pull_changes, sweep_ids
from reconciler.sync.recorder import HandledDocs
from reconciler.sync.sources import Source

if TYPE_CHECKING:
    from reconciler.sync.kinds import PassParts
    from reconciler.write.pipeline import WritePipeline

LAST_SWEEP = "last_full_sweep_at"


class FullSweep:
    """The sweep of one pass, over the sources it is given."""

    def __init__(
        self,
        parts: PassParts,
        handled: HandledDocs,
        pipeline: Callable[[], AbstractContextManager[WritePipeline]],
        meta: Any,  # get_meta / set_meta: the StateStore
    ) -> None:
        self.ledger = parts.ledger
        self.meta = meta
        self.handled = handled
        self.pipeline = pipeline
        self.clock = parts.clock
        self.interval = parts.settings.luminous.full_sweep_interval
        self.settle_lag = parts.settings.luminous.settle_lag
        self.event = parts.event
        self.stop_requested = parts.stop_requested

    def due(self) -> bool:
        """Whether the interval since the last sweep has passed (the first pass starts it)."""
        last = self.meta.get_meta(LAST_SWEEP)
        if last is None:  # the first pass reads everything anyway: the interval starts now
            self.meta.set_meta(LAST_SWEEP, self.clock().isoformat())
        return cursor.sweep_due(last, self.clock(), self.interval)

    def run(self, sources: list[Source]) -> None:
        for source in sources:
            if not self._sweep(source):
                return
        self.meta.set_meta(LAST_SWEEP, self.clock().isoformat())

    def _sweep(self, source: Source) -> bool:
        """One source; False when a stop was asked for."""
        kind = source.kind
        entries = self.ledger.entries(kind=kind)
        known = [e.doc_id for e in entries if e.lifecycle is not Lifecycle.DELETED and e.qbo_id]
        vanished, listed = sweep_ids(source.client, known)
        counts = {"known": len(known), "vanished": len(vanished), "listed": len(listed)}
        self.event("full_sweep", kind=str(kind), **counts)
        with self.pipeline() as pipeline:
            for doc_id in sorted(vanished):
                entry = self.ledger.entry(doc_id, kind)
                if self.stop_requested():
                    return False
                if entry is not None:
                    source.sync.take_vanished(entry, pipeline)
            if source.declared.sweep_rereads:
                seen = {e.doc_id for e in entries}
                return self._reread(source, pipeline, listed - seen)
        return True

    def _reread(self, source: Source, pipeline: WritePipeline, unseen: set[int]) -> bool:
        kind = source.kind
        everything = pull_changes(
            source.client,
            None,
            overlap=timedelta(0),
            settle_lag=self.settle_lag,
            already_handled=lambda doc_id, _at: (kind, doc_id) in self.handled,
            parse=source.parse,
        )
        for record in everything.records:
            if self.stop_requested():
                return False
            source.sync.take(record, pipeline)
        for doc_id in sorted(i for i in unseen if (kind, i) not in self.handled):
            raw = source.client.get(doc_id)
            if self.stop_requested():
                return False
            if raw is not None:
                source.sync.take(source.parse(raw), pipeline)
        return True
