"""A small table read whole, once, instead of many `IN (...)` look-ups.

A cold backfill's first window names about 300 new items: by SKU and then by name that is six
`IN (...)` queries, and each later window asks again for the few it adds. A company with
fewer than 2,000 items answers all of them with a count and one or two pages of ids, names
and SKUs. Reads are metered, so the count is asked only when the look-ups would cost more,
and the listing is taken only when it costs fewer reads than they would.

A listing answers later look-ups of the pass for `FRESH_FOR` seconds. An item made in QBO by
someone else meanwhile looks missing; creating it again is refused as a duplicate name, and
the single path finds it then (as after any look-up made a moment before a create).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.qbo import query as q

LIST_FROM_QUERIES = 3  # a prefetch that needs fewer `IN (...)` queries never counts
MAX_PAGES = 2  # at most 2,000 rows of a few fields (about 1 MB)
FRESH_FOR = 60.0  # seconds


class TableListing:
    """One QBO entity's rows (a few fields, active and inactive), when that is cheaper."""

    def __init__(
        self,
        client: Any,
        entity: str,
        fields: Sequence[str],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._entity = entity
        self._fields = tuple(fields)
        self._monotonic = monotonic
        self._rows: list[dict[str, Any]] | None = None
        self._taken_at = 0.0
        self._too_big = False  # counted once this pass and found too large: never again
        self.reads = 0

    def rows_for(self, queries_needed: int) -> list[dict[str, Any]] | None:
        """The whole table, when it answers `queries_needed` look-ups for fewer reads; None:
        ask with `IN (...)`."""
        if self._rows is not None and self._monotonic() - self._taken_at <= FRESH_FOR:
            return self._rows
        if queries_needed < LIST_FROM_QUERIES or self._too_big:
            return None
        every = [q.in_("Active", (True, False))]
        self.reads += 1
        count = self._client.count(q.select(self._entity, every, count=True))
        pages = -(-count // q.MAX_RESULTS_LIMIT)
        if pages > MAX_PAGES or pages >= queries_needed:
            self._too_big = pages > MAX_PAGES
            return None
        rows: list[dict[str, Any]] = []
        if count:
            before = len(rows)
            for start in range(1, (MAX_PAGES + 1) * q.MAX_RESULTS_LIMIT, q.MAX_RESULTS_LIMIT):
                statement = q.select(
                    self._entity, every, order_by="Id", start=start, fields=self._fields
                )
                self.reads += 1
                rows += self._client.query(statement)
                if len(rows) - before < q.MAX_RESULTS_LIMIT:
                    break
                before = len(rows)
            else:  # grew past MAX_PAGES since the count: look up instead
                return None
        self._rows, self._taken_at = rows, self._monotonic()
        return rows

    def matching(
        self, rows: list[dict[str, Any]], field: str, values: Sequence[str]
    ) -> list[dict[str, Any]]:
        """What `field IN (values)` would answer (QBO compares text without regard to case)."""
        wanted = {v.casefold() for v in values}
        return [row for row in rows if str(row.get(field) or "").casefold() in wanted]
