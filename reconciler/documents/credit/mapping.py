"""Pure mapping: a Luminous vendor credit becomes the QBO VendorCredit it should be.

Vendor, DocNumber, lines and tax as a bill's (`documents.bill.mapping`):
- the vendor is the credit's `vendor_name`, through the same resolver as every vendor;
- DocNumber: the credit's number (`credit_number`, assumed), else `sync.doc_number_prefix` +
  "C" + its id; looked up among that vendor's credits before any create;
- a line with a product is an item line coded as a bill's unlinked line is (class, tax code);
  one without is an account line on `[vendor_credits] account`; a credit with no lines at all
  is one account line of its `amount`. US companies: the lines' tax as one line on
  `accounts.tax`; elsewhere QBO computes it from the tax codes;
- each application to a Luminous bill in force: a BillPayment numbered prefix + "A" + the
  application's id, linking the bill's QBO Bill and this credit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from reconciler.documents import coding, values
from reconciler.documents.bill.mapping import BillRules, bill_line, line_key
from reconciler.documents.bill.model import DesiredBillLine, POStanding, SourceBillLine
from reconciler.documents.credit.model import DesiredApplication, DesiredCredit, SourceCredit
from reconciler.errors import InvalidSourceRecord
from reconciler.model import LineKind, SourceSupplier


@dataclass(frozen=True)
class CreditRules:
    """What configuration decides about vendor credits; built by `Settings.credit_rules()`."""

    lines: BillRules  # numbers, items, tax account, classes and tax codes: a bill's
    account: str  # lines without a product; a credit without lines
    application_account: str | None = None


def desired_credit(
    credit: SourceCredit, bills: Mapping[int, POStanding], rules: CreditRules
) -> DesiredCredit:
    """The VendorCredit for `credit`, given where the bills it is applied to stand (each in
    QBO: the plan waits otherwise); InvalidSourceRecord with the reason when it cannot be."""
    doc_id, r = credit.id, rules.lines
    if not credit.vendor_name:
        raise InvalidSourceRecord("vendor credit names no vendor", doc_id=doc_id)
    currency = values.foreign(values.currency(credit.currency, doc_id), r.home_currency)
    vendor = values.desired_vendor(
        SourceSupplier(id=credit.vendor_id, name=credit.vendor_name), currency=currency
    )
    lines = _lines(credit, rules)
    if not lines:
        raise InvalidSourceRecord("vendor credit has no lines and no amount", doc_id=doc_id)
    if sum((line.amount for line in lines), Decimal(0)) <= 0:
        raise InvalidSourceRecord("vendor credit total is not above zero", doc_id=doc_id)
    derived = f"{r.doc_number_prefix}C{doc_id}"
    number, changed = values.doc_number(
        credit.number, r.numbers, what="vendor credit", derived=derived, doc_id=doc_id
    )
    desired = DesiredCredit(
        source_id=doc_id,
        doc_number=number,
        vendor=vendor,
        lines=tuple(lines),
        applications=_applications(credit, bills, r.doc_number_prefix),
        txn_date=credit.credit_date,
        private_note=values.clean_text(_note(credit, changed)),
        currency=currency,
        ap_account=r.ap_account,
        application_account=rules.application_account,
        tax_calculation=r.line_coding.global_tax,
    )
    return dataclasses.replace(desired, content_hash=values.content_hash(desired))


def _lines(credit: SourceCredit, rules: CreditRules) -> list[DesiredBillLine]:
    r = rules.lines
    if not credit.lines:
        if credit.amount is None or credit.amount == 0:
            return []
        amount = values.checked_amount(values.cents(credit.amount), "amount", credit.id)
        return [_account_line("amount", amount, "Vendor credit", rules, credit.id)]
    lines = []
    for n, line in enumerate(credit.lines, 1):
        if line.product is not None:
            lines.append(bill_line(line, n, {}, r, credit.id))
            continue
        qty = values.checked_quantity(line.quantity, f"line {n}: quantity", credit.id)
        price = line.unit_price or Decimal(0)
        price = values.checked_quantity(price, f"line {n}: unit price", credit.id)
        amount = values.line_amount(qty, price)
        text = values.clean_text(line.description) or "Vendor credit"
        lines.append(_account_line(line_key(line, n), amount, text, rules, credit.id, line))
    tax = sum((values.cents(line.tax) for line in credit.lines), Decimal(0))
    if tax and r.line_coding.tax is None:  # the US rule: QBO computes it elsewhere
        lines.append(DesiredBillLine(LineKind.ACCOUNT, tax, "tax", "Tax", account=r.tax_account))
    return lines


def _account_line(
    key: str,
    amount: Decimal,
    text: str,
    rules: CreditRules,
    doc_id: int,
    line: SourceBillLine | None = None,
) -> DesiredBillLine:
    tax = values.cents(line.tax) if line is not None else Decimal(0)
    facts = coding.LineFacts(taxable=amount, tax=tax)
    try:
        coded = coding.code_line(facts, coding.DocFacts(), rules.lines.line_coding)
    except InvalidSourceRecord as exc:
        raise InvalidSourceRecord(f"{key}: {exc.message}", doc_id=doc_id) from None
    return DesiredBillLine(
        LineKind.ACCOUNT,
        amount,
        key,
        text,
        account=rules.account,
        class_name=coded.class_name,
        tax_code=coded.tax_code,
    )


def _applications(
    credit: SourceCredit, bills: Mapping[int, POStanding], prefix: str
) -> tuple[DesiredApplication, ...]:
    found = []
    for application in credit.applied():
        assert application.bill_id is not None
        amount = values.cents(application.amount)
        if amount <= 0:
            raise InvalidSourceRecord(
                f"application {application.id}: amount {application.amount} is not above zero",
                doc_id=credit.id,
            )
        bill = bills[application.bill_id]
        assert bill.qbo_id is not None
        number = f"{prefix}A{application.id}"[-values.DOC_NUMBER_MAX :]
        found.append(
            DesiredApplication(application.id, application.bill_id, bill.qbo_id, amount, number)
        )
    return tuple(sorted(found, key=lambda a: a.application_id))


def _note(credit: SourceCredit, number_changed: bool) -> str:
    parts = [f"Luminous vendor credit {credit.id}"]
    if credit.vendor_return_id is not None:
        parts[0] += f" (vendor return {credit.vendor_return_id})"
    supplier = values.collapsed(credit.number)
    if number_changed and supplier:
        parts.append(f"Supplier credit number: {supplier}")
    if credit.memo:
        parts.append(credit.memo)
    return "\n".join(parts)
