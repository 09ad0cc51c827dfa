"""The plain data of the bill side: Luminous bills and receiving reports in, QBO Bills out.

Frozen and free of I/O, like `reconciler.model` (money is `Decimal`, instants aware UTC). A
receiving report is read into the same `SourceBill` a Luminous bill is (`origin` says which),
so one mapping, one plan and one writer serve both `[bills] from` sources.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reconciler.model import DesiredItem, DesiredVendor, DocKind, Lifecycle, LineKind, SourceProduct


class BillStatus(enum.StrEnum):
    """Luminous bill and receiving-report statuses the sync understands (others are rejected)."""

    DRAFT = "draft"
    POSTED = "posted"
    ON_HOLD = "on_hold"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CLOSED = "closed"
    VOID = "void"
    IN_PROGRESS = "in_progress"  # receiving reports
    COMPLETED = "completed"  # receiving reports


# What each status means for the QBO Bill: pushed (a posted bill, a completed receipt), not yet
# pushed (draft, held, receiving still in progress), or void.
PUSHED = frozenset(
    {
        BillStatus.POSTED,
        BillStatus.PARTIALLY_PAID,
        BillStatus.PAID,
        BillStatus.CLOSED,
        BillStatus.COMPLETED,
    }
)
NOT_YET = frozenset({BillStatus.DRAFT, BillStatus.ON_HOLD, BillStatus.IN_PROGRESS})


@dataclass(frozen=True)
class SourceBillLine:
    """One bill item (or one receiving-report line): what it pays for, and which PO line."""

    id: int | None
    quantity: Decimal
    unit_price: Decimal | None  # None on a receipt line: the PO line's unit cost applies
    product: SourceProduct | None = None
    description: str | None = None
    amount: Decimal | None = None  # as Luminous states it (checked against qty x price)
    tax: Decimal = Decimal("0")
    po_id: int | None = None
    po_line_id: int | None = None


@dataclass(frozen=True)
class SourceBillCost:
    """An extra cost on a bill (freight, a fee): money on an account, never a PO line."""

    id: int | None
    name: str
    amount: Decimal


@dataclass(frozen=True)
class SourceBill:
    """A Luminous bill, or a completed receiving report read as the bill it becomes."""

    id: int
    origin: DocKind  # BILL (a Luminous bill) or RECEIPT (a receiving report)
    status: BillStatus
    updated_at: datetime
    number: str | None = None  # the supplier's bill number (bills only)
    vendor_name: str | None = None
    vendor_id: int | None = None
    bill_date: date | None = None
    due_date: date | None = None
    currency: str | None = None
    memo: str | None = None
    lines: tuple[SourceBillLine, ...] = ()
    costs: tuple[SourceBillCost, ...] = ()
    po_ids: tuple[int, ...] = ()  # the POs it names (receipts: its PO)

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.updated_at, self.id)

    def linked_po_ids(self) -> tuple[int, ...]:
        """Every Luminous PO a line of this bill is allocated to, or that it names."""
        found = [line.po_id for line in self.lines if line.po_id is not None]
        return tuple(sorted({*found, *self.po_ids}))


# --- what QBO holds of a document's lines --------------------------------------------------


@dataclass(frozen=True)
class QBOLine:
    """One line of a QBO document as its answer showed it: how a later write finds it again
    (a PO line a bill links to, a bill line kept on an update)."""

    key: str  # the source line it came from ("item:<Luminous line id>", "tax", ...)
    qbo_line_id: str
    detail_type: str
    target_id: str | None  # its ItemRef or AccountRef value
    qty: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    linked_txn_id: str | None = None  # bill lines: the PO (QBO Id) it is linked to
    linked_line_id: str | None = None  # bill lines: the PO line (QBO line Id)
    class_id: str | None = None  # its ClassRef: a bill line linked to it takes the same
    tax_code_id: str | None = None  # its TaxCodeRef (outside the US)


def answered_lines(
    keys: Sequence[str | None], entity: Mapping[str, Any] | None
) -> list[QBOLine] | None:
    """The QBO lines of a write's answer, keyed by the source lines sent (`keys`, in the order
    sent): QBO numbers lines 1..n in the order it got them (LineNum), so line n is key n. None
    when the answer has no lines to learn from (a delete)."""
    raw = (entity or {}).get("Line")
    if not isinstance(raw, list):
        return None
    lines = [line for line in raw if isinstance(line, Mapping) and line.get("Id") is not None]
    by_number = {line.get("LineNum"): line for line in lines}
    found: list[QBOLine] = []
    for number, key in enumerate(keys, start=1):
        line = by_number.get(number) or (lines[number - 1] if number <= len(lines) else None)
        if key is None or line is None:
            continue
        found.append(qbo_line(key, line))
    return found


def qbo_line(key: str, line: Mapping[str, Any]) -> QBOLine:
    """One QBO line as stored: its Id, kind, item or account, numbers and PO link."""
    detail_type = str(line.get("DetailType") or "")
    detail = line.get(detail_type) if isinstance(line.get(detail_type), Mapping) else {}
    target = detail.get("ItemRef") or detail.get("AccountRef")
    link = next(
        (
            x
            for x in line.get("LinkedTxn") or []
            if isinstance(x, Mapping) and x.get("TxnType") == "PurchaseOrder"
        ),
        None,
    )
    return QBOLine(
        key=key,
        qbo_line_id=str(line["Id"]),
        detail_type=detail_type,
        target_id=_ref(target),
        qty=_decimal(detail.get("Qty")),
        unit_price=_decimal(detail.get("UnitPrice")),
        amount=_decimal(line.get("Amount")),
        linked_txn_id=_text(link.get("TxnId")) if link else None,
        linked_line_id=_text(link.get("TxnLineId")) if link else None,
        class_id=_ref(detail.get("ClassRef")),
        tax_code_id=_ref(detail.get("TaxCodeRef")),
    )


def _ref(value: Any) -> str | None:
    return _text(value.get("value")) if isinstance(value, Mapping) else None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


# --- where a bill's POs stand --------------------------------------------------------------


class POState(enum.StrEnum):
    """What the ledger says of a PO a bill is allocated to."""

    IN_QBO = "in_qbo"  # synced, its line Ids known: lines can link
    WAITING = "waiting"  # not in QBO yet, but it may be (not seen, pending, retrying, failed)
    NEVER = "never"  # will not be pushed as it is (skipped), or gone from QBO


@dataclass(frozen=True)
class POStanding:
    """A PO as a bill's decision sees it: its state, why, and its lines in QBO."""

    state: POState
    number: str | None = None
    reason: str = ""
    qbo_id: str | None = None
    lines: Mapping[str, QBOLine] = field(default_factory=dict)  # key -> line
    department_id: str | None = None  # its DepartmentRef (location): its bills take it
    tax_calculation: str | None = None  # its GlobalTaxCalculation, outside the US


# --- the desired QBO Bill ------------------------------------------------------------------


@dataclass(frozen=True)
class BillLink:
    """Which PO line a bill line pays for, as Luminous says (Luminous ids)."""

    po_id: int
    po_line_id: int


@dataclass(frozen=True)
class DesiredBillLine:
    """A QBO Bill line before references are resolved. A linked line takes its item (or
    account) and its DetailType from the PO line it links to, as QBO's own "copy to bill"
    does; `item` serves an unlinked item line."""

    kind: LineKind
    amount: Decimal
    key: str = field(metadata={"hash": False})
    description: str | None = None
    item: DesiredItem | None = None
    qty: Decimal | None = None
    unit_price: Decimal | None = None
    account: str | None = None
    link: BillLink | None = None
    # Why a line allocated to a PO line goes unlinked ([bills] unpushed_po = "unlinked").
    unlinked_because: str | None = None
    # An unlinked line's class and tax code by name (`reconciler.documents.coding`, resolved like a
    # PO's); a linked line takes its PO line's ids instead, as QBO's copy to bill does.
    class_name: str | None = None
    tax_code: str | None = None
    class_id: str | None = None
    tax_code_id: str | None = None


@dataclass(frozen=True)
class DesiredBill:
    """The QBO Bill a Luminous bill or receiving report should be."""

    source_id: int
    kind: DocKind  # BILL or RECEIPT: the ledger rows it keys
    doc_number: str
    vendor: DesiredVendor
    lines: tuple[DesiredBillLine, ...]
    lifecycle: Lifecycle = Lifecycle.OPEN  # CLOSED: void in QBO (every amount 0, "Voided")
    txn_date: date | None = None
    due_date: date | None = None
    private_note: str | None = None
    currency: str | None = None
    ap_account: str | None = None
    po_numbers: tuple[tuple[int, str], ...] = ()  # (Luminous PO id, its number): for history
    department_id: str | None = None  # its PO's location in QBO (DepartmentRef)
    tax_calculation: str | None = None  # its PO's GlobalTaxCalculation
    content_hash: str = ""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))

    def links(self) -> list[tuple[int, BillLink]]:
        """(line number, link) of every line that must link to a PO line."""
        return [(n, line.link) for n, line in enumerate(self.lines, 1) if line.link is not None]


def matched_lines(
    keys: Sequence[str | None], ours: Sequence[Mapping[str, Any]], held: Sequence[Mapping[str, Any]]
) -> list[QBOLine]:
    """QBO's lines of a document written before its line Ids were recorded, keyed by our
    source lines: each of our lines (in order) takes the first unclaimed QBO line of the same
    kind and item or account, one with the same quantity and price first. A line with no
    counterpart gets none (it is sent as a new line)."""
    held_lines = [
        qbo_line("", line) for line in held if isinstance(line, Mapping) and line.get("Id")
    ]
    claimed: set[str] = set()
    found: list[QBOLine] = []
    for key, body in zip(keys, ours, strict=True):
        if key is None:
            continue
        want = qbo_line(key, {**body, "Id": "-"})
        same = [
            h
            for h in held_lines
            if h.qbo_line_id not in claimed
            and (h.detail_type, h.target_id) == (want.detail_type, want.target_id)
        ]
        exact = [h for h in same if (h.qty, h.unit_price) == (want.qty, want.unit_price)]
        pick = (exact or same or [None])[0]
        if pick is not None:
            claimed.add(pick.qbo_line_id)
            found.append(dataclasses.replace(pick, key=key))
    return found
