"""Vendor credits and vendor returns in the Luminous emulator: a supplier's credit, applied to
the brand's bills, the application reversed, the credit cancelled; a return that generates one.

Confirmed by the official CLI (cli/resources/vendor_credits.py, vendor_returns.py): the paths
`/vendor-credits` (list with filters, sort, paging; get; create), `POST /vendor-credits/{id}/
apply` ("to a bill or payment obligation"), `/cancel`, `/applications/{application_id}/reverse`,
`DELETE /vendor-credits/{id}/applications/{application_id}`, `GET /vendor-credits/vendor/
{vendor_id}/statement`; the credit columns `id`, `vendor_name`, `amount`, `status`,
`created_at`; `/vendor-returns` (list, get, create) with `process`, `cancel` and
`generate-credit`, and their columns `id`, `vendor_name`, `status`, `created_at`.

Assumed (one place to correct, mirrored by reconciler/luminous/fields.py): every other name.
Stored credit: id, credit_number, vendor_id, status, credit_date, currency, memo, amount (kept
only for a credit without items), items [{id, product_id, description, quantity, unit_price,
tax, amount}], applications [{id, vendor_credit_id, bill_id, payment_obligation_id, amount,
status "applied"|"reversed", applied_at, reversed_at}], vendor_return_id, created_at,
updated_at. Rendered adds vendor_name, amount (items and tax when it has items),
amount_applied, amount_remaining, each item's product. Statuses draft, open, partially_applied,
applied, cancelled: apply needs open or partially applied, at most the remaining amount and the
bill's total_due, the bill's vendor (422 otherwise); cancel refuses a credit with applications in
force (409); a reversed application stays listed, a deleted one is gone. Every action moves the
credit's `updated_at`; bills are not changed by credits. A return: draft -> processed (or
cancelled); generate-credit needs processed and makes one credit per return (409 twice).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.luminous.bills import bill_totals
from reconciler.sandbox.luminous.common import (
    ZERO,
    DocumentBook,
    LuminousConflict,
    LuminousInvalid,
    LuminousNotFound,
    cents,
    parse_id,
    render_money,
    stamp_or,
    to_decimal,
)

if TYPE_CHECKING:
    from reconciler.sandbox.luminous.server import LuminousEmulator

CREDIT_STATUSES = ("draft", "open", "partially_applied", "applied", "cancelled")
APPLICABLE = ("open", "partially_applied")
Answer = tuple[int, Any] | None


class CreditBook(DocumentBook):
    """The emulator's vendor credits and vendor returns; methods run under the emulator's lock."""

    noun = "Vendor credit"

    def __init__(self, emu: LuminousEmulator) -> None:
        super().__init__(emu)
        self.returns: dict[int, dict[str, Any]] = {}

    # --- credits -------------------------------------------------------------------------

    def create(
        self, fields: dict[str, Any], updated_at: datetime | None = None, check_refs: bool = True
    ) -> dict[str, Any]:
        with self.emu._lock:
            fields = dict(fields)
            stamp = stamp_or(self.emu.now(), updated_at)
            cid = self._ids.take("credit", fields.pop("id", None))
            items = fields.pop("items", [])
            record = {
                "id": cid,
                "credit_number": f"VC-{cid:05d}",
                "vendor_id": None,
                "status": "open",
                "credit_date": stamp.date().isoformat(),
                "currency": "USD",
                "memo": None,
                "vendor_return_id": None,
                "created_at": stamp,
                **fields,
                "items": [self._item(cid, i) for i in items],
                "applications": [],
                "updated_at": stamp,
            }
            if check_refs and record["vendor_id"] not in self.emu._suppliers:
                raise LuminousInvalid("vendor_id", f"no vendor {record['vendor_id']!r}")
            if check_refs and record["status"] not in CREDIT_STATUSES:
                raise LuminousInvalid("status", f"one of {', '.join(CREDIT_STATUSES)}")
            self.records[cid] = record
            return self.render(record)

    def _item(self, cid: int, item: dict[str, Any]) -> dict[str, Any]:
        item = dict(item)
        return {
            "id": self._ids.take("credit_item", item.pop("id", None)),
            "vendor_credit_id": cid,
            "product_id": None,
            "description": None,
            "quantity": "1",
            "unit_price": "0.00",
            "tax": "0.00",
            "amount": None,
            **item,
        }

    def edit(self, credit_id: int, changes: dict[str, Any], updated_at: datetime | None = None):
        with self.emu._lock:
            record = self._record(credit_id)
            changes = dict(changes)
            if "items" in changes:
                record["items"] = [self._item(credit_id, i) for i in changes.pop("items")]
            record.update({k: v for k, v in changes.items() if k != "applications"})
            return self._touch(record, updated_at)

    def apply(
        self, credit_id: int, fields: dict[str, Any], updated_at: datetime | None = None
    ) -> dict[str, Any]:
        """Apply the credit to a bill (`bill_id`) or a payment obligation, for `amount`
        (default: all that remains, at most the bill's total_due)."""
        with self.emu._lock:
            record = self._record(credit_id)
            if record["status"] not in APPLICABLE:
                raise LuminousConflict(f"Vendor credit {credit_id} is {record['status']}.")
            remaining = credit_totals(record)["amount_remaining"]
            bill_id = fields.get("bill_id")
            due = remaining
            if bill_id is not None:
                bill = self.emu.bills._record(int(bill_id))
                if bill.get("vendor_id") != record.get("vendor_id"):
                    raise LuminousInvalid("bill_id", "the bill is another vendor's")
                due = bill_totals(bill)["total_due"]
            amount = cents(to_decimal(fields.get("amount", min(remaining, due))))
            if amount <= ZERO or amount > remaining or amount > due:
                raise LuminousInvalid("amount", f"above zero, at most {min(remaining, due)}")
            stamp = stamp_or(self.emu.now(), updated_at)
            application = {
                "id": self._ids.take("application", fields.get("id")),
                "vendor_credit_id": credit_id,
                "bill_id": int(bill_id) if bill_id is not None else None,
                "payment_obligation_id": fields.get("payment_obligation_id"),
                "amount": str(amount),
                "status": "applied",
                "applied_at": stamp,
                "reversed_at": None,
            }
            record["applications"].append(application)
            self._touch(record, stamp)
            return dict(application)

    def reverse(
        self, credit_id: int, application_id: int, updated_at: datetime | None = None
    ) -> dict[str, Any]:
        with self.emu._lock:
            record, application = self._application(credit_id, application_id)
            if application["status"] == "reversed":
                raise LuminousConflict(f"Application {application_id} is reversed already.")
            stamp = stamp_or(self.emu.now(), updated_at)
            application["status"], application["reversed_at"] = "reversed", stamp
            self._touch(record, stamp)
            return dict(application)

    def delete_application(
        self, credit_id: int, application_id: int, updated_at: datetime | None = None
    ) -> None:
        with self.emu._lock:
            record, application = self._application(credit_id, application_id)
            record["applications"] = [a for a in record["applications"] if a is not application]
            self._touch(record, updated_at)

    def cancel(self, credit_id: int, updated_at: datetime | None = None) -> dict[str, Any]:
        with self.emu._lock:
            record = self._record(credit_id)
            if any(a["status"] == "applied" for a in record["applications"]):
                raise LuminousConflict(f"Vendor credit {credit_id} is applied: reverse it first.")
            record["status"] = "cancelled"
            return self._touch(record, updated_at)

    def delete(self, credit_id: int) -> None:
        with self.emu._lock:
            self.records.pop(credit_id, None)

    def set_updated_at(self, credit_id: int, value: datetime) -> None:
        with self.emu._lock:
            self._record(credit_id)["updated_at"] = stamp_or(value, value)

    def _application(self, credit_id: int, application_id: int) -> tuple[dict, dict]:
        record = self._record(credit_id)
        for application in record["applications"]:
            if application["id"] == application_id:
                return record, application
        raise LuminousNotFound("Application")

    def _touch(self, record: dict[str, Any], updated_at: datetime | None) -> dict[str, Any]:
        record["updated_at"] = stamp_or(self.emu.now(), updated_at)
        if record["status"] != "cancelled" and record["status"] != "draft":
            totals = credit_totals(record)
            if totals["amount_applied"] <= ZERO:
                record["status"] = "open"
            elif totals["amount_remaining"] <= ZERO:
                record["status"] = "applied"
            else:
                record["status"] = "partially_applied"
        return self.render(record)

    def render(self, record: dict[str, Any]) -> dict[str, Any]:
        style, cid = self.emu.money_style, record["id"]
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        out["items"] = [self._render_item(i, style, cid) for i in record["items"]]
        out["applications"] = [dict(a) for a in record["applications"]]
        vendor = self.emu.supplier(record.get("vendor_id"))
        out.setdefault("vendor_name", vendor["name"] if vendor else None)
        for key, value in credit_totals(record).items():
            out[key] = render_money(value, style, cid)
        return out

    def _render_item(self, item: dict[str, Any], style: str, cid: int) -> dict[str, Any]:
        out = dict(item)
        if out.get("amount") is None:
            out["amount"] = render_money(_item_amount(item), style, cid)
        product = self.emu.product(item.get("product_id"))
        out["product"] = dict(product) if product else None
        return out

    # --- vendor returns ------------------------------------------------------------------

    def create_return(self, fields: dict[str, Any], updated_at: datetime | None = None) -> dict:
        with self.emu._lock:
            stamp = stamp_or(self.emu.now(), updated_at)
            rid = self._ids.take("return", fields.get("id"))
            record = {
                "id": rid,
                "vendor_id": fields.get("vendor_id"),
                "status": "draft",
                "items": list(fields.get("items") or []),
                "vendor_credit_id": None,
                "created_at": stamp,
                "updated_at": stamp,
            }
            if record["vendor_id"] not in self.emu._suppliers:
                raise LuminousInvalid("vendor_id", f"no vendor {record['vendor_id']!r}")
            self.returns[rid] = record
            return self._render_return(record)

    def act_on_return(self, return_id: int, action: str, updated_at: datetime | None = None):
        """process, cancel or generate-credit (a credit with the return's items)."""
        with self.emu._lock:
            record = self.returns.get(return_id)
            if record is None:
                raise LuminousNotFound("Vendor return")
            wanted = {"process": "draft", "cancel": "draft", "generate-credit": "processed"}
            if action not in wanted or record["status"] != wanted[action]:
                raise LuminousConflict(f"Cannot {action} vendor return {return_id}.")
            if action == "generate-credit":
                if record["vendor_credit_id"] is not None:
                    raise LuminousConflict(f"Vendor return {return_id} has its credit.")
                fields = {"vendor_id": record["vendor_id"], "items": record["items"]}
                credit = self.create({**fields, "vendor_return_id": return_id}, updated_at)
                record["vendor_credit_id"] = credit["id"]
                return credit
            record["status"] = "processed" if action == "process" else "cancelled"
            record["updated_at"] = stamp_or(self.emu.now(), updated_at)
            return self._render_return(record)

    def _render_return(self, record: dict[str, Any]) -> dict[str, Any]:
        out = dict(record)
        vendor = self.emu.supplier(record.get("vendor_id"))
        out["vendor_name"] = vendor["name"] if vendor else None
        return out

    # --- HTTP ----------------------------------------------------------------------------

    def route(self, method: str, parts: list[str], query: Any, body: Any) -> Answer:
        body = body if isinstance(body, dict) else {}
        if parts[:1] == ["vendor-returns"]:
            return self._route_returns(method, parts, query, body)
        if parts[:1] != ["vendor-credits"]:
            return None
        if len(parts) == 1:
            if method == "GET":
                rows = [self.render(r) for r in self.records.values()]
                return 200, self.emu.list_envelope(rows, query)
            return (201, {"data": self.create(body)}) if method == "POST" else None
        if parts[1] == "vendor" and len(parts) == 4 and parts[3] == "statement":
            return 200, {"data": self._statement(parse_id(parts[2]))}
        credit_id = parse_id(parts[1])
        if credit_id is None:
            return None
        return self._member(method, credit_id, parts[2:], body)

    def _member(self, method: str, credit_id: int, rest: list[str], body: dict) -> Answer:
        if not rest and method == "GET":
            return 200, {"data": self.get(credit_id)}
        if rest == ["apply"] and method == "POST":
            return 201, {"data": self.apply(credit_id, body)}
        if rest == ["cancel"] and method == "POST":
            return 200, {"data": self.cancel(credit_id)}
        app_id = parse_id(rest[1]) if len(rest) >= 2 and rest[0] == "applications" else None
        if app_id is not None and rest[2:] == ["reverse"] and method == "POST":
            return 200, {"data": self.reverse(credit_id, app_id)}
        if app_id is not None and len(rest) == 2 and method == "DELETE":
            self.delete_application(credit_id, app_id)
            return 200, {"message": "Application deleted."}
        return None

    def _route_returns(self, method: str, parts: list[str], query: Any, body: dict) -> Answer:
        if len(parts) == 1:
            if method == "GET":
                rows = [self._render_return(r) for r in self.returns.values()]
                return 200, self.emu.list_envelope(rows, query)
            return (201, {"data": self.create_return(body)}) if method == "POST" else None
        return_id = parse_id(parts[1])
        if return_id is None:
            return None
        if len(parts) == 2 and method == "GET":
            if return_id not in self.returns:
                raise LuminousNotFound("Vendor return")
            return 200, {"data": self._render_return(self.returns[return_id])}
        if len(parts) == 3 and method == "POST":
            return 200, {"data": self.act_on_return(return_id, parts[2])}
        return None

    def _statement(self, vendor_id: int | None) -> dict[str, Any]:
        credits = [self.render(r) for r in self.records.values() if r["vendor_id"] == vendor_id]
        bills = [
            self.emu.bills.render(b)
            for b in self.emu.bills.records.values()
            if b.get("vendor_id") == vendor_id
        ]
        return {"vendor_id": vendor_id, "credits": credits, "bills": bills}

    def admin(self, method: str, parts: list[str], body: dict, stamp: datetime | None) -> Answer:
        """`/__admin/vendor-credits...`: POST {fields, check_refs}; PATCH /{id} {changes};
        POST /{id}/apply {fields} | /cancel | /updated_at; POST /{id}/applications/{aid}/
        reverse; DELETE /{id}/applications/{aid}; DELETE /{id}."""
        if parts == ["vendor-credits"] and method == "POST":
            made = self.create(body.get("fields", {}), stamp, body.get("check_refs", True))
            return 201, {"data": made}
        credit_id = parse_id(parts[1]) if len(parts) > 1 else None
        if credit_id is None:
            return None
        rest = parts[2:]
        if not rest and method in ("PATCH", "PUT"):
            return 200, {"data": self.edit(credit_id, body.get("changes", {}), stamp)}
        if not rest and method == "DELETE":
            self.delete(credit_id)
            return 200, {"deleted": credit_id}
        if rest == ["apply"] and method == "POST":
            return 201, {"data": self.apply(credit_id, body.get("fields", {}), stamp)}
        if rest == ["cancel"] and method == "POST":
            return 200, {"data": self.cancel(credit_id, stamp)}
        if rest == ["updated_at"] and method == "POST" and stamp is not None:
            self.set_updated_at(credit_id, stamp)
            return 200, {"data": self.get(credit_id)}
        app_id = parse_id(rest[1]) if len(rest) >= 2 and rest[0] == "applications" else None
        if app_id is not None and rest[2:] == ["reverse"] and method == "POST":
            return 200, {"data": self.reverse(credit_id, app_id, stamp)}
        if app_id is not None and len(rest) == 2 and method == "DELETE":
            self.delete_application(credit_id, app_id, stamp)
            return 200, {"deleted": app_id}
        return None


def _item_amount(item: dict[str, Any]) -> Any:
    if item.get("amount") is not None:
        return to_decimal(item["amount"])
    return cents(to_decimal(item.get("quantity")) * to_decimal(item.get("unit_price")))


def credit_totals(record: dict[str, Any]) -> dict[str, Any]:
    """amount (its items and their tax, or the amount stored), applied and remaining."""
    items = record.get("items") or []
    if items:
        amount = sum((_item_amount(i) + to_decimal(i.get("tax")) for i in items), ZERO)
    else:
        amount = to_decimal(record.get("amount"))
    applied = sum(
        (
            to_decimal(a["amount"])
            for a in record.get("applications") or []
            if a["status"] == "applied"
        ),
        ZERO,
    )
    return {"amount": amount, "amount_applied": applied, "amount_remaining": amount - applied}
