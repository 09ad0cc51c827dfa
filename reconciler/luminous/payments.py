"""Bill payments, read through their bills: Luminous publishes a bill's payment routes (`POST
/bills/{id}/payments`, its void and its delete; the CLI's bills.py) but no list of payments,
and a bill carries its payments (the CLI's _input.py names `payments` among a record's arrays)
with `total_paid` and `total_due`.

So the changed payments are the payments of the changed bills, read by key like any list
(`keyed.KeyedReader` on `/bills`): each payment is handed on with its bill attached (id,
number, vendor, currency, stamp), and its key is its bill's `(updated_at, payment id)`. The
payments of the bills of one instant are handed on in payment-id order, so the keys still
ascend. A bill row without `payments` is completed from `GET /bills/{id}/payments` (assumed).

A bill without payments yields nothing, so the read also says how far it went (`through`):
the checkpoint may pass such bills, or every pass would read them again.

One payment (`get`) is found through the payment-to-bill map the reads fill; one this process
has not seen is found by one walk of every bill (which fills the map for all), and only after
that walk is a payment known to be gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.luminous import documents
from reconciler.luminous.fields import BILL_FIELDS, PAYMENT_FIELDS, PAYMENTS_PATH
from reconciler.luminous.filters import FilterMemory
from reconciler.luminous.http import LuminousHTTP, int_or_none
from reconciler.luminous.keyed import KeyedReader, ReadReport, stamp_of

Row = dict[str, Any]


@dataclass
class PaymentReport(ReadReport):
    """How the last read went, and the key of the last bill it read (`(updated_at, 0)`): the
    checkpoint may pass bills that held no payment, or each pass would read them again."""

    through: tuple[datetime, int] | None = None


BILL_KEYS = ("id", "number", "vendor_id", "vendor_name", "currency", "status", "updated_at")


class PaymentReader:
    """The payments of Luminous bills, as the pull reads a list."""

    def __init__(
        self,
        http: LuminousHTTP,
        *,
        clock: Callable[[], datetime] | None = None,
        max_rewalks: int = 2,
        filters: FilterMemory | None = None,
    ) -> None:
        self.http = http
        self.path = documents.BILLS_PATH
        self.clock = clock
        self.filters = filters or FilterMemory()  # the forms this server takes (`filters`)
        self._bills = KeyedReader(
            http, self.path, complete=self._complete, max_rewalks=max_rewalks, filters=self.filters
        )
        self._where: dict[int, int] = {}  # payment id -> its bill id
        self._walked = False
        self.last_read = PaymentReport()

    def server_now(self) -> datetime:
        return self.probe(None)[0]

    def probe(self, future_after: datetime | None) -> tuple[datetime, list[Row]]:
        now, bills = documents.probe(
            self.http,
            self.path,
            future_after,
            complete=self._complete,
            clock=self.clock,
            filters=self.filters,
        )
        return now, [p for bill in bills for p in self._payments_of(bill)]

    def iter_changed(self, since: datetime, ceiling: datetime) -> Iterator[Row]:
        self.last_read = PaymentReport()
        return self._by_instant(self._bills.changed(since, ceiling, self.last_read))

    def get(self, doc_id: int) -> Row | None:
        if doc_id not in self._where and not self._walked:
            list(self.iter_all_ids())
        bill_id = self._where.get(doc_id)
        bill = documents.one(self.http, self.path, bill_id) if bill_id is not None else None
        found = self._payments_of(self._complete(bill)) if bill is not None else []
        return next((p for p in found if int_or_none(p.get(PAYMENT_FIELDS["id"])) == doc_id), None)

    def iter_all_ids(self) -> Iterator[int]:
        """Every payment of every bill (one walk, which fills the payment-to-bill map)."""
        seen: set[int] = set()
        for body in self.http.walk(self.path, {"sort": "id:asc"}):
            for bill in body["data"]:
                for payment in self._payments_of(self._complete(bill)):
                    pay_id = int_or_none(payment.get(PAYMENT_FIELDS["id"]))
                    if pay_id is not None and pay_id not in seen:
                        seen.add(pay_id)
                        yield pay_id
        self._walked = True

    # --- internals ----------------------------------------------------------------------

    def _by_instant(self, bills: Iterable[Row]) -> Iterator[Row]:
        """The payments of each instant's bills, in payment-id order."""
        held: list[Row] = []
        instant: datetime | None = None
        for bill in bills:
            stamp = stamp_of(bill)
            if held and (stamp is None or stamp != instant):
                yield from _in_id_order(held)
                held = []
            instant = stamp
            held.extend(self._payments_of(bill))
            through = self.last_read.through
            if stamp is not None and (through is None or stamp >= through[0]):
                self.last_read.through = (stamp, 0)
        yield from _in_id_order(held)

    def _complete(self, bill: Row) -> Row:
        f = BILL_FIELDS
        bill_id = int_or_none(bill.get(f["id"]))
        if f["payments"] in bill or bill_id is None:
            return bill
        found: list[Row] = []
        for body in self.http.walk(f"{self.path}/{bill_id}/{PAYMENTS_PATH}", {}):
            found.extend(body["data"])
        return {**bill, f["payments"]: found}

    def _payments_of(self, bill: Row) -> list[Row]:
        """The bill's payments, each with the bill attached; remembers where each is."""
        f, p = BILL_FIELDS, PAYMENT_FIELDS
        attached = {f[key]: bill.get(f[key]) for key in BILL_KEYS}
        bill_id = int_or_none(bill.get(f["id"]))
        payments = bill.get(f["payments"])
        out = []
        for payment in payments if isinstance(payments, list) else []:
            if not isinstance(payment, dict):
                out.append(payment)  # refused by the parser, with the reason
                continue
            pay_id = int_or_none(payment.get(p["id"]))
            if pay_id is not None and bill_id is not None:
                self._where[pay_id] = bill_id
            out.append({**payment, p["bill"]: attached})
        return out


def _in_id_order(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: int_or_none(r.get(PAYMENT_FIELDS["id"])) or 0)
