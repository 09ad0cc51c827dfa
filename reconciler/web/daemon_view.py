"""The daemon's health as the page's header says it: pure, from `/healthz`'s document, the
last passes in the runs table and the clock.

An accountant must tell a quiet day from a stopped sync: the header gives the last pass (when,
how it ended, what it did), the next one, the last error of any pass, and per service whether
the last pass reached it (QuickBooks: also whether the authorization holds).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reconciler.state.db import instant

SHOWN_COUNTS = (
    "created",
    "updated",
    "adopted",
    "closed",
    "synced",
    "failed",
    "retrying",
    "skipped",
    "unchanged",
)
GOOD_OUTCOMES = ("ok", "failures")


@dataclass(frozen=True)
class PassView:
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str | None  # None: still running
    counts: tuple[tuple[str, int], ...]
    error: str | None
    stopped_in: str | None


@dataclass(frozen=True)
class Service:
    name: str
    good: bool | None  # None: not known yet
    words: str


@dataclass(frozen=True)
class DaemonView:
    healthy: bool | None  # None: no daemon in this process (the page alone)
    reason: str
    last: PassView | None  # the last finished pass
    running_since: datetime | None
    next_pass: datetime | None
    last_error: tuple[str, datetime | None] | None
    services: tuple[Service, ...]


def pass_view(row: Mapping[str, Any]) -> PassView:
    try:
        report = json.loads(row.get("report") or "{}")
    except ValueError:
        report = {}
    counts = report.get("counts") if isinstance(report.get("counts"), dict) else {}
    error = report.get("fatal") or report.get("aborted") or report.get("crashed")
    return PassView(
        started_at=instant(row.get("started_at")),
        finished_at=instant(row.get("finished_at")),
        outcome=row.get("outcome"),
        counts=tuple((k, int(counts[k])) for k in SHOWN_COUNTS if counts.get(k)),
        error=str(error) if error else None,
        stopped_in=report.get("stopped_in"),
    )


def daemon_view(
    health: Mapping[str, Any] | None,
    runs: Sequence[Mapping[str, Any]],
    now: datetime,
    interval: timedelta | None,
) -> DaemonView:
    """`health`: `HealthState.health_document` (None without a daemon); `runs`: the last
    passes, newest first."""
    passes = [pass_view(r) for r in runs]
    running = passes[0] if passes and passes[0].finished_at is None else None
    last = next((p for p in passes if p.finished_at is not None), None)
    erred = next((p for p in passes if p.error), None)
    return DaemonView(
        healthy=health.get("healthy") if health else None,
        reason=str(health.get("reason", "")) if health else "",
        last=last,
        running_since=running.started_at if running else None,
        next_pass=_next_pass(last, running, now, interval),
        last_error=(erred.error or "", erred.finished_at or erred.started_at) if erred else None,
        services=_services(health, last),
    )


def _next_pass(
    last: PassView | None, running: PassView | None, now: datetime, interval: timedelta | None
) -> datetime | None:
    """Passes start every `interval` from the first; one still due while a pass runs is
    skipped (the daemon's schedule), so the next is the first start after now."""
    if not interval or running is not None or last is None or last.started_at is None:
        return None
    due = last.started_at + interval
    if due < now:
        due += interval * ((now - due) // interval + 1)
    return due


def _services(health: Mapping[str, Any] | None, last: PassView | None) -> tuple[Service, ...]:
    if last is None:
        words = "no pass has finished yet"
        qbo, luminous = Service("QuickBooks", None, words), Service("Luminous", None, words)
    else:
        qbo = _service("QuickBooks", last, "qbo", "answered the last pass")
        luminous = _service("Luminous", last, "luminous", "read in the last pass")
    if health is not None and health.get("authorized") is False:
        qbo = Service("QuickBooks", False, "authorization lost: run `reconciler auth connect`")
    return qbo, luminous


def _service(name: str, last: PassView, key: str, good_words: str) -> Service:
    if last.stopped_in == key:
        return Service(name, False, f"the last pass failed on it: {last.error}")
    if last.outcome in GOOD_OUTCOMES:
        return Service(name, True, good_words)
    return Service(name, None, "not reached in the last pass")
