"""Pure: where a Luminous bill stands in QBO, for the documents that pay it (a payment, a vendor
credit applied to it), as a bill's standing of its PO is for the bill (`bill.plan`).

From the bill's ledger row alone: in QBO (its Id: a payment links to it), waiting (not read,
not posted yet, pending, retrying, failed: it may still reach QBO), or never (void in QBO, or
deleted there): the payment is then parked with the reason.
"""

from __future__ import annotations

from reconciler.documents.bill.model import POStanding, POState
from reconciler.model import LedgerEntry, Lifecycle, SyncStatus


def bill_standing(bill_id: int, entry: LedgerEntry | None) -> POStanding:
    """The standing of Luminous bill `bill_id` from its ledger row (None: never read)."""
    name = f"bill {entry.number}" if entry is not None and entry.number else f"bill {bill_id}"
    if entry is None:
        return POStanding(POState.WAITING, None, f"Luminous {name} has not been read yet")
    if entry.qbo_id and entry.lifecycle in (None, Lifecycle.OPEN):
        return POStanding(POState.IN_QBO, entry.number, "", entry.qbo_id)
    settled = entry.status in (SyncStatus.SYNCED, SyncStatus.SKIPPED)
    if entry.lifecycle is Lifecycle.CLOSED and entry.qbo_id:
        return POStanding(POState.NEVER, entry.number, f"{name} is void in QBO")
    if entry.lifecycle is Lifecycle.DELETED and settled:
        return POStanding(POState.NEVER, entry.number, f"{name} was deleted in QBO")
    why = f": {entry.last_error_message}" if entry.last_error_message else ""
    return POStanding(
        POState.WAITING, entry.number, f"{name} is not in QBO yet ({entry.status}{why})"
    )
