"""Pure: QBO's change data capture (`GET /cdc`), as a poller asks it and reads its answers.

qbo-api.md "Change data capture": `{"CDCResponse": [{"QueryResponse": [{"PurchaseOrder": [...],
...}, ...]}], "time": ...}`; deleted objects as `status: "Deleted"` with their Id; 30 days back
at most; at most 1000 objects per entity per answer; the precision of `changedSince` against
`LastUpdatedTime` undocumented: ask from a little before the last answer's `time`, and
deduplicate. Which moment to ask from, and what an answer cut at 1000 means for the next
request, are decided here; `drift_check` asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

CDC_OVERLAP = timedelta(minutes=2)  # ask from this much before the last answer's time
CDC_LOOKBACK = timedelta(days=30)  # QBO answers no further back (qbo-api.md)
CDC_SAFE_LOOKBACK = CDC_LOOKBACK - timedelta(hours=1)  # room for two clocks that disagree
CDC_MAX_PER_ENTITY = 1000  # objects per entity in one answer, at most
MAX_PAGES_PER_CHECK = 10  # a backlog beyond 10,000 changes goes on at the next pass


def check_due(last: datetime | None, now: datetime, interval: timedelta) -> bool:
    """A check is due once `interval` has passed since the last; never when it is 0."""
    return interval > timedelta(0) and last is not None and now - last >= interval


def since_for(
    cdc_from: datetime | None,
    earliest_write: datetime | None,
    started: datetime | None,
    now: datetime,
) -> tuple[datetime | None, bool]:
    """Where a check asks from, and whether CDC's 30 days cut it short. The first check goes
    back to the first write a snapshot holds (QBO's clock), or to when drift checks started
    (ours: a ledger synced before them has no snapshot); None: nothing to go back to."""
    start = cdc_from
    if start is None:
        known = [t for t in (earliest_write, started) if t is not None]
        start = min(known) - CDC_OVERLAP if known else None
    if start is None:
        return None, False
    floor = now - CDC_SAFE_LOOKBACK
    return (floor, True) if start < floor else (start, False)


@dataclass(frozen=True)
class CDCPage:
    """One CDC answer: the changed objects per entity, and the moment it stands for."""

    objects: Mapping[str, tuple[Mapping[str, Any], ...]]
    time: datetime | None

    @property
    def size(self) -> int:
        return sum(len(rows) for rows in self.objects.values())


def parse_cdc(payload: Any, entities: Sequence[str]) -> CDCPage:
    """`{"CDCResponse": [{"QueryResponse": [{"PurchaseOrder": [...]}, ...]}], "time": ...}`;
    anything else in it is ignored."""
    found: dict[str, list[Mapping[str, Any]]] = {entity: [] for entity in entities}
    responses = payload.get("CDCResponse") if isinstance(payload, Mapping) else None
    for response in responses if isinstance(responses, list) else []:
        answers = response.get("QueryResponse") if isinstance(response, Mapping) else None
        for answer in answers if isinstance(answers, list) else []:
            for entity in entities:
                rows = answer.get(entity) if isinstance(answer, Mapping) else None
                if isinstance(rows, list):
                    found[entity] += [r for r in rows if isinstance(r, Mapping) and "Id" in r]
    when = instant(payload.get("time")) if isinstance(payload, Mapping) else None
    return CDCPage({entity: tuple(rows) for entity, rows in found.items()}, when)


def after_page(page: CDCPage, asked: datetime) -> tuple[datetime, bool, bool]:
    """(where the next request asks from, whether to ask again now, whether a second with over
    1000 changes had to be skipped). Complete: from the answer's time less the overlap, at the
    next check. Cut at 1000 objects: from the newest change it holds, at once."""
    cut = [rows for rows in page.objects.values() if len(rows) >= CDC_MAX_PER_ENTITY]
    if not cut:
        moment = page.time or asked
        return moment - CDC_OVERLAP, False, False
    newest = [max((_changed_at(r) for r in rows), default=None) for rows in cut]
    resume = min((n for n in newest if n is not None), default=None)
    if resume is None or resume <= asked:
        return asked + timedelta(seconds=1), True, True  # no way past it within one second
    return resume, True, False


def _changed_at(row: Mapping[str, Any]) -> datetime | None:
    meta = row.get("MetaData")
    return instant(meta.get("LastUpdatedTime")) if isinstance(meta, Mapping) else None


def instant(value: Any) -> datetime | None:
    """QBO's times ("2015-07-24T10:33:39-07:00", the answer's with milliseconds), as UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
