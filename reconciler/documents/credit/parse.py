"""Pure: one Luminous vendor credit -> `SourceCredit`, or a reason it cannot be.

Field names from `luminous.fields` (VENDOR_CREDIT_FIELDS: the CLI's columns `id`,
`vendor_name`, `amount`, `status`, `created_at`; the rest assumed), each read by
`luminous.values`; its lines read as a bill's items are (`bill.parse`). Status words (assumed):
draft, open, partially_applied, applied, cancelled ("canceled", "void", "voided" are
cancelled). An application is in force unless its status says it was reversed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.documents.bill.parse import bill_item_line
from reconciler.documents.credit.model import CreditStatus, SourceApplication, SourceCredit
from reconciler.luminous import values as v
from reconciler.luminous.fields import CREDIT_APPLICATION_FIELDS, VENDOR_CREDIT_FIELDS
from reconciler.luminous.values import UnreadableField
from reconciler.model import DocKind, RejectedRecord

ALIASES = {"canceled": "cancelled", "void": "cancelled", "voided": "cancelled"}
REVERSED = frozenset({"reversed", "deleted", "cancelled", "canceled"})


def parse_credit(raw: Mapping[str, Any]) -> SourceCredit:
    return v.read_document(raw, VENDOR_CREDIT_FIELDS["id"], _credit)


def credit_or_reject(raw: Any) -> SourceCredit | RejectedRecord:
    return v.read_or_reject(raw, parse_credit, _salvaged, DocKind.VENDOR_CREDIT)


def _credit(raw: Mapping[str, Any], doc_id: int) -> SourceCredit:
    f = VENDOR_CREDIT_FIELDS
    items = v.list_of(raw.get(f["items"]), "items")
    applied = v.list_of(raw.get(f["applications"]), "applications")
    return SourceCredit(
        id=doc_id,
        status=_status(raw.get(f["status"])),
        updated_at=v.required_timestamp(raw.get(f["updated_at"]), "updated_at"),
        number=v.text(raw.get(f["number"]), f["number"]),
        vendor_name=v.text(raw.get(f["vendor_name"]), f["vendor_name"]),
        vendor_id=v.optional_id(raw.get(f["vendor_id"]), f["vendor_id"]),
        amount=v.money(raw.get(f["amount"]), f["amount"]),
        credit_date=v.day(raw.get(f["credit_date"]), f["credit_date"]),
        currency=v.text(raw.get(f["currency"]), f["currency"]),
        memo=v.text(raw.get(f["memo"]), f["memo"], strip=False),
        lines=tuple(bill_item_line(item, f"items[{n}]") for n, item in enumerate(items, 1)),
        applications=tuple(_application(a, n) for n, a in enumerate(applied, 1)),
        vendor_return_id=v.optional_id(raw.get(f["vendor_return_id"]), f["vendor_return_id"]),
    )


def _status(value: Any) -> CreditStatus:
    if not isinstance(value, str) or not value.strip():
        raise UnreadableField(f"missing status: {value!r:.40}")
    word = value.strip().lower().replace(" ", "_").replace("-", "_")
    word = ALIASES.get(word, word)
    if word not in CreditStatus.__members__.values():
        raise UnreadableField(f"unknown status {value!r:.40}")
    return CreditStatus(word)


def _application(row: Any, n: int) -> SourceApplication:
    where, a = f"applications[{n}]", CREDIT_APPLICATION_FIELDS
    if not isinstance(row, Mapping):
        raise UnreadableField(f"{where} is not an object")
    app_id = v.optional_id(row.get(a["id"]), f"{where}.id")
    if app_id is None:
        raise UnreadableField(f"{where} has no id")
    status = (v.text(row.get(a["status"]), f"{where}.status") or "").lower()
    return SourceApplication(
        id=app_id,
        bill_id=v.optional_id(row.get(a["bill_id"]), f"{where}.bill_id"),
        amount=v.required_money(row.get(a["amount"]), f"{where}.amount"),
        reversed=status in REVERSED,
    )


def _salvaged(raw: Mapping[str, Any], reason: str) -> RejectedRecord:
    f = VENDOR_CREDIT_FIELDS
    number = raw.get(f["number"])
    return RejectedRecord(
        doc_id=v.whole_id(raw.get(f["id"])),
        updated_at=v.stamp_or_none(raw.get(f["updated_at"])),
        reason=reason,
        number=str(number)[:60] if isinstance(number, str | int) else None,
        kind=DocKind.VENDOR_CREDIT,
    )
