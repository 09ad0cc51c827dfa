"""One source's read in a pass: the documents of its list changed since its checkpoint,
taken in the order read, and the checkpoint moved as far as their outcomes allow.

The window comes from both clocks (`pull`, `cursor`); a checkpoint found ahead of them is
brought back once. While the client reads in key order, the checkpoint moves with the outcomes
(`checkpoint.CheckpointTracker`, in the recorder's transaction); after a complete read it moves
once, to the read's safe ceiling. A first read (no checkpoint: a backlog) warms its writer's
reads while Luminous answers; the company, which decides the mapping rules, is awaited once the
first page is in.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from reconciler.crashpoints import crash_point
from reconciler.model import Checkpoint
from reconciler.sync import cursor
from reconciler.sync.checkpoint import CheckpointTracker
from reconciler.sync.pull import PullResult, pull_changes

if TYPE_CHECKING:
    from reconciler.sync.kinds import PassParts
    from reconciler.sync.recorder import Recorder
    from reconciler.sync.report import PassReport
    from reconciler.sync.sources import Source
    from reconciler.write.pipeline import WritePipeline

PROGRESS_EVERY = 100


class SourceRead:
    """Reads each source of a pass in turn, each into a pipeline of its own."""

    def __init__(
        self,
        parts: PassParts,
        recorder: Recorder,
        report: PassReport,
        pipeline: Callable[[], AbstractContextManager[WritePipeline]],
    ) -> None:
        self.parts = parts
        self.recorder = recorder
        self.report = report
        self.pipeline = pipeline

    def run(self, source: Source) -> None:
        result, checkpoint = self._window(source)
        tracker = CheckpointTracker(checkpoint, result.window.ceiling)
        self.recorder.trackers[source.kind] = tracker
        with self.pipeline() as pipeline:  # (closed: every outcome is in)
            read_all = self._take_all(source, result, checkpoint, tracker, pipeline)
        if read_all:
            crash_point("before_checkpoint")
            through = getattr(source.client.last_read, "through", None)  # (payments)
            if through is not None:
                tracker.passed(through)
            moved = tracker.at_end_of_read(result.safe_ceiling)
            if moved is not None:
                self.parts.ledger.move_checkpoint(moved, source.checkpoint)
        tracker.finish()
        self.report.counts["read"] += result.stats.read
        self.report.counts["skipped_as_handled"] += result.stats.skipped_handled

    def _take_all(
        self,
        source: Source,
        result: PullResult,
        checkpoint: Checkpoint | None,
        tracker: CheckpointTracker,
        pipeline: WritePipeline,
    ) -> bool:
        """Each record in the order read; False when a stop was asked for."""
        parts, kind = self.parts, source.kind
        if checkpoint is None and not result.window.empty:  # a first read: a backlog
            pipeline.warm(kind)  # (its index and accounts, while it is read)
        if result.future:  # (else once the first page is in, below)
            parts.company.loaded()
        source.sync.hold_future(result.future, pipeline)
        for count, record in enumerate(result.records, start=1):
            if parts.stop_requested():
                parts.event("pass_interrupted", processed=count - 1, kind=str(kind))
                return False
            if record.id is not None:
                pipeline.settle((kind, record.id))  # an earlier version still out: first
            tracker.read(record.key, in_key_order=source.client.last_read.mode == "key")
            if count == 1:  # (the company decides the mapping rules; the count, how
                parts.company.loaded()  # reference creates go)
                parts.refs.expect(source.client.last_read.expected or 0)
            source.sync.take(record, pipeline)
            if count % PROGRESS_EVERY == 0:
                parts.event("pass_progress", processed=count, kind=str(kind))
        return True

    def _window(self, source: Source) -> tuple[PullResult, Checkpoint | None]:
        """The window both clocks allow; a checkpoint found ahead of them is brought back."""
        parts, name, kind = self.parts, source.checkpoint, source.kind
        settings = parts.settings.luminous
        for _ in range(2):
            checkpoint = parts.ledger.checkpoint(name)
            result = pull_changes(
                source.client,
                checkpoint,
                overlap=settings.overlap,
                settle_lag=settings.settle_lag,
                already_handled=lambda i, at: self.recorder.handled_before(i, at, kind),
                local_now=parts.clock(),
                tolerance=settings.clock_tolerance,
                parse=source.parse,
            )
            back = cursor.brought_back(checkpoint, result.trusted_until)
            if back is None:
                break
            parts.log.warning("checkpoint_ahead_of_clocks", was=str(checkpoint), now=str(back))
            parts.ledger.reset_checkpoint(back, name)
        return result, checkpoint
