"""Pure: one Luminous bill payment (as `luminous.payments` hands it over, its bill attached)
-> `SourcePayment`, or a reason it cannot be one. Names from `luminous.fields`, each field read
by `luminous.values`; the status words are assumed ("void", "voided"; anything else, or none,
is a payment made).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.documents.payment.model import PaymentStatus, SourcePayment
from reconciler.luminous import values as v
from reconciler.luminous.fields import BILL_FIELDS, PAYMENT_FIELDS
from reconciler.luminous.values import UnreadableField
from reconciler.model import DocKind, RejectedRecord

VOID_WORDS = frozenset({"void", "voided", "cancelled", "canceled"})
PAYMENT_TYPES = frozenset({"cash", "credit_card", "debit_card", "check", "bank_transfer"})


def parse_payment(raw: Mapping[str, Any]) -> SourcePayment:
    return v.read_document(raw, PAYMENT_FIELDS["id"], _payment)


def payment_or_reject(raw: Any) -> SourcePayment | RejectedRecord:
    return v.read_or_reject(raw, parse_payment, _salvaged, DocKind.PAYMENT)


def _payment(raw: Mapping[str, Any], doc_id: int) -> SourcePayment:
    f, b = PAYMENT_FIELDS, BILL_FIELDS
    bill = raw.get(f["bill"])
    if not isinstance(bill, Mapping):
        raise UnreadableField("payment comes without its bill")
    bill_id = v.optional_id(raw.get(f["bill_id"]), f["bill_id"]) or v.optional_id(
        bill.get(b["id"]), "bill.id"
    )
    if bill_id is None:
        raise UnreadableField("payment names no bill")
    kind = (v.text(raw.get(f["payment_type"]), f["payment_type"]) or "").lower() or None
    if kind is not None and kind not in PAYMENT_TYPES:
        raise UnreadableField(f"unknown payment_type {kind!r:.40}")
    return SourcePayment(
        id=doc_id,
        bill_id=bill_id,
        status=_status(raw.get(f["status"])),
        updated_at=v.required_timestamp(bill.get(b["updated_at"]), "bill.updated_at"),
        amount=v.required_money(raw.get(f["paid_amount"]), f["paid_amount"]),
        payment_type=kind,
        payment_date=v.day(raw.get(f["payment_date"]), f["payment_date"]),
        vendor_name=v.text(bill.get(b["vendor_name"]), "bill.vendor_name"),
        vendor_id=v.optional_id(bill.get(b["vendor_id"]), "bill.vendor_id"),
        bill_number=v.text(bill.get(b["number"]), "bill.bill_number"),
        currency=v.text(bill.get(b["currency"]), "bill.currency"),
        remarks=v.text(raw.get(f["remarks"]), f["remarks"], strip=False),
        reference=v.text(raw.get(f["reference"]), f["reference"]),
    )


def _status(value: Any) -> PaymentStatus:
    word = value.strip().lower() if isinstance(value, str) else ""
    return PaymentStatus.VOID if word in VOID_WORDS else PaymentStatus.COMPLETED


def _salvaged(raw: Mapping[str, Any], reason: str) -> RejectedRecord:
    bill = raw.get(PAYMENT_FIELDS["bill"])
    stamp = bill.get(BILL_FIELDS["updated_at"]) if isinstance(bill, Mapping) else None
    return RejectedRecord(
        doc_id=v.whole_id(raw.get(PAYMENT_FIELDS["id"])),
        updated_at=v.stamp_or_none(stamp),
        reason=reason,
        kind=DocKind.PAYMENT,
    )
