"""The full sweep: every PO again, every `full_sweep_interval` or with `run --once --full`.

- POs gone from Luminous (not listed any more, and a direct read agrees) are closed or deleted
  in QBO, by `sync.on_delete`;
- every PO is read again and compared by content: edits that did not move `updated_at`, and
  commits backdated past the overlap, are caught; unchanged POs cost no QBO request;
- POs Luminous lists but that no filtered read ever returned (an unusable `updated_at` a server
  leaves out of filtered lists) are read one by one, so each gets an outcome.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from reconciler.documents.po.parse import parse_or_reject
from reconciler.model import DocKind, Lifecycle
from reconciler.sync import cursor, sources
from reconciler.sync.pull import pull_changes, sweep_ids

if TYPE_CHECKING:
    from reconciler.sync.engine import Pass

PO = DocKind.PURCHASE_ORDER


def due(p: Pass) -> bool:
    """Whether the interval since the last sweep has passed (the first pass starts it)."""
    last = p.d.store.get_meta("last_full_sweep_at")
    if last is None:  # the first pass reads everything anyway: the interval starts now
        p.d.store.set_meta("last_full_sweep_at", p.d.clock().isoformat())
    return cursor.sweep_due(last, p.d.clock(), p.s.luminous.full_sweep_interval)


def run_all(p: Pass) -> None:
    """Every PO, then the documents of every other source (bills) gone from Luminous."""
    run(p)
    for source in p.sources[1:]:
        sources.sweep_vanished(p, source)


def run(p: Pass) -> None:
    d, ledger = p.d, p.ledger
    entries = ledger.entries(kind=PO)
    known = [e.doc_id for e in entries if e.lifecycle is not Lifecycle.DELETED and e.qbo_id]
    vanished, listed = sweep_ids(d.luminous, known)
    p.event("full_sweep", known=len(known), vanished=len(vanished), listed=len(listed))
    with p.pipeline() as pipeline:
        for doc_id in sorted(vanished):
            entry = ledger.entry(doc_id)
            if d.stop_requested():
                return
            if entry is not None:
                p.pos.take_vanished(entry, pipeline)
        everything = pull_changes(
            d.luminous,
            None,
            overlap=timedelta(0),
            settle_lag=p.s.luminous.settle_lag,
            already_handled=lambda po_id, _at: (PO, po_id) in p.recorder.handled,
        )
        for record in everything.records:
            if d.stop_requested():
                return
            p.pos.take(record, pipeline)
        seen = {e.doc_id for e in entries}
        unseen = sorted(i for i in listed - seen if (PO, i) not in p.recorder.handled)
        for doc_id in unseen:
            raw = d.luminous.get_po(doc_id)
            if d.stop_requested():
                return
            if raw is not None:
                p.pos.take(parse_or_reject(raw), pipeline)
    d.store.set_meta("last_full_sweep_at", d.clock().isoformat())
