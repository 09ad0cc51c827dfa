"""Bill payments (`[payments] from = "luminous"`): after the bills they pay, read through them.

Its hooks give the plan where the payment's bill stands in QBO (its ledger row), and wake a
payment that waits for its bill once the bill is written (`waiting.WaitsForBills`).
"""

from __future__ import annotations

from typing import Any

from reconciler.documents.payment.model import SourcePayment
from reconciler.documents.payment.parse import payment_or_reject
from reconciler.documents.payment.plan import PaymentContext, PaymentPlan, payment_policies
from reconciler.model import DocKind
from reconciler.sync.kinds.declaration import Kind, PassParts
from reconciler.sync.kinds.waiting import WaitsForBills
from reconciler.write.payment import PaymentWriter

PAYMENT = DocKind.PAYMENT


class PaymentHooks(WaitsForBills):
    """The `KindHooks` of bill payments."""

    def __init__(self, parts: PassParts) -> None:
        super().__init__(parts, PAYMENT)
        self.policy, void = payment_policies(
            parts.settings.plan_policy(), parts.settings.payments.on_delete
        )
        self.plan = PaymentPlan(void)
        self._rules = parts.settings.payment_rules()

    def context(self, record: Any) -> PaymentContext | None:
        if not isinstance(record, SourcePayment):
            return None
        return PaymentContext(self._rules, self.standings([record.bill_id])[record.bill_id])


def build(parts: PassParts) -> tuple[PaymentWriter, PaymentHooks]:
    writer = PaymentWriter(
        parts.qbo,
        parts.ledger,
        parts.refs,
        parts.lines,
        kind=PAYMENT,
        first_connection=parts.first_connection(PAYMENT),
        scratch=parts.scratch,
    )
    return writer, PaymentHooks(parts)


PAYMENTS = Kind(
    doc=PAYMENT,
    enabled=lambda settings: settings.payments.from_ == "luminous",
    reader=lambda luminous, settings: luminous.documents("payments"),
    parse=payment_or_reject,
    build=build,
    sweep_rereads=True,  # a void or a delete may not move its bill's updated_at
)
