"""Pure: where a body we would send and a document QBO holds differ, field by field.

One comparison serves three questions: does an adopted PO need an update, what would a dry run
change (old -> new), and what did someone else change in QBO (drift). Only the fields a body
names are compared (a field we do not sync is QBO's business), in QBO's terms:

- references by their `value` (the Id), not their display name;
- money and quantities as numbers (10.50 and 10.5 are the same amount);
- text with surrounding whitespace ignored, a missing text field the same as an empty one;
- lines in order: their kind, item or account, class, tax code, quantity, unit price, amount,
  description (a line added or removed is one difference of the line count, then the lines
  both have); a TaxInclusive line by its net Amount and its gross (`TaxInclusiveAmt`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

REFERENCES = ("VendorRef", "APAccountRef", "CurrencyRef", "DepartmentRef", "SalesTermRef")
TEXTS = (
    "DocNumber",
    "POStatus",
    "TxnDate",
    "DueDate",
    "PrivateNote",
    "Memo",
    "GlobalTaxCalculation",
)
ADDRESSES = ("ShipAddr", "VendorAddr")
NUMBERS = ("TotalAmt",)  # QBO computes it: only a snapshot of QBO's answer names it
LINE_DETAIL_FIELDS = (
    "ItemRef",
    "AccountRef",
    "ClassRef",
    "TaxCodeRef",
    "Qty",
    "UnitPrice",
    "TaxInclusiveAmt",
)


@dataclass(frozen=True)
class Difference:
    """One field that differs: what we would write, and what QBO holds."""

    field: str
    ours: str
    theirs: str

    def __str__(self) -> str:
        return f"{self.field}: {self.theirs or '(empty)'} -> {self.ours or '(empty)'}"


def differences(body: Mapping[str, Any], held: Mapping[str, Any]) -> list[Difference]:
    """The fields `body` names where `held` (QBO's document) says something else."""
    found: list[Difference] = []
    for name in REFERENCES:
        if name in body:
            _note(found, name, _ref(body.get(name)), _ref(held.get(name)))
    for name in TEXTS:
        if name in body:
            _note(found, name, _text(body.get(name)), _text(held.get(name)))
    for name in NUMBERS:
        if name in body:
            _note(found, name, _number(body.get(name)), _number(held.get(name)))
    for name in ADDRESSES:
        if name in body:
            ours, theirs = body.get(name) or {}, held.get(name) or {}
            for key in sorted(set(ours) | set(theirs)):
                if key in ("Id", "Lat", "Long"):
                    continue
                _note(found, f"{name}.{key}", _text(ours.get(key)), _text(theirs.get(key)))
    if "CustomField" in body:
        _note(
            found, "CustomField", _custom(body.get("CustomField")), _custom(held.get("CustomField"))
        )
    if "Line" in body:
        found.extend(_line_differences(body.get("Line") or [], held.get("Line") or []))
    return found


def _line_differences(ours: Sequence[Any], theirs: Sequence[Any]) -> list[Difference]:
    theirs = [line for line in theirs if _detail_type(line) != "SubTotalLineDetail"]
    found: list[Difference] = []
    _note(found, "Line count", str(len(ours)), str(len(theirs)))
    for number, (a, b) in enumerate(zip(ours, theirs, strict=False), start=1):
        where = f"Line {number}"
        _note(found, f"{where} kind", _detail_type(a), _detail_type(b))
        # TaxInclusive: we send the net Amount and the gross in TaxInclusiveAmt, as QBO keeps
        # them; the unit price is the net's, to 7 places, and follows from those two.
        inclusive = "TaxInclusiveAmt" in (a.get(_detail_type(a)) or {})
        _note(found, f"{where} Amount", _number(a.get("Amount")), _number(b.get("Amount")))
        if "Description" in a or "Description" in b:
            _note(
                found,
                f"{where} Description",
                _text(a.get("Description")),
                _text(b.get("Description")),
            )
        detail_a = a.get(_detail_type(a)) or {}
        detail_b = b.get(_detail_type(b)) or {}
        for key in LINE_DETAIL_FIELDS:
            if key not in detail_a or (key == "UnitPrice" and inclusive):
                continue
            if key.endswith("Ref"):
                _note(found, f"{where} {key}", _ref(detail_a.get(key)), _ref(detail_b.get(key)))
            else:
                _note(
                    found, f"{where} {key}", _number(detail_a.get(key)), _number(detail_b.get(key))
                )
    return found


def _note(found: list[Difference], name: str, ours: str, theirs: str) -> None:
    if ours != theirs:
        found.append(Difference(name, ours, theirs))


def _detail_type(line: Any) -> str:
    return str(line.get("DetailType") or "") if isinstance(line, Mapping) else ""


def _ref(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("value")
    return "" if value is None else str(value).strip()


def _text(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _number(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _custom(fields: Any) -> str:
    if not isinstance(fields, list):
        return ""
    pairs = sorted(
        (str(f.get("DefinitionId")), _text(f.get("StringValue")))
        for f in fields
        if isinstance(f, Mapping) and _text(f.get("StringValue"))
    )
    return "; ".join(f"{d}={v}" for d, v in pairs)
