"""Bills in the Luminous emulator: the brand's supplier invoices, entered in Luminous, with the
PO lines each bill item pays for (allocations), extra costs, payments and a status lifecycle.
The HTTP face is in luminous_bills_http.py.

Confirmed by the official CLI (cli/resources/bills.py): the paths, the actions as POST routes
(`/bills/{id}/post|hold|unhold|reopen`), `PATCH /bills/{id}/status` {status}, `PUT` to update,
allocations and payments as sub-resources, bill items with ids, and the columns `id`,
`vendor_name`, `status`, `total`, `total_paid`, `total_due`, `bill_date`, `due_date`;
`vendor_id` as the filter (and in the reference's aging report); `extra_costs` [{name, quantity,
unit_price}] as the create payload's cost array (cli/resources/_input.py).

Assumed (one place to correct): every other field name below; the status vocabulary
draft, posted, on_hold, partially_paid, paid, closed, void; the transitions (post: draft ->
posted; hold: draft/posted/partially_paid -> on_hold; unhold: back to the status before the hold;
reopen: posted/closed -> draft; void: any but void -> void); a payment turns a bill
partially_paid or paid; a void bill stays listed, a deleted one is gone (404); vendor ids are
supplier ids; bills do not change the PO (neither its totals nor its `updated_at`).

Test controls also serve raw values over a rendered bill (`set_raw`, hostile-data tests).

Stored bill: id, bill_number, vendor_id, status, bill_date, due_date, payment_terms, currency,
memo, items [{id, bill_id, purchase_order_id, purchase_order_item_id, product_id, description,
quantity, unit_price, tax, amount}], extra_costs [{id, bill_id, name, quantity, unit_price,
line_total, cost_allocation_type}], allocations [{id, bill_id, bill_item_id, bill_extra_cost_id,
purchase_order_id, purchase_order_item_id, quantity, amount}], payments [{id, bill_id,
payment_date, payment_type, paid_amount, remarks, reference_number, status}] (their void and
delete: luminous_payments.py), created_at, updated_at. Rendered bills add
vendor_name, purchase_order_ids, subtotal, total_extra_costs, total_tax, total, total_paid,
total_due and each item's product; allocations are served only by `/bills/{id}/allocations`.
An item with a `purchase_order_item_id` is allocated to that line automatically; items without
one, and extra costs, stay unallocated until `allocate` is called.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.luminous.billable import billed_quantities
from reconciler.sandbox.luminous.common import (
    ZERO,
    DocumentBook,
    LuminousConflict,
    LuminousInvalid,
    LuminousNotFound,
    cents,
    find_po_line,
    id_order,
    render_money,
    to_decimal,
)
from reconciler.sandbox.luminous.payments import settled_amount

if TYPE_CHECKING:
    pass

BILL_STATUSES = ("draft", "posted", "on_hold", "partially_paid", "paid", "closed", "void")
# action -> (statuses it may start from, status it ends in; None: the status before the hold)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "post": (frozenset({"draft"}), "posted"),
    "hold": (frozenset({"draft", "posted", "partially_paid"}), "on_hold"),
    "unhold": (frozenset({"on_hold"}), None),
    "reopen": (frozenset({"posted", "closed"}), "draft"),
    "void": (frozenset(BILL_STATUSES) - {"void"}, "void"),
}
NESTED = ("items", "extra_costs", "allocations", "payments")


class BillBook(DocumentBook):
    """The emulator's bills; every method runs under the emulator's lock."""

    noun = "Bill"

    # --- create and edit -----------------------------------------------------------------

    def create(
        self, fields: dict[str, Any], updated_at: datetime | None = None, check_refs: bool = True
    ) -> dict[str, Any]:
        """Store a bill and return its API JSON. `check_refs=False` lets a bill name a vendor,
        PO or PO line that does not exist (yet), or an unknown status."""
        with self.emu._lock:
            fields = dict(fields)
            stamp = self.emu.stamp(updated_at)
            bid = self._ids.take("bill", fields.pop("id", None))
            nested = {key: fields.pop(key, []) for key in NESTED}
            record = self._new_record(bid, fields, stamp)
            self._set_lines(record, nested["items"], nested["extra_costs"], stamp, check_refs)
            if not record.get("vendor_id"):
                record["vendor_id"] = self._vendor_from_pos(record)
            self._check(record, check_refs)
            self.records[bid] = record
            for payment in nested["payments"]:
                self._add_payment(record, payment, stamp)
            return self.render(record)

    def _new_record(self, bid: int, fields: dict[str, Any], stamp: datetime) -> dict[str, Any]:
        return {
            "id": bid,
            "bill_number": f"BILL-{bid:05d}",
            "vendor_id": None,
            "status": "draft",
            "bill_date": stamp.date().isoformat(),
            "due_date": (stamp.date() + timedelta(days=30)).isoformat(),
            "payment_terms": "Net 30",
            "currency": "USD",
            "memo": None,
            "created_at": stamp,
            **fields,
            "updated_at": stamp,
            "allocations": [],
            "payments": [],
        }

    def _set_lines(
        self,
        record: dict[str, Any],
        items: list[dict[str, Any]] | None,
        extra_costs: list[dict[str, Any]] | None,
        stamp: datetime,
        check_refs: bool,
    ) -> None:
        """Replace items and/or extra costs (None: keep) and their allocations."""
        if items is not None:
            record["items"] = [self._new_item(record["id"], i, stamp, check_refs) for i in items]
            record["allocations"] = [a for a in record["allocations"] if not a["bill_item_id"]]
            for item in record["items"]:
                if item["purchase_order_item_id"] is not None:
                    record["allocations"].append(self._auto_allocation(item, stamp))
        if extra_costs is not None:
            record["extra_costs"] = [self._new_extra(record["id"], c, stamp) for c in extra_costs]
            record["allocations"] = [a for a in record["allocations"] if a["bill_item_id"]]

    def _new_item(
        self, bid: int, item: dict[str, Any], stamp: datetime, check_refs: bool
    ) -> dict[str, Any]:
        item = dict(item)
        line_id = item.pop("purchase_order_item_id", None)
        po_id = item.pop("purchase_order_id", None) or self._po_of_line(line_id)
        line = find_po_line(self.emu._pos, po_id, line_id) if check_refs and line_id else {}
        return {
            "id": self._ids.take("bill_item", item.pop("id", None)),
            "bill_id": bid,
            "purchase_order_id": po_id,
            "purchase_order_item_id": line_id,
            "product_id": line.get("product_id"),
            "description": None,
            "quantity": line.get("quantity", "1"),
            "unit_price": line.get("unit_price", "0.00"),
            "tax": "0.00",
            "amount": None,
            "created_at": stamp,
            **item,
            "updated_at": stamp,
        }

    def _new_extra(self, bid: int, cost: dict[str, Any], stamp: datetime) -> dict[str, Any]:
        return {
            "id": self._ids.take("bill_extra_cost", cost.get("id")),
            "bill_id": bid,
            "name": "Extra cost",
            "quantity": "1",
            "unit_price": "0.00",
            "line_total": None,
            "cost_allocation_type": None,
            "created_at": stamp,
            **{k: v for k, v in cost.items() if k != "id"},
            "updated_at": stamp,
        }

    def _auto_allocation(self, item: dict[str, Any], stamp: datetime) -> dict[str, Any]:
        """An item naming a PO line pays for that line: its whole quantity and amount."""
        fields = {
            "purchase_order_id": item["purchase_order_id"],
            "purchase_order_item_id": item["purchase_order_item_id"],
            "quantity": item["quantity"],
        }
        return self._allocation(item["bill_id"], item, None, fields, stamp)

    def _allocation(
        self,
        bid: int,
        item: dict[str, Any] | None,
        extra: dict[str, Any] | None,
        fields: dict[str, Any],
        stamp: datetime,
    ) -> dict[str, Any]:
        line_id = fields.get("purchase_order_item_id")
        default_amount = item_amount(item) if item is not None else extra_amount(extra or {})
        return {
            "id": self._ids.take("allocation", fields.get("allocation_id")),
            "bill_id": bid,
            "bill_item_id": item["id"] if item is not None else None,
            "bill_extra_cost_id": extra["id"] if extra is not None else None,
            "purchase_order_id": fields.get("purchase_order_id") or self._po_of_line(line_id),
            "purchase_order_item_id": line_id,
            "quantity": fields.get("quantity", item["quantity"] if item is not None else "0"),
            "amount": to_decimal(fields["amount"]) if "amount" in fields else default_amount,
            "created_at": stamp,
            "updated_at": stamp,
        }

    def edit(
        self, bill_id: int, changes: dict[str, Any], updated_at: datetime | None = None
    ) -> dict[str, Any]:
        """Apply `changes` (new `items` / `extra_costs` replace the old ones and their
        allocations) and bump `updated_at` to the server clock (or to `updated_at`)."""
        with self.emu._lock:
            record = self._record(bill_id)
            changes = dict(changes)
            stamp = self.emu.stamp(updated_at)
            items, extras = changes.pop("items", None), changes.pop("extra_costs", None)
            plain = {k: v for k, v in changes.items() if k not in NESTED}
            self._check({**record, **plain}, True)
            self._set_lines(record, items, extras, stamp, True)
            record.update(plain)
            return self._touch(record, stamp)

    def _check(self, record: dict[str, Any], check_refs: bool) -> None:
        if not check_refs:
            return
        if record.get("vendor_id") not in self.emu._suppliers:
            raise LuminousInvalid("vendor_id", f"no vendor {record.get('vendor_id')!r}")
        if record.get("status") not in BILL_STATUSES:
            raise LuminousInvalid("status", f"one of {', '.join(BILL_STATUSES)}")

    def _po_of_line(self, line_id: Any) -> Any:
        for po in self.emu._pos.values():
            if any(i.get("id") == line_id for i in po.get("items") or []):
                return po["id"]
        return None

    def _vendor_from_pos(self, record: dict[str, Any]) -> Any:
        for po_id in purchase_order_ids(record):
            if po_id in self.emu._pos:
                return self.emu._pos[po_id].get("supplier_id")
        return None

    # --- lifecycle -----------------------------------------------------------------------

    def act(self, bill_id: int, action: str, updated_at: datetime | None = None) -> dict:
        """Run a status action (post, hold, unhold, reopen, void); LuminousConflict if the
        bill's status does not allow it."""
        with self.emu._lock:
            record = self._record(bill_id)
            allowed, target = TRANSITIONS[action]
            status = record.get("status")
            if status not in allowed:
                raise LuminousConflict(f"Cannot {action} bill {bill_id}: it is {status}.")
            if action == "hold":
                record["_held_from"] = status
            if target is None:
                target = record.pop("_held_from", "draft")
            record["status"] = self._paid_status(record, target) if target == "posted" else target
            return self._touch(record, self.emu.stamp(updated_at))

    def post(self, bill_id: int, updated_at: datetime | None = None) -> dict[str, Any]:
        return self.act(bill_id, "post", updated_at)

    def hold(self, bill_id: int, updated_at: datetime | None = None) -> dict[str, Any]:
        return self.act(bill_id, "hold", updated_at)

    def unhold(self, bill_id: int, updated_at: datetime | None = None) -> dict[str, Any]:
        return self.act(bill_id, "unhold", updated_at)

    def reopen(self, bill_id: int, updated_at: datetime | None = None) -> dict[str, Any]:
        return self.act(bill_id, "reopen", updated_at)

    def void(self, bill_id: int, updated_at: datetime | None = None) -> dict[str, Any]:
        return self.act(bill_id, "void", updated_at)

    def set_status(self, bill_id: int, status: str, updated_at: datetime | None = None) -> dict:
        """`PATCH /bills/{id}/status`: any known status, no transition rules."""
        if status not in BILL_STATUSES:
            raise LuminousInvalid("status", f"one of {', '.join(BILL_STATUSES)}")
        with self.emu._lock:
            record = self._record(bill_id)
            record["status"] = status
            return self._touch(record, self.emu.stamp(updated_at))

    def pay(
        self,
        bill_id: int,
        amount: Any = None,
        payment_date: str | None = None,
        updated_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Record a payment (None: whatever is still due); the bill becomes partially_paid or
        paid (an on-hold bill stays on hold). A void bill cannot be paid."""
        with self.emu._lock:
            record = self._record(bill_id)
            if record.get("status") == "void":
                raise LuminousConflict(f"Bill {bill_id} is void.")
            stamp = self.emu.stamp(updated_at)
            due = bill_totals(record)["total_due"]
            paid = {"paid_amount": due if amount is None else amount, "payment_date": payment_date}
            self._add_payment(record, paid, stamp)
            return self._touch(record, stamp)

    def _add_payment(self, record: dict[str, Any], payment: dict[str, Any], stamp: datetime):
        amount = to_decimal(payment.get("paid_amount"))
        record["payments"].append(
            {
                "id": self._ids.take("payment", payment.get("id")),
                "bill_id": record["id"],
                "payment_date": payment.get("payment_date") or stamp.date().isoformat(),
                "payment_type": payment.get("payment_type", "bank_transfer"),
                "paid_amount": str(cents(amount)),
                "remarks": payment.get("remarks"),
                "reference_number": payment.get("reference_number"),
                "status": payment.get("status", "completed"),
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        if record.get("status") == "on_hold":
            record["_held_from"] = self._paid_status(record, record.get("_held_from", "posted"))
        else:
            record["status"] = self._paid_status(record, record.get("status", "posted"))

    @staticmethod
    def _paid_status(record: dict[str, Any], otherwise: str) -> str:
        totals = bill_totals(record)
        if totals["total_paid"] > ZERO:
            return "paid" if totals["total_due"] <= ZERO else "partially_paid"
        return otherwise

    # --- allocations ---------------------------------------------------------------------

    def allocate(
        self,
        bill_id: int,
        fields: dict[str, Any],
        updated_at: datetime | None = None,
        check_refs: bool = True,
    ) -> dict[str, Any]:
        """Allocate a bill item (`bill_item_id`) or an extra cost (`bill_extra_cost_id`) to the
        PO line `purchase_order_item_id`, with optional `quantity` and `amount`."""
        with self.emu._lock:
            record = self._record(bill_id)
            item = _by_id(record["items"], fields.get("bill_item_id"))
            extra = _by_id(record["extra_costs"], fields.get("bill_extra_cost_id"))
            if (item is None) == (extra is None):
                raise LuminousInvalid("bill_item_id", "name one bill item or one extra cost")
            line_id = fields.get("purchase_order_item_id")
            if check_refs:
                po_id = fields.get("purchase_order_id") or self._po_of_line(line_id)
                find_po_line(self.emu._pos, po_id, line_id)
            stamp = self.emu.stamp(updated_at)
            allocation = self._allocation(record["id"], item, extra, fields, stamp)
            record["allocations"].append(allocation)
            self._touch(record, stamp)
            return self.render_allocation(allocation, record["id"])

    def unallocate(
        self, bill_id: int, allocation_id: int, updated_at: datetime | None = None
    ) -> None:
        with self.emu._lock:
            record = self._record(bill_id)
            kept = [a for a in record["allocations"] if a["id"] != allocation_id]
            if len(kept) == len(record["allocations"]):
                raise LuminousNotFound("Allocation")
            record["allocations"] = kept
            self._touch(record, self.emu.stamp(updated_at))

    def allocations(self, bill_id: int) -> list[dict[str, Any]]:
        with self.emu._lock:
            record = self._record(bill_id)
            return [self.render_allocation(a, bill_id) for a in record["allocations"]]

    def billed_quantities(self) -> dict[Any, Decimal]:
        """PO line id -> quantity billed on bills that are not void."""
        return billed_quantities(self.records.values())

    # --- plumbing ------------------------------------------------------------------------

    def delete(self, bill_id: int) -> None:
        with self.emu._lock:
            self.records.pop(bill_id, None)

    def set_updated_at(self, bill_id: int, value: datetime) -> None:
        """Change only the stamp: ties, backdated late commits."""
        with self.emu._lock:
            self._record(bill_id)["updated_at"] = value.astimezone(UTC)

    def set_raw(self, bill_id: int, **fields: Any) -> None:
        """Serve these top-level values exactly as given, over what the bill renders (hostile
        data tests: a status nobody knows, items that are not a list, an id that is not one);
        the stored bill, its totals and its stamp stay as they are."""
        with self.emu._lock:
            self._record(bill_id).setdefault("_raw", {}).update(fields)

    def _touch(self, record: dict[str, Any], stamp: datetime) -> dict[str, Any]:
        record["updated_at"] = stamp
        return self.render(record)

    # --- rendering -----------------------------------------------------------------------

    def render(self, record: dict[str, Any]) -> dict[str, Any]:
        style, bid = self.emu.money_style, record["id"]
        out = {k: v for k, v in record.items() if not k.startswith("_") and k != "allocations"}
        out["items"] = [self._render_item(i, style, bid) for i in record.get("items") or []]
        out["extra_costs"] = [_render_extra(c, style, bid) for c in record.get("extra_costs") or []]
        out["payments"] = [dict(p) for p in record.get("payments") or []]
        vendor = self.emu.supplier(record.get("vendor_id"))
        out.setdefault("vendor_name", vendor["name"] if vendor else None)
        out["purchase_order_ids"] = purchase_order_ids(record)
        for key, value in bill_totals(record).items():
            out.setdefault(key, render_money(value, style, bid))
        out.update(record.get("_raw") or {})
        return out

    def _render_item(self, item: dict[str, Any], style: str, bid: int) -> dict[str, Any]:
        out = dict(item)
        if out.get("amount") is None:
            out["amount"] = render_money(item_amount(item), style, bid)
        product = self.emu.product(item.get("product_id"))
        out.setdefault("product", dict(product) if product else None)
        return out

    def render_allocation(self, allocation: dict[str, Any], bid: int) -> dict[str, Any]:
        out = dict(allocation)
        out["amount"] = render_money(allocation["amount"], self.emu.money_style, bid)
        return out


def item_amount(item: dict[str, Any]) -> Decimal:
    if item.get("amount") is not None:
        return to_decimal(item["amount"])
    return cents(to_decimal(item.get("quantity")) * to_decimal(item.get("unit_price")))


def extra_amount(cost: dict[str, Any]) -> Decimal:
    if cost.get("line_total") is not None:
        return to_decimal(cost["line_total"])
    return cents(to_decimal(cost.get("quantity")) * to_decimal(cost.get("unit_price")))


def bill_totals(record: dict[str, Any]) -> dict[str, Decimal]:
    """The bill's money: lines, extra costs, tax, total, paid and due. A stored `total` (a test
    writing a bill that disagrees with its lines) wins over the computed one."""
    subtotal = sum((item_amount(i) for i in record.get("items") or []), ZERO)
    extras = sum((extra_amount(c) for c in record.get("extra_costs") or []), ZERO)
    tax = sum((to_decimal(i.get("tax")) for i in record.get("items") or []), ZERO)
    total = to_decimal(record["total"]) if "total" in record else subtotal + extras + tax
    paid = settled_amount(record.get("payments") or [])  # a void payment pays nothing
    return {
        "subtotal": subtotal,
        "total_extra_costs": extras,
        "total_tax": tax,
        "total": total,
        "total_paid": paid,
        "total_due": total - paid,
    }


def purchase_order_ids(record: dict[str, Any]) -> list[Any]:
    """The POs a bill touches, through its items and its allocations."""
    found = [i.get("purchase_order_id") for i in record.get("items") or []]
    found += [a.get("purchase_order_id") for a in record.get("allocations") or []]
    return sorted({p for p in found if p is not None}, key=id_order)


def _render_extra(cost: dict[str, Any], style: str, bid: int) -> dict[str, Any]:
    out = dict(cost)
    if out.get("line_total") is None:
        out["line_total"] = render_money(extra_amount(cost), style, bid)
    return out


def _by_id(rows: list[dict[str, Any]], wanted: Any) -> dict[str, Any] | None:
    if wanted is None:
        return None
    return next((r for r in rows if r.get("id") == wanted), None)
