"""What the plan can decide for one document: one QBO write, or a reason nothing is sent.

    writes         Create, Update, Close (an update that also closes, or voids a bill), Delete
    nothing sent   Hold (skipped, parked, backing off), Noop (QBO already matches),
                   Reject (the record cannot be a QBO document), Wait (a document it depends
                   on is not in QBO yet), Park (one it depends on will never be pushed)

A write carries its deterministic requestid (`documents.request_ids`); `operation` is the verb
an outcome records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from reconciler.model import SyncStatus

# The codes of retries that never sent a write: a document stamped in the future by our clock
# (`outcomes.waiting`), one waiting for a document it depends on, or parked behind one never
# to be pushed; the code names what it depends on (a bill its PO; a payment or a credit's
# application its bill). Gone from Luminous, such a document is skipped; any other retry's
# create may have landed.
FUTURE_CODE = "future_updated_at"
WAIT_CODE, PARK_CODE = "po_not_in_qbo", "po_not_pushed"
BILL_WAIT_CODE, BILL_PARK_CODE = "bill_not_in_qbo", "bill_not_pushed"
WAITING_CODES = frozenset({WAIT_CODE, PARK_CODE, BILL_WAIT_CODE, BILL_PARK_CODE})
UNSENT_RETRY_CODES = WAITING_CODES | {FUTURE_CODE}


@dataclass(frozen=True)
class Create:
    request_id: str
    operation: ClassVar[str] = "create"


@dataclass(frozen=True)
class Update:
    request_id: str
    operation: ClassVar[str] = "update"


@dataclass(frozen=True)
class Close:
    """An update that closes the document (a PO's POStatus, a bill's void), carrying any
    content change too."""

    request_id: str
    operation: ClassVar[str] = "close"


@dataclass(frozen=True)
class Delete:
    request_id: str
    operation: ClassVar[str] = "delete"


@dataclass(frozen=True)
class Hold:
    """Nothing sent now; the ledger row takes `status` with the reason: skipped (never to be
    pushed as it is), parked as failed, or backing off while retrying."""

    reason: str
    status: SyncStatus = SyncStatus.SKIPPED
    # With a code, the row's error is this hold's (code and reason); without one, a failed or
    # retrying row keeps the error that brought it there.
    code: str | None = None
    operation: ClassVar[str] = "skip"


@dataclass(frozen=True)
class Reject:
    """The source record cannot become a QBO document; the ledger records why."""

    reason: str
    operation: ClassVar[str] = "reject"


@dataclass(frozen=True)
class Noop:
    """QBO already matches: no call, the ledger row stays as it is."""

    reason: str
    operation: ClassVar[str] = "none"


@dataclass(frozen=True)
class Wait:
    """A document this one depends on is not in QBO yet: retrying, no attempt spent."""

    reason: str
    code: str = WAIT_CODE
    operation: ClassVar[str] = "wait"


@dataclass(frozen=True)
class Park:
    """A document this one depends on will not be pushed: skipped too, with the reason, until
    that one (or this one) changes."""

    reason: str
    code: str = PARK_CODE
    operation: ClassVar[str] = "skip"


WriteAction = Create | Update | Close | Delete
NotSent = Hold | Noop | Reject | Wait | Park
Action = WriteAction | NotSent
