"""Vendor credits (`[vendor_credits] from = "luminous"`): after the bills they may be applied to.

Its hooks give the plan the credit rules with this company's classes, locations and tax codes,
and where each bill the credit is applied to stands; a credit waiting for a bill is woken once
the bill is written (`waiting.WaitsForBills`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.documents.credit.mapping import CreditRules
from reconciler.documents.credit.model import SourceCredit
from reconciler.documents.credit.parse import credit_or_reject
from reconciler.documents.credit.plan import CreditContext, CreditPlan, cancel_policy
from reconciler.model import DocKind
from reconciler.sync.kinds.declaration import Kind, PassParts
from reconciler.sync.kinds.waiting import WaitsForBills
from reconciler.write.credit import VendorCreditWriter

CREDIT = DocKind.VENDOR_CREDIT


class CreditHooks(WaitsForBills):
    """The `KindHooks` of vendor credits."""

    def __init__(self, parts: PassParts) -> None:
        super().__init__(parts, CREDIT)
        self.policy = cancel_policy(
            parts.settings.plan_policy(), parts.settings.vendor_credits.on_cancel
        )
        self.plan = CreditPlan(self.policy)
        self._rules = parts.settings.credit_rules()
        self._coded: CreditRules | None = None

    def rules(self) -> CreditRules:
        """With this company's line coding (known once the pass has read the company)."""
        if self._coded is None:
            coding = self._parts.company.rules().line_coding
            self._coded = replace(self._rules, lines=replace(self._rules.lines, line_coding=coding))
        return self._coded

    def context(self, record: Any) -> CreditContext:
        if not isinstance(record, SourceCredit):
            return CreditContext(self.rules(), {})
        bills = [a.bill_id for a in record.applied() if a.bill_id is not None]
        return CreditContext(self.rules(), self.standings(bills))


def build(parts: PassParts) -> tuple[VendorCreditWriter, CreditHooks]:
    writer = VendorCreditWriter(
        parts.qbo,
        parts.ledger,
        parts.refs,
        parts.lines,
        prefix=parts.settings.sync.doc_number_prefix,
        first_connection=parts.first_connection(CREDIT),
        scratch=parts.scratch,
    )
    return writer, CreditHooks(parts)


VENDOR_CREDITS = Kind(
    doc=CREDIT,
    enabled=lambda settings: settings.vendor_credits.from_ == "luminous",
    reader=lambda luminous, settings: luminous.documents("vendor_credits"),
    parse=credit_or_reject,
    build=build,
    sweep_rereads=True,  # an application or its reversal may not move the credit's stamp
)
