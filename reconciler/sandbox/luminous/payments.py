"""Bill payments in the Luminous emulator, with their lifecycle: made, voided, deleted.

Confirmed by the official CLI (cli/resources/bills.py): `POST /bills/{id}/payments`,
`DELETE /bills/{id}/payments/{payment_id}`, `POST /bills/{id}/payments/{payment_id}/void`;
the payment fields `payment_date`, `payment_type` (cash, credit_card, debit_card, check,
bank_transfer), `paid_amount`, `remarks` (purchase_orders.py, a PO payment's create); a bill's
`total_paid` and `total_due` (bills.py columns).

Assumed (one place to correct): a payment without `paid_amount` pays what is due; the
create answers the bill, its payments included; a payment's `status` ("completed", or "void"
once voided: a void payment stays listed and counts for nothing), `reference_number`, `bill_id`,
`created_at`, `updated_at`; `GET /bills/{id}/payments` lists a bill's payments; every payment,
void or delete moves the bill's `updated_at` (its totals change) and its status (partially_paid,
paid, or back to posted); more than the bill's total_due is accepted (Luminous's own rule is not
published: QBO refuses the over-payment, which is what the sync must cope with); a void bill
takes no payment (409), a voided payment is not voided again (409).

Admin (`/__admin` prefix, `updated_at` optional): POST /bills/{id}/payments {fields};
POST /bills/{id}/payments/{payment_id}/void; DELETE /bills/{id}/payments/{payment_id}.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.luminous.common import (
    ZERO,
    LuminousConflict,
    LuminousInvalid,
    LuminousNotFound,
    parse_id,
    stamp_or,
    to_decimal,
)

if TYPE_CHECKING:
    from reconciler.sandbox.luminous.server import LuminousEmulator


def bill_totals(record: dict[str, Any]) -> dict[str, Any]:
    from reconciler.sandbox.luminous.bills import bill_totals as totals  # (bills imports us)

    return totals(record)


PAYMENT_TYPES = ("cash", "credit_card", "debit_card", "check", "bank_transfer")
PAID_STATUSES = ("partially_paid", "paid")

Answer = tuple[int, Any] | None


class PaymentDesk:
    """Payments of the emulator's bills (stored on the bill, `emu.bills`)."""

    def __init__(self, emu: LuminousEmulator) -> None:
        self.emu = emu

    def pay(
        self, bill_id: int, fields: dict[str, Any], updated_at: datetime | None = None
    ) -> dict[str, Any]:
        """A payment on the bill; returns it as the API shows it."""
        kind = fields.get("payment_type", "bank_transfer")
        if kind not in PAYMENT_TYPES:
            raise LuminousInvalid("payment_type", f"one of {', '.join(PAYMENT_TYPES)}")
        with self.emu._lock:
            record = self.emu.bills._record(bill_id)
            if record.get("status") == "void":
                raise LuminousConflict(f"Bill {bill_id} is void.")
            if fields.get("paid_amount") is None:  # in full: whatever is still due
                fields = {**fields, "paid_amount": bill_totals(record)["total_due"]}
            if to_decimal(fields.get("paid_amount")) <= ZERO:
                raise LuminousInvalid("paid_amount", "must be above zero")
            stamp = stamp_or(self.emu.now(), updated_at)
            self.emu.bills._add_payment(record, {"payment_type": kind, **fields}, stamp)
            self.emu.bills._touch(record, stamp)
            return dict(record["payments"][-1])

    def void(
        self, bill_id: int, payment_id: int, updated_at: datetime | None = None
    ) -> dict[str, Any]:
        with self.emu._lock:
            record, payment = self._payment(bill_id, payment_id)
            if payment.get("status") == "void":
                raise LuminousConflict(f"Payment {payment_id} is void already.")
            stamp = stamp_or(self.emu.now(), updated_at)
            payment["status"], payment["updated_at"] = "void", stamp
            self._settle(record, stamp)
            return dict(payment)

    def delete(self, bill_id: int, payment_id: int, updated_at: datetime | None = None) -> None:
        with self.emu._lock:
            record, payment = self._payment(bill_id, payment_id)
            record["payments"] = [p for p in record["payments"] if p is not payment]
            self._settle(record, stamp_or(self.emu.now(), updated_at))

    def of(self, bill_id: int) -> list[dict[str, Any]]:
        with self.emu._lock:
            return [dict(p) for p in self.emu.bills._record(bill_id)["payments"]]

    def _payment(self, bill_id: int, payment_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        record = self.emu.bills._record(bill_id)
        for payment in record["payments"]:
            if payment["id"] == payment_id:
                return record, payment
        raise LuminousNotFound("Payment")

    def _settle(self, record: dict[str, Any], stamp: datetime) -> None:
        """The bill's status after a payment went: paid, partly paid, or posted again."""
        if record.get("status") in PAID_STATUSES:
            record["status"] = self.emu.bills._paid_status(record, "posted")
        self.emu.bills._touch(record, stamp)

    # --- HTTP ----------------------------------------------------------------------------

    def route(self, method: str, parts: list[str], query: Any, body: Any) -> Answer:
        """`/bills/{id}/payments...` (public); None for any other path."""
        if parts[:1] != ["bills"] or parts[2:3] != ["payments"] or len(parts) < 3:
            return None
        bill_id = parse_id(parts[1])
        if bill_id is None:
            return None
        rest = parts[3:]
        body = body if isinstance(body, dict) else {}
        if not rest and method == "POST":  # answers the bill, as the emulator always has
            self.pay(bill_id, body)
            return 201, {"data": self.emu.bills.get(bill_id)}
        if not rest and method == "GET":
            return 200, self.emu.list_envelope(self.of(bill_id), query)
        payment_id = parse_id(rest[0]) if rest else None
        if payment_id is None:
            return None
        if rest[1:] == ["void"] and method == "POST":
            return 200, {"data": self.void(bill_id, payment_id)}
        if len(rest) == 1 and method == "DELETE":
            self.delete(bill_id, payment_id)
            return 200, {"message": "Payment deleted."}
        return None

    def admin(self, method: str, parts: list[str], body: dict, stamp: datetime | None) -> Answer:
        if parts[:1] != ["bills"] or parts[2:3] != ["payments"]:
            return None
        bill_id = parse_id(parts[1]) if len(parts) > 1 else None
        if bill_id is None:
            return None
        if len(parts) == 3 and method == "POST":
            return 201, {"data": self.pay(bill_id, body.get("fields", {}), stamp)}
        payment_id = parse_id(parts[3]) if len(parts) > 3 else None
        if payment_id is None:
            return None
        if parts[4:] == ["void"] and method == "POST":
            return 200, {"data": self.void(bill_id, payment_id, stamp)}
        if len(parts) == 4 and method == "DELETE":
            self.delete(bill_id, payment_id, stamp)
            return 200, {"deleted": payment_id}
        return None


def settled_amount(payments: list[dict[str, Any]]) -> Any:
    """What a bill's payments paid: the ones not void (what `bill_totals` counts)."""
    return sum((to_decimal(p["paid_amount"]) for p in payments if p.get("status") != "void"), ZERO)
