"""A pass's drift check: what someone else changed or deleted in QBO since the last check.

Every `sync.drift_check_interval` (0: never; the first pass only starts the interval, and the
first check then asks from the oldest write a snapshot holds). One CDC request covers every
entity the ledger has documents of in QBO; CDC answers with whole objects, so no document is
read again. More requests only when an entity comes back cut at 1000 objects (QBO's cap):
then again from the newest change it held, up to `cdc.MAX_PAGES_PER_CHECK`, and the rest at
the next pass. Each answer is asked from a little before the last one's `time` (the overlap)
and deduplicated by (Id, SyncToken); its findings and the CDC checkpoint commit together.

What each changed document means is `drift.assess` and `drift.settle` (pure); this module asks,
records (`state.DriftRecords`), logs one event per document and fills the pass report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler import errors
from reconciler.config.loader import Settings
from reconciler.documents import drift
from reconciler.model import DocKind, SyncStatus
from reconciler.qbo import cdc
from reconciler.sync.report import PassReport

if TYPE_CHECKING:
    from reconciler.state import DriftRecords


class DriftCheck:
    def __init__(
        self,
        qbo: Any,
        records: DriftRecords,
        settings: Settings,
        *,
        clock: Callable[[], datetime],
        log: Any,
        run_id: str,
    ) -> None:
        self.qbo = qbo
        self.records = records
        self.interval = settings.sync.drift_check_interval
        self.policy = settings.sync.drift
        self.fields = drift.snapshot_fields(settings.mapping_rules())
        self.clock = clock
        self.log = log
        self.run_id = run_id

    def run(self, report: PassReport) -> None:
        """Check when due; a check that fails for a transient reason is due again next pass."""
        if not self.interval:
            return
        now = self.clock()
        last = self.records.checked_at()
        if last is None or not cdc.check_due(last, now, self.interval):
            if last is None:
                self.records.mark_checked(now)  # the interval starts with the first pass
            return
        kinds = [kind for kind in self.records.kinds_in_qbo() if kind in drift.ENTITIES]
        since, cut_short = cdc.since_for(
            self.records.cdc_from(), self.records.earliest_write(), last, now
        )
        if not kinds or since is None:
            self.records.mark_checked(now)  # nothing of ours in QBO yet
            return
        if cut_short:
            self.log.warning(
                "drift_gap",
                run_id=self.run_id,
                asked_from=since.isoformat(),
                reason="QBO's change data capture looks back 30 days at most; "
                "changes made before then are not known",
            )
        report.counts["drift_checks"] += 1
        try:
            self._ask(kinds, since, now, report)
        except errors.Fatal:
            raise
        except errors.ReconcilerError as exc:
            again = isinstance(exc, errors.Retryable)
            (self.log.warning if again else self.log.error)(
                "drift_check_failed",
                run_id=self.run_id,
                error_code=errors.code_of(exc),
                reason=str(exc),
                retried="next pass" if again else "next interval",
            )
            if not again:
                self.records.mark_checked(now)
            return
        report.drift_outstanding = self.records.counts()

    def before_overwrite(self, kind: DocKind, held: Sequence[Any], report: PassReport) -> None:
        """QBO's current version of documents a write of ours has moved past (a bill linked
        to a PO, a PO reopened or closed again) or is about to: compared with our snapshot
        now, before the ledger takes the new SyncToken, so someone else's edit in between is
        found rather than masked (when drift checks are on)."""
        if kind not in drift.ENTITIES or not self.interval:
            return
        rows = tuple(row for row in held if isinstance(row, dict) and row.get("Id"))
        page = cdc.CDCPage({drift.ENTITIES[kind].entity: rows}, None)
        settled = self._settle(page, set())
        if settled:
            self.records.apply(settled, run_id=self.run_id, cdc_from=None)
            self._report(settled, report)

    def met_by_our_update(
        self, kind: DocKind, current: Mapping[str, Any], report: PassReport
    ) -> None:
        """A 5010: QBO refused our update because someone else wrote the document since our
        last write. Their version (`current`, read for its SyncToken) is compared with our
        snapshot now, as a check would have done (the refused write did nothing), reported and
        kept in the history, before our update goes over it: never masked."""
        qbo_id = str(current.get("Id") or "")
        if kind not in drift.ENTITIES or not self.interval or not qbo_id:
            return
        owner = self.records.owners(kind, [qbo_id]).get(qbo_id)
        if owner is None:
            return
        pending, snap = owner
        entry = replace(pending, status=SyncStatus.SYNCED)  # as it stood before our write
        if not drift.is_news(entry, snap, current):
            return
        held = drift.held_form(kind, current, self.fields[kind])
        sighting = drift.assess(kind, entry, snap, held)
        settled = drift.settle(entry, sighting, snap, self.policy) if sighting else None
        if settled is not None and settled.finding is not None:
            self.records.note(pending, settled, run_id=self.run_id)
            self._report([settled], report)

    def _ask(self, kinds: Sequence[DocKind], since: datetime, now: datetime, r: PassReport) -> None:
        entities = [drift.ENTITIES[kind].entity for kind in kinds]
        seen: set[tuple[str, str, str]] = set()
        for _ in range(cdc.MAX_PAGES_PER_CHECK):
            answer = self.qbo.cdc(entities, since)
            r.counts["drift_cdc_requests"] += 1
            page = cdc.parse_cdc(answer.entity, entities)
            settled = self._settle(page, seen)
            next_from, more, skipped = cdc.after_page(page, since)
            if skipped:
                self.log.warning(
                    "drift_cdc_second_skipped",
                    run_id=self.run_id,
                    second=since.isoformat(),
                    reason="over 1000 changes in one "
                    "second of one entity: CDC cannot page within it",
                )
            done_at = None if more else now
            self.records.apply(settled, run_id=self.run_id, cdc_from=next_from, checked_at=done_at)
            self._report(settled, r)
            self.log.info(
                "drift_checked",
                run_id=self.run_id,
                asked_from=since.isoformat(),
                changed=page.size,
                ours=len(settled),
                more=more,
            )
            if not more:
                return
            since = next_from

    def _settle(self, page: cdc.CDCPage, seen: set[tuple[str, str, str]]) -> list[drift.Settled]:
        """Each changed document the ledger owns, assessed against its snapshot, once per
        (Id, SyncToken) however many answers repeat it."""
        settled: list[drift.Settled] = []
        for entity, rows in page.objects.items():
            kind = drift.KIND_OF_ENTITY[entity]
            fresh = []
            for row in rows:
                key = (entity, str(row["Id"]), str(row.get("SyncToken") or row.get("status")))
                if key not in seen:
                    seen.add(key)
                    fresh.append(row)
            owners = self.records.owners(kind, [str(row["Id"]) for row in fresh])
            for row in fresh:
                owner = owners.get(str(row["Id"]))
                if owner is None:
                    continue  # not a document the sync wrote
                entry, snap = owner
                if not drift.is_news(entry, snap, row):
                    continue  # our own write, or a version already assessed
                held = drift.held_form(kind, row, self.fields[kind])
                sighting = drift.assess(kind, entry, snap, held)
                if sighting is not None:
                    settled.append(drift.settle(entry, sighting, snap, self.policy))
        return settled

    def _report(self, settled: Sequence[drift.Settled], report: PassReport) -> None:
        """One log event per document someone else changed; the report lists the drift."""
        for item in settled:
            finding, entry = item.finding, item.entry
            label = "po" if entry.kind is DocKind.PURCHASE_ORDER else entry.kind.value
            where = {
                f"{label}_id": entry.doc_id,
                f"{label}_number": entry.number,
                "qbo_id": entry.qbo_id,
            }
            if finding is None:
                if item.outcome is not None:
                    self.log.info(f"{label}_drift_resolved", run_id=self.run_id, **where)
                continue
            fields = {
                **where,
                "change": str(finding.change),
                "note": finding.note,
                "fields": [str(d) for d in finding.diffs],
                "policy": finding.policy,
                "restoring": finding.restoring,
            }
            if finding.reported:
                report.drift.append(finding)
                report.counts[f"drift_{finding.change}"] += 1
                self.log.warning(f"{label}_drift", run_id=self.run_id, **fields)
            else:
                report.counts[f"{finding.change}_in_qbo"] += 1
                self.log.info(f"{label}_{finding.change}_in_qbo", run_id=self.run_id, **fields)
