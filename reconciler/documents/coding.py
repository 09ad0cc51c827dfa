"""Pure: how a purchase line is coded in QBO (its class and, outside the US, its tax code), and a
document's location and tax calculation. One place for PO lines and bill lines alike: a writer
describes its line (`LineFacts`) and its document (`DocFacts`) and calls `code_line`.

Classes (`[classes]`) and locations (`[locations]`)
    A value from the configured source: the warehouse's name, a custom field of the document,
    or (classes only) an attribute of the line's product. The value is looked up in `table`
    (source value -> QBO name; compared without regard to case or surrounding spaces); a value
    the table does not name, or no value at all, takes `default`; without a default the line
    has no class (the document no location). Lines without a product (discounts, shipping,
    other costs) take what the document-level sources give, else the default.

Tax codes (`[tax]`; only companies outside the US: a US company keeps the US rule, the tax as
an account line)
    source "rate": the line's rate as Luminous gives it; without one, the rate its tax amount
    fits: the configured rate r for which the tax Luminous has is what r gives on the line,
    half up to the cent (TaxExcluded: amount x r / 100; TaxInclusive: the gross amount
    x r / (100 + r)). Exactly one code must fit; none or several is the document's failure.
    source "tax_class": the product's tax class, looked up in `codes`.
    A line without tax (rate 0, or no tax and no class) takes `zero_rate`; a rate or class the
    table does not name takes `default`; shipping and other charges take `charges`, else
    `zero_rate`. When none applies the document fails alone, with the reason
    (`errors.InvalidSourceRecord`): QBO refuses a purchase line without a tax code (6000).
    QBO itself computes the tax from the codes (`GlobalTaxCalculation` TaxExcluded or
    TaxInclusive, from `calculation`): Luminous' tax amounts only choose the code.
    `[fields] TaxCodeRef = false` outside the US posts the documents out of scope of tax
    (GlobalTaxCalculation NotApplicable) with the tax as an account line, as in the US (QBO
    lists NotApplicable among the GlobalTaxCalculation values; that every non-US company takes
    it on purchases is unsure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from reconciler.errors import InvalidSourceRecord
from reconciler.qbo.company import CompanyProfile

CLASS_SOURCES = ("warehouse", "custom_field", "product_attribute")
LOCATION_SOURCES = ("warehouse", "custom_field")
TAX_SOURCES = ("rate", "tax_class")
CALCULATIONS = ("TaxExcluded", "TaxInclusive")
OUT_OF_SCOPE = "NotApplicable"
ZERO = Decimal(0)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
NAME_MAX = 100  # Class, Department and TaxCode names (Intuit's references)


@dataclass(frozen=True)
class Lookup:
    """Where a class (or location) comes from and how its value becomes a QBO name."""

    source: str  # one of CLASS_SOURCES / LOCATION_SOURCES
    field: str = ""  # the custom field or product attribute, for those sources
    table: tuple[tuple[str, str], ...] = ()  # source value -> QBO name
    default: str | None = None

    def names(self) -> tuple[str, ...]:
        """Every QBO name this configuration can give, in order, once each."""
        return _distinct([*(name for _, name in self.table), self.default])

    def name_for(self, value: str | None) -> str | None:
        key = _key(value)
        if key:
            for source_value, name in self.table:
                if _key(source_value) == key:
                    return name
        return self.default


@dataclass(frozen=True)
class TaxRules:
    """Which QBO TaxCode a line gets, outside the US."""

    source: str = "rate"  # rate | tax_class
    codes: tuple[tuple[str, str], ...] = ()  # rate or tax class -> TaxCode name
    zero_rate: str | None = None
    default: str | None = None
    charges: str | None = None
    calculation: str = "TaxExcluded"

    def names(self) -> tuple[str, ...]:
        return _distinct(
            [*(name for _, name in self.codes), self.zero_rate, self.default, self.charges]
        )

    @property
    def inclusive(self) -> bool:
        return self.calculation == "TaxInclusive"


@dataclass(frozen=True)
class CodingRules:
    """Classes, locations and tax as configured, for one company."""

    classes: Lookup | None = None
    locations: Lookup | None = None
    tax: TaxRules | None = None  # None: the US rule (the tax as an account line)
    global_tax: str | None = None  # GlobalTaxCalculation to send; None in a US company


@dataclass(frozen=True)
class DocFacts:
    """What the document-level sources read: its warehouse and custom fields."""

    warehouse: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LineFacts:
    """What a line's coding reads. `taxable` is the amount Luminous taxed (the line less its
    discount; gross when prices include tax); `charge` marks shipping and other charges."""

    taxable: Decimal = ZERO
    tax: Decimal = ZERO
    tax_rate: Decimal | None = None
    tax_class: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    charge: bool = False


@dataclass(frozen=True)
class LineCoding:
    class_name: str | None = None
    tax_code: str | None = None


def rules_for(
    profile: CompanyProfile | None,
    *,
    classes: Lookup | None,
    locations: Lookup | None,
    tax: TaxRules,
    tax_codes_on: bool,
) -> CodingRules:
    """The rules for one company: tax codes only outside the US (an unknown company is taken
    as a US one: nothing is sent that a US company would refuse)."""
    if profile is None or profile.is_us:
        return CodingRules(classes, locations)
    if not tax_codes_on:
        return CodingRules(classes, locations, None, OUT_OF_SCOPE)
    return CodingRules(classes, locations, tax, tax.calculation)


# --- the decisions ------------------------------------------------------------------------


def code_line(line: LineFacts, doc: DocFacts, rules: CodingRules) -> LineCoding:
    """A line's class and tax code; InvalidSourceRecord (the reason) when it can have no tax
    code and needs one."""
    return LineCoding(class_for(line, doc, rules.classes), tax_code_for(line, rules.tax))


def class_for(line: LineFacts, doc: DocFacts, lookup: Lookup | None) -> str | None:
    if lookup is None:
        return None
    if lookup.source == "product_attribute":
        return lookup.name_for(_named(line.attributes, lookup.field))
    return lookup.name_for(_doc_value(doc, lookup))


def location_for(doc: DocFacts, rules: CodingRules) -> str | None:
    lookup = rules.locations
    return None if lookup is None else lookup.name_for(_doc_value(doc, lookup))


def tax_code_for(line: LineFacts, tax: TaxRules | None) -> str | None:
    if tax is None:
        return None
    if line.charge:
        code = tax.charges or tax.zero_rate
        if code is None:
            raise InvalidSourceRecord(
                "no tax code for shipping and other charges: set tax.charges or tax.zero_rate"
            )
        return code
    if tax.source == "tax_class":
        return _by_class(line, tax)
    return _by_rate(line, tax)


def _by_class(line: LineFacts, tax: TaxRules) -> str:
    if line.tax_class is not None:
        found = _named(tax.codes, line.tax_class)
        what = f"tax class {line.tax_class!r}"
    else:
        found = tax.zero_rate if line.tax == 0 else None
        what = f"no tax class and tax {line.tax}"
    return _or_default(found, tax, f"{what} has no tax code in tax.codes")


def _by_rate(line: LineFacts, tax: TaxRules) -> str:
    rated = [(rate, code) for text, code in tax.codes if (rate := parse_rate(text)) is not None]
    if line.tax_rate is not None:
        found = next((code for rate, code in rated if rate == line.tax_rate), None)
        if found is None and line.tax_rate == 0:
            found = tax.zero_rate
        return _or_default(found, tax, f"tax rate {_pct(line.tax_rate)} is not in tax.codes")
    if line.tax == 0:
        found = next((code for rate, code in rated if rate == 0), tax.zero_rate)
        return _or_default(found, tax, "an untaxed line needs tax.zero_rate")
    fitting = _distinct(
        code for rate, code in rated if rate and fits(line.taxable, line.tax, rate, tax.inclusive)
    )
    if len(fitting) > 1:
        raise InvalidSourceRecord(
            f"tax {line.tax} on {line.taxable} fits several rates in tax.codes "
            f"({', '.join(fitting)}): give the lines a tax_rate in Luminous"
        )
    rates = ", ".join(_pct(rate) for rate, _ in rated if rate) or "none"
    return _or_default(
        fitting[0] if fitting else None,
        tax,
        f"tax {line.tax} on {line.taxable} fits no rate in tax.codes ({rates})",
    )


def fits(taxable: Decimal, tax: Decimal, rate: Decimal, inclusive: bool) -> bool:
    """Whether `rate` percent gives `tax` on `taxable`, half up to the cent."""
    base = HUNDRED + rate if inclusive else HUNDRED
    return (taxable * rate / base).quantize(CENT, rounding=ROUND_HALF_UP) == tax


def _or_default(found: str | None, tax: TaxRules, reason: str) -> str:
    code = found or tax.default
    if code is None:
        raise InvalidSourceRecord(f"{reason}; QBO needs a tax code on every line (or tax.default)")
    return code


# --- configuration checks -----------------------------------------------------------------


def parse_rate(text: str) -> Decimal | None:
    """A rate key ("20", "20.0", "20%") as a percent from 0 to 100, or None."""
    try:
        rate = Decimal(str(text).strip().removesuffix("%").strip())
    except InvalidOperation:
        return None
    return rate if rate.is_finite() and ZERO <= rate <= HUNDRED else None


def lookup_problems(section: str, lookup: Lookup | None) -> list[str]:
    if lookup is None:
        return []
    problems = []
    if lookup.source in ("custom_field", "product_attribute") and not lookup.field.strip():
        problems.append(f"{section}.field must name the {lookup.source.replace('_', ' ')}")
    problems += _name_problems(section, lookup.names(), lookup.table)
    return problems


def tax_problems(tax: TaxRules) -> list[str]:
    problems = []
    if tax.source == "rate":
        problems += [
            f'tax.codes: {key!r} is not a rate (a percent from 0 to 100, like "20" or "5.5")'
            for key, _ in tax.codes
            if parse_rate(key) is None
        ]
    return problems + _name_problems("tax", tax.names(), tax.codes)


def company_problems(rules: CodingRules, profile: CompanyProfile) -> list[str]:
    """What the configuration asks that this company cannot do (stops the pass: every document
    would fail the same way)."""
    problems = []
    plan = f"QuickBooks Online {profile.edition}"
    for section, field, lookup, tracked in (
        ("classes", "ClassRef", rules.classes, profile.class_tracking != "off"),
        ("locations", "DepartmentRef", rules.locations, profile.tracks_locations),
    ):
        if lookup is None:
            continue
        turn_off = f"remove [{section}] or set [fields] {field} = false"
        if not profile.edition_has_tracking:
            problems.append(
                f"[{section}] is set, but {plan} has no classes or locations (Plus and Advanced "
                f"do): upgrade the company, or {turn_off}"
            )
        elif not tracked:
            problems.append(
                f"[{section}] is set, but {section} are not tracked in this QuickBooks company: "
                f"turn them on (Account and settings > Advanced > Categories), or {turn_off}"
            )
    tax = rules.tax
    if tax is not None and not (tax.codes or tax.zero_rate or tax.default):
        problems.append(
            f"the company is in {profile.country}: QBO refuses a purchase line without a tax "
            "code; configure [tax] (codes, zero_rate), or set [fields] TaxCodeRef = false to post "
            "purchases out of scope of tax"
        )
    return problems


def _name_problems(
    section: str, names: Iterable[str], table: tuple[tuple[str, str], ...]
) -> list[str]:
    problems = [
        f"{section}: {name!r} is longer than {NAME_MAX} characters"
        for name in names
        if len(name) > NAME_MAX
    ]
    problems += [f"{section}: {key!r} maps to an empty name" for key, name in table if not name]
    return problems


# --- small helpers ------------------------------------------------------------------------


def _doc_value(doc: DocFacts, lookup: Lookup) -> str | None:
    if lookup.source == "warehouse":
        return doc.warehouse
    return _named(doc.custom_fields, lookup.field)


def _named(pairs: tuple[tuple[str, str], ...], name: str) -> str | None:
    key = _key(name)
    return next((value for k, value in pairs if _key(k) == key), None)


def _key(value: str | None) -> str:
    return " ".join(value.split()).casefold() if value else ""


def _distinct(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return tuple(seen)


def _pct(rate: Decimal) -> str:
    return format(rate.normalize(), "f") + "%"
