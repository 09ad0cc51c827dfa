"""Pure: QBO decides whether a document exists. Before any create, what QBO holds under the
same DocNumber says what to do:

- nothing: create it;
- one document, ours to take (no other Luminous document owns it, and its vendor is the one the
  body names): adopt it, and bring it to the desired content with a sparse update when it
  differs (`qbo.compare`);
- anything else (two documents, one owned by another Luminous document, one of another vendor):
  a conflict, a clear failure whose reason names the QBO ids. Never a create.

This holds whatever the company's duplicate-number preference is: it never relies on QBO's
6140. For bills, numbers are the supplier's and repeat across suppliers: only documents of the
same vendor are candidates (`per_vendor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class New:
    """QBO holds nothing under this number: create."""


@dataclass(frozen=True)
class Adopt:
    """QBO holds exactly this document, and it is ours to take."""

    entity: Mapping[str, Any]


@dataclass(frozen=True)
class Conflict:
    """QBO holds something under this number that is not ours: never create, never merge."""

    reason: str


Identity = New | Adopt | Conflict


def vendor_of(entity: Mapping[str, Any]) -> str | None:
    ref = entity.get("VendorRef")
    value = ref.get("value") if isinstance(ref, Mapping) else None
    return str(value) if value is not None else None


def identify(
    *,
    doc_id: int,
    doc_number: str,
    vendor_id: str,
    candidates: Sequence[Mapping[str, Any]],
    owners: Mapping[str, int],
    entity: str = "PurchaseOrder",
    label: str = "PO",
    per_vendor: bool = False,
) -> Identity:
    """What to do with a create of `doc_number` given QBO's documents under that number and
    which Luminous documents already own some of them (`owners`: QBO Id -> doc id)."""
    if per_vendor:
        candidates = [c for c in candidates if vendor_of(c) == vendor_id]
    if not candidates:
        return New()
    ids = ", ".join(str(c.get("Id")) for c in candidates)
    if len(candidates) > 1:
        return Conflict(
            f"{label} number {doc_number!r} is already QBO {entity}s {ids}: more than one; "
            f"keep one (delete or renumber the others in QBO), then `reconciler retry`"
        )
    found = candidates[0]
    owner = owners.get(str(found.get("Id")))
    if owner is not None and owner != doc_id:
        return Conflict(
            f"{label} number {doc_number!r} is already QBO {entity} {ids}, synced from "
            f"Luminous {label} {owner}; {label} numbers must be unique: renumber one in Luminous"
        )
    if vendor_of(found) != vendor_id:
        return Conflict(
            f"{label} number {doc_number!r} is already QBO {entity} {ids} for another vendor "
            f"(QBO vendor {vendor_of(found)}, this {label}'s is {vendor_id}); renumber one of "
            "them, then `reconciler retry`"
        )
    return Adopt(found)
