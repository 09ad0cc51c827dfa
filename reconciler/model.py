"""The plain data every document kind shares: kinds, ledger rows, outcomes, vendors, items.

Everything here is frozen and free of I/O. Money is `Decimal`, instants are aware UTC
`datetime`s, calendar days are `date`s. Sequences are tuples so values hash and compare.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class DocKind(enum.StrEnum):
    """The kinds of Luminous document the sync writes to QBO; each has its own ledger rows."""

    PURCHASE_ORDER = "po"
    BILL = "bill"
    RECEIPT = "receipt"  # a QBO Bill made from a Luminous receiving report ([bills] from)
    VENDOR_CREDIT = "vendor_credit"  # a QBO VendorCredit ([vendor_credits] from)
    PAYMENT = "payment"  # a Luminous bill payment: a QBO BillPayment ([payments] from)

    @property
    def entity(self) -> str:
        """The QBO entity a document of this kind becomes."""
        return KIND_FACTS[self].entity

    @property
    def label(self) -> str:
        """How a person names one: "PO", "bill", "receipt"."""
        return KIND_FACTS[self].label

    @property
    def plural(self) -> str:
        """How a page heads a list of them: "Purchase orders", "Bills"."""
        return KIND_FACTS[self].plural

    @property
    def checkpoint(self) -> str:
        """The name of its Luminous checkpoint in the state file."""
        return KIND_FACTS[self].checkpoint

    @property
    def luminous_page(self) -> str | None:
        """The page of Luminous's web app that shows one, if it has its own."""
        return KIND_FACTS[self].luminous_page

    @property
    def qbo_page(self) -> str:
        """The page of QBO's web app that shows one (`/app/<page>?txnId=`)."""
        return KIND_FACTS[self].qbo_page


@dataclass(frozen=True)
class KindFacts:
    """What every part of the sync says of one kind of document, in one row."""

    entity: str
    label: str
    plural: str
    checkpoint: str
    qbo_page: str
    # The page of Luminous's web app that shows one (`[status_page] luminous_url`'s
    # `{resource}`); None: Luminous shows it only inside another (a payment, on its bill).
    luminous_page: str | None = None


KIND_FACTS = {
    DocKind.PURCHASE_ORDER: KindFacts(
        "PurchaseOrder", "PO", "Purchase orders", "luminous", "purchaseorder", "purchase-orders"
    ),
    DocKind.BILL: KindFacts("Bill", "bill", "Bills", "luminous_bills", "bill", "bills"),
    DocKind.RECEIPT: KindFacts(
        "Bill", "receipt", "Bills from receipts", "luminous_receipts", "bill", "receiving-reports"
    ),
    DocKind.VENDOR_CREDIT: KindFacts(
        "VendorCredit",
        "vendor credit",
        "Vendor credits",
        "luminous_vendor_credits",
        "vendorcredit",
        "vendor-credits",
    ),
    DocKind.PAYMENT: KindFacts(
        "BillPayment", "payment", "Bill payments", "luminous_payments", "billpayment"
    ),
}


@dataclass(frozen=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None  # state / province -> QBO CountrySubDivisionCode
    postal_code: str | None = None
    country: str | None = None

    def is_empty(self) -> bool:
        return not any(
            (self.line1, self.line2, self.city, self.region, self.postal_code, self.country)
        )


# --- source side (Luminous), shared by every kind -------------------------------------------


@dataclass(frozen=True)
class SourceSupplier:
    id: int | None
    name: str
    email: str | None = None
    phone: str | None = None
    contact_name: str | None = None
    address: Address | None = None
    currency: str | None = None
    account_number: str | None = None


@dataclass(frozen=True)
class SourceProduct:
    id: int | None
    name: str
    sku: str | None = None
    description: str | None = None
    unit_cost: Decimal | None = None
    tax_class: str | None = None
    # (name, value): category, subcategory, variant attributes, custom fields, in that order
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RejectedRecord:
    """A source record that could not be parsed; it becomes that document's outcome, never a
    crash of the pass."""

    doc_id: int | None
    updated_at: datetime | None
    reason: str
    number: str | None = None
    kind: DocKind = DocKind.PURCHASE_ORDER

    @property
    def id(self) -> int | None:
        return self.doc_id

    @property
    def key(self) -> tuple[datetime, int] | None:
        """The pull key, when the record had a usable id and updated_at."""
        if self.updated_at is None or self.doc_id is None:
            return None
        return (self.updated_at, self.doc_id)


# --- desired QBO side ------------------------------------------------------------------


@dataclass(frozen=True)
class DesiredVendor:
    """The vendor a PO needs, keyed by the display name it must have in QBO."""

    display_name: str
    source_name: str
    company_name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    currency: str | None = None
    account_number: str | None = None


class ItemKind(enum.StrEnum):
    NON_INVENTORY = "NonInventory"
    INVENTORY = "Inventory"
    SERVICE = "Service"


@dataclass(frozen=True)
class DesiredItem:
    """An item a PO line needs; looked up by SKU first, then by name."""

    name: str
    sku: str | None = None
    description: str | None = None
    unit_cost: Decimal | None = None
    kind: ItemKind = ItemKind.NON_INVENTORY


class LineKind(enum.StrEnum):
    ITEM = "item"  # ItemBasedExpenseLineDetail
    ACCOUNT = "account"  # AccountBasedExpenseLineDetail


class Lifecycle(enum.StrEnum):
    """What the QBO document should be: open, closed, or gone."""

    OPEN = "open"
    CLOSED = "closed"
    DELETED = "deleted"


# --- ledger ----------------------------------------------------------------------------


class Drift(enum.StrEnum):
    """What someone else did to a document's QBO copy, as the last drift check found it."""

    EDITED = "edited"  # a field the sync writes differs from what it last wrote
    DELETED = "deleted"  # gone from QBO
    BILLED = "billed"  # bills are linked to it (closed by them, or billed in part)
    CLOSED = "closed"  # closed in QBO, no bill linked


class SyncStatus(enum.StrEnum):
    SYNCED = "synced"  # QBO matches the content hash in the ledger
    PENDING = "pending"  # a write is under way (requestid recorded, outcome not yet)
    RETRYING = "retrying"  # transient failure; next_retry_at says when
    FAILED = "failed"  # permanent failure; waits for a source change or `reconciler retry`
    SKIPPED = "skipped"  # deliberately not pushed (awaiting approval, draft, ...)


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger knows about one source document (a PO unless `kind` says otherwise)."""

    doc_id: int
    status: SyncStatus
    number: str | None = None  # the human number (PO number, supplier bill number)
    qbo_id: str | None = None
    sync_token: str | None = None
    content_hash: str | None = None  # hash of the desired document last pushed (or attempted)
    source_updated_at: datetime | None = None
    lifecycle: Lifecycle | None = None  # lifecycle last pushed
    request_id: str | None = None  # requestid of the write in flight or last sent
    request_sent_at: datetime | None = None
    attempts: int = 0
    last_error_code: str | None = None
    last_error_message: str | None = None
    next_retry_at: datetime | None = None
    force_retry: bool = False  # a user asked for a retry (`reconciler retry`)
    kind: DocKind = DocKind.PURCHASE_ORDER
    vendor: str | None = None  # the vendor's display name, as last written or planned
    adopted: bool = False  # its QBO document was found in QBO, not created by the sync
    drift: Drift | None = None  # what someone else did to it in QBO (`reconciler.documents.drift`)

    @property
    def key(self) -> DocKey:
        return (self.kind, self.doc_id)


DocKey = tuple[DocKind, int]


@dataclass(frozen=True)
class Checkpoint:
    """The compound pull cursor: everything at or before (updated_at, doc_id) is settled."""

    updated_at: datetime
    doc_id: int = 0

    def key(self) -> tuple[datetime, int]:
        return (self.updated_at, self.doc_id)


@dataclass(frozen=True)
class Outcome:
    """The result of handling one document in a pass, as recorded and logged."""

    doc_id: int
    status: SyncStatus
    action: str  # create / update / close / delete / skip / none / reject / adopt
    number: str | None = None
    qbo_id: str | None = None
    error_code: str | None = None
    message: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())
    kind: DocKind = DocKind.PURCHASE_ORDER
