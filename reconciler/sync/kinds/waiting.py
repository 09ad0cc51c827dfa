"""The hooks of a kind whose documents wait for another kind to reach QBO: bills for their POs,
payments and vendor credits applied to bills for those bills. The documents that will wake one
are noted when it waits (`decided`), and each pass first retries those whose awaited documents
were written since (`before`). `WaitsForBills` adds where each bill stands, from its ledger
row (`standings`).
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.documents import actions
from reconciler.documents.bill.model import POStanding
from reconciler.documents.bill.standing import bill_standing
from reconciler.documents.plan import Decision
from reconciler.model import DocKind, LedgerEntry
from reconciler.sync.kinds.declaration import PassParts


class WaitsFor:
    """`decided`, `before` and `after` for one kind whose documents wait on kind `on`."""

    def __init__(self, parts: PassParts, kind: DocKind, *, on: DocKind, woken_event: str) -> None:
        self.kind = kind
        self._parts = parts
        self._on = on
        self._woken_event = woken_event

    def decided(self, decision: Decision, doc_id: int, entry: LedgerEntry | None) -> None:
        """One that waits or is parked notes the documents that will wake it; one that no
        longer waits forgets them."""
        waiting = isinstance(decision.action, actions.Wait | actions.Park)
        if waiting or (entry is not None and entry.last_error_code in actions.WAITING_CODES):
            wakers = decision.waits_for if waiting else ()
            self._parts.lines.wait_for(self.kind, doc_id, wakers)

    def before(self) -> None:
        """Those waiting for a document whose row changed since: retried in this pass."""
        woken = self._parts.lines.woken(self.kind, on=self._on)
        for doc_id in woken:
            self._parts.ledger.request_retry(doc_id, self.kind)
        if woken:
            self._parts.event(self._woken_event, kind=str(self.kind), count=len(woken))

    def after(self) -> None:
        return None


class WaitsForBills(WaitsFor):
    """A kind that waits for bills (payments, vendor credits), and the bills' standings."""

    def __init__(self, parts: PassParts, kind: DocKind) -> None:
        super().__init__(parts, kind, on=DocKind.BILL, woken_event="woken_by_bills")

    def standings(self, bill_ids: Iterable[int]) -> dict[int, POStanding]:
        ledger = self._parts.ledger
        return {b: bill_standing(b, ledger.entry(b, DocKind.BILL)) for b in set(bill_ids)}
