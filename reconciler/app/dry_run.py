"""`reconciler run --once --dry-run`: the next pass's decisions, with nothing written anywhere.

The preview IS the real pass: `engine.run_pass`, with the same pull, plan, identity look-ups,
reference resolution, pipeline and recorder, run with two things swapped:

- QBO is a `PreviewQBO`: reads go to QBO, writes are answered locally and kept (a created
  vendor gets a placeholder Id that the POs after it refer to);
- the state is an in-memory copy of the state file (`state.snapshot`): the ledger, the
  checkpoint, the reference maps and the runs table change only in the copy.

So the preview cannot drift from what a pass would do: it is what the pass did, read back from
the copy's history (`state.run_lines`) and the writes `PreviewQBO` kept. Documents of any kind
(POs, bills) come out the same way. The preview takes no run lock: it may run while the daemon
runs (it reads a consistent snapshot; what it lists may then be done, or changed, by that
daemon's next pass), and says so when another process holds the lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TextIO

from reconciler.app import wiring
from reconciler.config.loader import Settings
from reconciler.model import DocKind
from reconciler.preview import view
from reconciler.preview.plan import (
    DOCUMENT_ENTITIES,
    OBSERVED,
    PlannedWrite,
    Preview,
    build,
    is_placeholder,
)
from reconciler.preview.qbo import PreviewQBO
from reconciler.qbo import query as q
from reconciler.qbo.query import in_chunks
from reconciler.state.lock import held_by
from reconciler.state.run_lines import RunLines
from reconciler.state.snapshot import in_memory_copy
from reconciler.sync.engine import RequestCounter, run_pass


def current_documents(
    qbo: PreviewQBO, writes: list[PlannedWrite]
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """QBO's version of every document an update would change: from what the pass read
    already, the rest with `Id IN (...)` queries (a few reads, counted like the pass's)."""
    wanted: dict[str, set[str]] = {}
    for w in writes:
        if (
            w.entity in DOCUMENT_ENTITIES
            and w.operation == "update"
            and not is_placeholder(w.qbo_id)
        ):
            wanted.setdefault(w.entity, set()).add(w.qbo_id)
    found = {key: row for key, row in qbo.seen.items() if key[1] in wanted.get(key[0], ())}
    for entity, ids in wanted.items():
        missing = sorted(i for i in ids if (entity, i) not in found)
        for chunk in in_chunks(missing):
            for row in qbo.inner.query(q.select(entity, [q.in_("Id", chunk)])):
                found[(entity, str(row.get("Id")))] = row
    return found


def run(
    settings: Settings,
    *,
    log: Any,
    full_sweep: bool = False,
    clock: Callable[[], datetime] = wiring.utc_now,
    stop_requested: Callable[[], bool] = lambda: False,
    tokens: Any = None,
    progress: Any = None,
) -> Preview:
    """One pass against QBO and Luminous as they are, on a copy of the state; nothing kept."""
    if hasattr(log, "bind"):
        log = log.bind(dry_run=True)
    store = in_memory_copy(settings.state.path, clock=clock)
    counter = RequestCounter()
    try:
        deps = wiring.build_deps(
            settings,
            log=log,
            clock=clock,
            store=store,
            tokens=tokens,
            counter=counter,
            stop_requested=stop_requested,
        )
        qbo = PreviewQBO(deps.qbo)
        if progress is not None:  # the read's meta.total, for the estimate of time left
            progress.expected = lambda: getattr(deps.luminous.last_read, "expected", None)
        first = store.ledger.count(kind=DocKind.PURCHASE_ORDER) == 0
        report = run_pass(
            dataclasses.replace(deps, qbo=qbo), full_sweep=full_sweep, counter=counter
        )
        current = current_documents(qbo, qbo.writes) if not report.fatal else {}
        report.qbo_requests = counter.requests
        preview = build(
            report,
            RunLines(store.db).of_run(report.run_id, skip=OBSERVED),
            qbo.writes,
            current,
            realm_id=settings.qbo.realm_id,
            first_connection=first,
        )
    finally:
        store.close()
    if stop_requested() and preview.outcome in ("ok", "failures"):
        preview.outcome, preview.stopped = "interrupted", "stopped by a signal: the list is partial"
    preview.running_pid = held_by(settings.state.path)
    return preview


def command(
    settings: Settings,
    *,
    log: Any,
    out: TextIO,
    as_json: bool = False,
    full_sweep: bool = False,
    stop_requested: Callable[[], bool] = lambda: False,
    progress: Any = None,
) -> int:
    """`run --once --dry-run [--json]`: print the preview; exit 0 / 1 / 2 (`Preview.exit_code`).
    While a service's `Retry-After` holds the passes (`sync.holds`), the preview waits too:
    it would call that service."""
    hold = _hold(settings)
    if hold is not None:
        print(
            f"No preview now: {hold.describe()}; passes wait until then, and so does the "
            "preview (it would ask the same service).",
            file=out,
        )
        return 1
    preview = run(
        settings, log=log, full_sweep=full_sweep, stop_requested=stop_requested, progress=progress
    )
    print(view.as_json(preview) if as_json else view.text(preview), file=out)
    return preview.exit_code()


def _hold(settings: Settings) -> Any:
    """The hold in the state file, read without changing it (None when there is none, or no
    file, or one that cannot be read: the preview then says what it finds)."""
    from reconciler.state import StateStore
    from reconciler.sync.holds import Holds

    try:
        store = StateStore.open(settings.state.path, read_only=True)
    except Exception:
        return None
    try:
        return Holds(store, wiring.utc_now).active()
    finally:
        store.close()
