"""The shape of the configuration: every section, key, type, default and allowed value.

This is the registry the loader (`reconciler.config.loader`) works from: the sections are the fields
of `Settings`; a typed section is a frozen dataclass whose field annotations name a value type
(`config.VALUE_TYPES`: bool, int, str, Decimal money, durations, lists, string tables, secrets)
and whose metadata carry the checks (`choices`, `min`, `max`, `url`, `required`). A free-form
section (the user picks the keys, as in `[fields]`) is a `Settings` field whose metadata name
the function that reads it. Adding a setting is adding a field; adding a section is adding one
field to `Settings`. The domain rules (`mapping.MappingRules`, `plan.PlanPolicy`) take their
values, defaults included, from here.
"""

from __future__ import annotations

import difflib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import timedelta
from typing import Any, get_type_hints

from reconciler.documents import coding
from reconciler.documents.bill.mapping import BillRules
from reconciler.documents.credit.mapping import CreditRules
from reconciler.documents.payment.mapping import PaymentRules
from reconciler.documents.plan import PlanPolicy
from reconciler.documents.po.mapping import DEFAULT_FIELDS, FIELD_SOURCES, MappingRules
from reconciler.luminous.fields import PO_FIELDS
from reconciler.luminous.values import approval_word
from reconciler.model import ItemKind
from reconciler.qbo.company import CompanyProfile

MAX_CUSTOM_FIELDS = 3
COST_OF_GOODS_SOLD = "Cost of Goods Sold"
TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off"}

FieldMap = tuple[tuple[str, str | None], ...]  # (QBO field, source or None)
ALWAYS_SYNCED = frozenset({"DocNumber"})  # identity: QBO is searched by it before any create
Problem = Callable[[str], None]


class Secret:
    """A secret string that prints as '***'; `.reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


def _opt(default: Any = None, **meta: Any) -> Any:
    """A settings field with validation metadata (choices, min, max, url, required)."""
    return field(default=default, metadata=meta)


# --- sections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LuminousSettings:
    base_url: str = _opt("", url=True, required=True)
    api_token: Secret | None = field(default=None, metadata={"required": True})
    per_page: int = _opt(100, min=1, max=100)
    overlap: timedelta = timedelta(minutes=5)
    settle_lag: timedelta = timedelta(seconds=30)
    clock_tolerance: timedelta = timedelta(minutes=5)
    full_sweep_interval: timedelta = timedelta(hours=24)
    timeout: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class QBOSettings:
    environment: str = "production"  # "production" | "sandbox" | an OpenID discovery URL
    base_url: str = ""  # derived from environment unless set
    realm_id: str = _opt("", required=True)
    client_id: str = _opt("", required=True)
    client_secret: Secret | None = field(default=None, metadata={"required": True})
    redirect_uri: str = _opt("http://localhost:8080/callback", url=True)
    minorversion: int = 75
    requests_per_minute: int = _opt(500, min=1, max=500)
    requests_per_second: int = _opt(10, min=1, max=10)
    batches_per_minute: int = _opt(40, min=1, max=40)
    max_concurrent: int = _opt(10, min=1, max=10)
    throttle_wait: timedelta = timedelta(seconds=60)
    token_store: str = "reconciler-tokens.json"  # noqa: S105 (a path, not a password)
    token_key: Secret | None = None
    home_currency: str = "USD"
    timeout: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class StateSettings:
    path: str = "reconciler.db"


@dataclass(frozen=True)
class SyncSettings:
    poll_interval: timedelta = timedelta(seconds=60)
    require_approval: bool = True  # push only POs Luminous shows approved (fails closed)
    # The PO field that holds its approval. Luminous's reference shows no approval field, so
    # the name is an assumption: with require_approval, a PO without this field (or with it
    # empty) is not pushed and is reported failed, naming the field.
    approval_field: str = _opt(PO_FIELDS["approval"], required=True)
    # The approval field's values that mean approved, compared without case, spaces or
    # hyphens ("Approved" is "approved"); every other value holds the PO back.
    approved_values: tuple[str, ...] = ("approved",)
    on_cancel: str = _opt("close", choices=("close", "delete"))
    on_delete: str = _opt("close", choices=("close", "delete"))
    # order_status "inactive" and "deleted" (Luminous's documented states; the PO stays in its
    # list): "close" or "delete" the QBO PO. Both default to "close", as on_cancel and
    # on_delete do: a closed PO keeps its QBO history and reopens if the PO comes back to
    # "active", where a delete cannot be undone.
    on_inactive: str = _opt("close", choices=("close", "delete"))
    on_deleted: str = _opt("close", choices=("close", "delete"))
    # A PO with no currency (Luminous's PO shows none) in a multicurrency QBO company, where
    # CurrencyRef is required: "vendor" books it in its vendor's currency in QBO, "home" in
    # the home currency, "fail" fails the PO with the reason. "fail" by default: either guess
    # books a wrong amount when Luminous's figures are in the other currency.
    missing_currency: str = _opt("fail", choices=("vendor", "home", "fail"))
    # A PO with no warehouse (none named, or none found) when [classes] or [locations] take
    # their value from the warehouse: "fail" the PO with the reason naming the rule, or
    # "default" (the rule's default). Without a warehouse a PO also goes without ShipAddr;
    # both are told in the PO's history.
    missing_warehouse: str = _opt("fail", choices=("fail", "default"))
    closed_never_synced: str = _opt("skip", choices=("skip", "create"))
    doc_number_index: int = _opt(0, min=0)
    doc_number_too_long: str = _opt("reject", choices=("reject", "truncate"))
    doc_number_missing: str = _opt("derive", choices=("derive", "fail"))
    doc_number_prefix: str = "L-"
    vendor_name_collision: str = _opt("suffix", choices=("suffix", "fail"))
    vendor_name_suffix: str = " (Supplier)"
    inactive_vendor: str = _opt("reactivate", choices=("reactivate", "fail"))
    missing_item: str = _opt("create", choices=("create", "account_line"))
    item_type: str = _opt("NonInventory", choices=("NonInventory", "Inventory", "Service"))
    max_attempts: int = _opt(8, min=1)
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    drift_check_interval: timedelta = timedelta(minutes=15)  # 0: no drift checks
    drift: str = _opt("report", choices=("report", "restore"))


@dataclass(frozen=True)
class AccountsSettings:
    """Account NAMES as in QBO; the integrator resolves them to ids at run time."""

    ap: str = ""  # empty: the company's only accounts-payable account
    expense: str = COST_OF_GOODS_SOLD  # items' expense/COGS; lines of unknown items
    inventory_asset: str = "Inventory Asset"
    income: str = "Sales of Product Income"
    shipping: str = COST_OF_GOODS_SOLD
    tax: str = COST_OF_GOODS_SOLD
    discount: str = COST_OF_GOODS_SOLD
    other_costs: str = COST_OF_GOODS_SOLD


@dataclass(frozen=True)
class ClassesSettings:
    """A QBO class on every purchase line (Plus and Advanced); class names as in QBO."""

    source: str = _opt("", choices=("", *coding.CLASS_SOURCES))  # "": no classes
    field: str = ""  # the custom field or product attribute, for those sources
    map: tuple[tuple[str, str], ...] = ()  # source value -> QBO class
    default: str = ""  # for values the map does not name; "": no class
    on_inactive: str = _opt("reactivate", choices=("reactivate", "fail"))

    def lookup(self) -> coding.Lookup | None:
        return _lookup(self.source, self.field, self.map, self.default)


@dataclass(frozen=True)
class LocationsSettings:
    """A QBO location (Department) on every purchase order, as for classes."""

    source: str = _opt("", choices=("", *coding.LOCATION_SOURCES))
    field: str = ""
    map: tuple[tuple[str, str], ...] = ()
    default: str = ""
    on_inactive: str = _opt("reactivate", choices=("reactivate", "fail"))

    def lookup(self) -> coding.Lookup | None:
        return _lookup(self.source, self.field, self.map, self.default)


@dataclass(frozen=True)
class TaxSettings:
    """Tax codes on every line, for QBO companies outside the US (a US company ignores this)."""

    source: str = _opt("rate", choices=coding.TAX_SOURCES)
    codes: tuple[tuple[str, str], ...] = ()  # rate or tax class -> QBO TaxCode name
    zero_rate: str = ""  # the code of untaxed lines
    default: str = ""  # for a rate or tax class `codes` does not name; "": the PO fails
    charges: str = ""  # shipping and other charges; "": zero_rate
    calculation: str = _opt("TaxExcluded", choices=coding.CALCULATIONS)

    def rules(self) -> coding.TaxRules:
        return coding.TaxRules(
            source=self.source,
            codes=tuple((key.strip(), name.strip()) for key, name in self.codes),
            zero_rate=self.zero_rate.strip() or None,
            default=self.default.strip() or None,
            charges=self.charges.strip() or None,
            calculation=self.calculation,
        )


def _lookup(
    source: str, field_name: str, table: tuple[tuple[str, str], ...], default: str
) -> coding.Lookup | None:
    if not source:
        return None
    return coding.Lookup(
        source=source,
        field=field_name.strip(),
        table=tuple((value.strip(), name.strip()) for value, name in table),
        default=default.strip() or None,
    )


@dataclass(frozen=True)
class BillsSettings:
    """Luminous bills, or receiving reports, as QBO Bills linked to the QBO PO's lines."""

    from_: str = _opt("off", choices=("off", "bills", "receipts"), key="from")
    unpushed_po: str = _opt("park", choices=("park", "unlinked"))  # a PO that will not be pushed
    on_void: str = _opt("void", choices=("void", "delete"))
    on_delete: str = _opt("void", choices=("void", "delete"))
    freight_account: str = ""  # empty: accounts.shipping
    fees_account: str = ""  # empty: accounts.other_costs
    receipt_number_prefix: str = "RR-"


@dataclass(frozen=True)
class VendorCreditsSettings:
    """Luminous vendor credits as QBO VendorCredits, applied to the bills Luminous applies
    them to."""

    from_: str = _opt("off", choices=("off", "luminous"), key="from")
    account: str = ""  # lines without a product; empty: accounts.expense
    application_account: str = ""  # the bank account an application's BillPayment names
    on_cancel: str = _opt("void", choices=("void", "delete"))


@dataclass(frozen=True)
class PaymentsSettings:
    """Luminous bill payments as QBO BillPayments linked to the bills the sync wrote."""

    from_: str = _opt("off", choices=("off", "luminous"), key="from")
    accounts: tuple[tuple[str, str], ...] = ()  # payment_type (or "default") -> QBO account
    card_types: tuple[str, ...] = ("credit_card",)  # paid with PayType CreditCard
    on_delete: str = _opt("delete", choices=("delete", "void"))


def toml_key(spec: Any) -> str:
    """The key a field has in the file and the environment (`from_` is written `from`)."""
    return spec.metadata.get("key", spec.name)


@dataclass(frozen=True)
class DaemonSettings:
    """The health server: `/healthz` (200 or 503, with the reason) and `/metrics`."""

    health_host: str = _opt(
        "127.0.0.1",
        required=True,
        help="address the health server listens on; it has no authentication, so keep it "
        "local unless a supervisor elsewhere must reach it (the image binds 0.0.0.0)",
    )
    health_port: int = _opt(
        8787,
        min=0,
        max=65535,
        help="port of /healthz, /metrics and the status page; /healthz and /metrics are "
        "answered on their own thread, never queued behind page views",
    )


@dataclass(frozen=True)
class StatusPageSettings:
    """The HTML status page on the health server; its retry button only with a token."""

    enabled: bool = True
    retry_token: Secret | None = None  # unset: the page is read-only, no retry route at all
    allowed_hosts: tuple[str, ...] = ()  # Host names it also answers to (behind a proxy)
    # The zone times are shown in (an IANA name); empty: the QBO company's, else UTC
    timezone: str = ""
    # Luminous's web app, "https://acme.joinluminous.com/{resource}/{id}"; empty: no links
    luminous_url: str = ""


@dataclass(frozen=True)
class AlertsSettings:
    """A chat webhook (Slack and alike) told when documents newly fail, drift is found,
    syncing stops or resumes, and when new QuickBooks tokens cannot be saved."""

    webhook_url: Secret | None = field(
        default=None,
        metadata={"help": "the incoming-webhook URL; unset: no alerts (the URL is a secret)"},
    )
    timeout: timedelta = field(
        default=timedelta(seconds=5),
        metadata={"help": "the longest wait for any one read of the webhook's answer"},
    )
    max_attempts: int = _opt(3, min=1, max=10, help="POSTs of one message at most")
    give_up_after: timedelta = field(
        default=timedelta(seconds=30),
        metadata={
            "help": "the most one message may cost in all, retries included, whatever the "
            "webhook does (slow, trickling, silent); a pass never waits for it"
        },
    )
    max_listed: int = _opt(5, min=1, max=20, help="documents named in one message")
    aborted_passes: int = _opt(
        3,
        min=1,
        max=1000,
        help="passes in a row that do not finish (Luminous unreachable, throttling, no token) "
        "before an alert says syncing is interrupted; a crashed pass or a fatal stop is "
        "alerted at once, and the first pass that finishes afterwards says syncing resumed",
    )


@dataclass(frozen=True)
class LoggingSettings:
    level: str = _opt("INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    format: str = _opt("json", choices=("json", "console"))


@dataclass(frozen=True)
class CustomFieldSetting:
    name: str  # the QBO custom field name
    source: str  # a PO attribute (mapping.CUSTOM_FIELD_ATTRIBUTES) or a Luminous custom field
    definition_id: str


@dataclass(frozen=True)
class RawValue:
    """One value as read, with where it came from (for the problem messages)."""

    value: object
    where: str
    rank: int = 0
    from_env: bool = False
    is_file: bool = False


def did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word.lower(), [o.lower() for o in options], n=1, cutoff=0.5)
    if not close:
        return ""
    original = next(o for o in options if o.lower() == close[0])
    return f" (did you mean {original!r}?)"


def parse_fields(entries: Mapping[str, RawValue], problem: Problem) -> FieldMap:
    """[fields]: QBO field = false (off) | true (its default source) | a source."""
    chosen: dict[str, str | None] = dict(DEFAULT_FIELDS)
    by_lower = {name.lower(): name for name in FIELD_SOURCES}
    for key, entry in entries.items():
        qbo_field = by_lower.get(key.lower())
        if qbo_field is None:
            hint = did_you_mean(key, list(FIELD_SOURCES))
            problem(f"{entry.where}: unknown QBO field {key!r}{hint}")
            continue
        value = entry.value
        if entry.from_env and isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
            value = value.strip().lower() in TRUE
        if value is False and qbo_field in ALWAYS_SYNCED:
            problem(
                f"{entry.where}: {qbo_field} cannot be turned off: it is how the sync finds its "
                "POs in QBO (it may come from another source)"
            )
        elif value is False:
            chosen[qbo_field] = None
        elif value is True:
            chosen[qbo_field] = dict(DEFAULT_FIELDS)[qbo_field]
        elif isinstance(value, str) and value in FIELD_SOURCES[qbo_field]:
            chosen[qbo_field] = value
        else:
            options = ", ".join(sorted(FIELD_SOURCES[qbo_field]))
            problem(
                f"{entry.where}: {qbo_field} takes false or a source ({options}); got {value!r}"
            )
    return tuple(chosen.items())


CustomFields = tuple[CustomFieldSetting, ...]


def parse_custom_fields(entries: Mapping[str, RawValue], problem: Problem) -> CustomFields:
    """[custom_fields]: "QBO name" = "source" or { source = ..., definition_id = ... }."""
    result = []
    for position, (name, entry) in enumerate(entries.items(), start=1):
        value = entry.value
        source, definition_id = None, str(position)
        if isinstance(value, str):
            source = value
        elif isinstance(value, dict):
            source = value.get("source")
            definition_id = str(value.get("definition_id", definition_id))
            extra = set(value) - {"source", "definition_id"}
            if extra:
                problem(f"{entry.where}: unknown key(s) {', '.join(sorted(extra))}")
        if not isinstance(source, str) or not source.strip() or not name.strip():
            problem(
                f"{entry.where}: a custom field needs a name and a source, e.g. "
                f'"Sales Rep" = "rep"; got {value!r}'
            )
            continue
        result.append(CustomFieldSetting(name.strip(), source.strip(), definition_id))
    if len(result) > MAX_CUSTOM_FIELDS:
        problem(
            f"custom_fields: QBO has at most {MAX_CUSTOM_FIELDS} purchase-form custom fields; "
            f"{len(result)} are configured"
        )
    return tuple(result)


@dataclass(frozen=True)
class Settings:
    luminous: LuminousSettings = LuminousSettings()
    qbo: QBOSettings = QBOSettings()
    state: StateSettings = StateSettings()
    sync: SyncSettings = SyncSettings()
    accounts: AccountsSettings = AccountsSettings()
    classes: ClassesSettings = ClassesSettings()
    locations: LocationsSettings = LocationsSettings()
    tax: TaxSettings = TaxSettings()
    bills: BillsSettings = BillsSettings()
    vendor_credits: VendorCreditsSettings = VendorCreditsSettings()
    payments: PaymentsSettings = PaymentsSettings()
    daemon: DaemonSettings = DaemonSettings()
    status_page: StatusPageSettings = StatusPageSettings()
    alerts: AlertsSettings = AlertsSettings()
    logging: LoggingSettings = LoggingSettings()
    # Free-form sections: a table of the user's own keys, read by the function in `parse`.
    fields: FieldMap = field(default=DEFAULT_FIELDS, metadata={"parse": parse_fields})
    custom_fields: CustomFields = field(default=(), metadata={"parse": parse_custom_fields})

    @property
    def poll_interval(self) -> timedelta:
        return self.sync.poll_interval

    def mapping_rules(self, company: CompanyProfile | None = None) -> MappingRules:
        """The mapping rules; `company` (read from QBO at the start of a pass) decides the tax
        rule: without it, the US one."""
        a = self.accounts
        return MappingRules(
            fields=tuple((name, source) for name, source in self.fields if source is not None),
            doc_number_index=self.sync.doc_number_index,
            doc_number_too_long=self.sync.doc_number_too_long,
            doc_number_missing=self.sync.doc_number_missing,
            doc_number_prefix=self.sync.doc_number_prefix,
            on_cancel=self.sync.on_cancel,
            on_inactive=self.sync.on_inactive,
            on_deleted=self.sync.on_deleted,
            multicurrency=company.multicurrency if company is not None else False,
            missing_currency=self.sync.missing_currency,
            missing_warehouse=self.sync.missing_warehouse,
            item_kind=ItemKind(self.sync.item_type),
            home_currency=self.qbo.home_currency,
            ap_account=a.ap or None,
            shipping_account=a.shipping,
            tax_account=a.tax,
            discount_account=a.discount,
            other_costs_account=a.other_costs,
            custom_fields=tuple((c.name, c.source) for c in self.custom_fields),
            line_coding=self.coding_rules(company),
        )

    def bill_rules(self) -> BillRules:
        """What configuration decides about bills (their classes and tax codes come from the
        company's rules once a pass has read it)."""
        b, a, s = self.bills, self.accounts, self.sync
        return BillRules(
            doc_number_too_long=s.doc_number_too_long,
            doc_number_missing=s.doc_number_missing,
            doc_number_prefix=s.doc_number_prefix,
            receipt_number_prefix=b.receipt_number_prefix,
            unpushed_po=b.unpushed_po,
            on_void=b.on_void,
            item_kind=ItemKind(s.item_type),
            home_currency=self.qbo.home_currency,
            ap_account=a.ap or None,
            tax_account=a.tax,
            freight_account=b.freight_account or a.shipping,
            fees_account=b.fees_account or a.other_costs,
            line_coding=self.coding_rules(),
        )

    def credit_rules(self) -> CreditRules:
        """Vendor credits: a bill's line rules, their own account and application account."""
        c = self.vendor_credits
        return CreditRules(
            lines=self.bill_rules(),
            account=c.account or self.accounts.expense,
            application_account=c.application_account or None,
        )

    def payment_rules(self) -> PaymentRules:
        p = self.payments
        return PaymentRules(
            accounts=p.accounts,
            card_types=p.card_types,
            doc_number_prefix=self.sync.doc_number_prefix,
            home_currency=self.qbo.home_currency,
            ap_account=self.accounts.ap or None,
        )

    def coding_rules(self, company: CompanyProfile | None = None) -> coding.CodingRules:
        """Classes, locations and tax codes, as `[fields]` lets them sync in this company."""
        on = {name: source is not None for name, source in self.fields}
        return coding.rules_for(
            company,
            classes=self.classes.lookup() if on.get("ClassRef") else None,
            locations=self.locations.lookup() if on.get("DepartmentRef") else None,
            tax=self.tax.rules(),
            tax_codes_on=on.get("TaxCodeRef", True),
        )

    def plan_policy(self) -> PlanPolicy:
        s = self.sync
        return PlanPolicy(
            on_delete=s.on_delete,
            closed_never_synced=s.closed_never_synced,
            require_approval=s.require_approval,
            approval_field=s.approval_field.strip(),
            approved_values=tuple(approval_word(v) for v in s.approved_values if v.strip()),
            max_attempts=s.max_attempts,
            backoff_base=s.backoff_base,
            backoff_cap=s.backoff_cap,
        )

    def item_account_names(self) -> dict[str, str | None]:
        """Account names a new item needs, by role (expense, income, asset)."""
        inventory = self.sync.item_type == ItemKind.INVENTORY.value
        return {
            "expense": self.accounts.expense,
            "income": self.accounts.income or None,
            "asset": (self.accounts.inventory_asset or None) if inventory else None,
        }

    def custom_field_ids(self) -> dict[str, str]:
        """QBO custom field name -> DefinitionId."""
        return {c.name: c.definition_id for c in self.custom_fields}


def typed_sections() -> dict[str, type]:
    """Section name -> its dataclass, in the order of `Settings`."""
    hints = get_type_hints(Settings)
    return {f.name: hints[f.name] for f in fields(Settings) if is_dataclass(hints[f.name])}


def free_form_sections() -> dict[str, Callable[[Mapping[str, RawValue], Problem], Any]]:
    """Section name -> the function that reads it."""
    return {f.name: f.metadata["parse"] for f in fields(Settings) if "parse" in f.metadata}


def all_sections() -> tuple[str, ...]:
    return (*typed_sections(), *free_form_sections())
