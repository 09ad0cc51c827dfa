"""One emulated QBO company: its objects, the rules QBO applies to writes, query and CDC.

Thread-safe: every public method takes the company lock, so a write and its requestid answer are
one step. Money is Decimal throughout; times come from the emulator's clock (aware UTC).
Unsure corners and what was decided are listed in reconciler/sandbox/qbo/server.py's docstring.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# qbo_bills, qbo_classes, qbo_payments and qbo_tax import this module back: they use it only
# inside functions, so either may be imported first.
from reconciler.sandbox.qbo import (
    bills as qbo_bills,
)
from reconciler.sandbox.qbo import (
    classes as qbo_classes,
)
from reconciler.sandbox.qbo import (
    credits as qbo_credits,
)
from reconciler.sandbox.qbo import (
    lines as qbo_lines,
)
from reconciler.sandbox.qbo import (
    payments as qbo_payments,
)
from reconciler.sandbox.qbo import (
    query as qbo_query,
)
from reconciler.sandbox.qbo import (
    settings as qbo_settings,
)
from reconciler.sandbox.qbo import (
    tax as qbo_tax,
)
from reconciler.sandbox.qbo.schema import SCHEMA, too_long, utf16_length
from reconciler.sandbox.qbo.wire import CENT, QBOFault, iso_seconds, to_decimal

ENTITIES = {
    "purchaseorder": "PurchaseOrder",
    "vendor": "Vendor",
    "item": "Item",
    "account": "Account",
    "customer": "Customer",
    "employee": "Employee",
    "companyinfo": "CompanyInfo",
    "preferences": "Preferences",
    "bill": "Bill",
    "billpayment": "BillPayment",
    "vendorcredit": "VendorCredit",
    "class": "Class",
    "department": "Department",
    "taxcode": "TaxCode",
    "taxrate": "TaxRate",
}
NAME_LIST = ("Vendor", "Customer", "Employee")
HAS_ACTIVE = (*NAME_LIST, "Item", "Account", "Class", "Department", "TaxCode", "TaxRate")
DELETABLE = ("PurchaseOrder", "Bill", "BillPayment", "VendorCredit")
VOIDABLE = ("BillPayment",)  # of the entities here (Intuit: also Invoice, Payment, SalesReceipt)
SINGLETONS = ("CompanyInfo", "Preferences")
# Read and query only through the entity endpoints (Intuit lists no create or update for them).
READ_ONLY = ("TaxCode", "TaxRate")
# Transactions: their MetaData names the user who changed them last.
TRANSACTIONS = ("PurchaseOrder", "Bill", "BillPayment", "VendorCredit")
APP_USER_ID = "9130350000000001"  # the connected app's user (recorded ids have this shape)
OTHER_USER_ID = "9130350000000002"  # someone working in QBO (edit_as_other_user)
# Entities whose lines keep their Ids across updates (qbo_lines).
LINE_ID_ENTITIES = ("PurchaseOrder", "Bill", "VendorCredit")
# Entities whose TotalAmt the client sets (a payment's amount) instead of QBO computing it.
INPUT_TOTALS = ("BillPayment",)
CDC_LOOKBACK = timedelta(days=30)
CDC_MAX_PER_ENTITY = 1000
# Entities CDC refuses (qbo-api.md: "CDC does not cover TaxCode or TaxRate"); every other entity
# in ENTITIES is answered. The refusal's fault is not documented: the same 2010 as an unknown name.
CDC_UNSUPPORTED = {"TaxCode", "TaxRate"}

FORBIDDEN_NAME_CHARS = (":", "\t", "\n", "\r")

ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Equity": "Equity",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Long Term Liability": "Liability",
    "Other Current Liability": "Liability",
    "Income": "Revenue",
    "Other Income": "Revenue",
}
ITEM_TYPES = ("Inventory", "NonInventory", "Service", "Group", "Category")
LINE_DETAILS = ("ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail")

# Fields the service computes or maintains; what a client sends for them is ignored.
SYSTEM_FIELDS = {
    "Id",
    "SyncToken",
    "sparse",
    "domain",
    "MetaData",
    "status",
    "TotalAmt",
    "FullyQualifiedName",
    "Level",
    "Balance",
    "BalanceWithJobs",
    "CurrentBalance",
    "CurrentBalanceWithSubAccounts",
    "Classification",
    "LinkedTxn",
}
REF_TARGETS = {
    "VendorRef": "Vendor",
    "CustomerRef": "Customer",
    "ItemRef": "Item",
    "AccountRef": "Account",
    "APAccountRef": "Account",
    "IncomeAccountRef": "Account",
    "ExpenseAccountRef": "Account",
    "AssetAccountRef": "Account",
    "PrefVendorRef": "Vendor",
}
REF_ELEMENT_NAMES = {
    "Vendor": "Names",
    "Customer": "Names",
    "Employee": "Names",
    "Account": "Accounts",
    "Item": "Item",
}
# The fields a WHERE clause may name, one row per entity (names compare case-insensitively);
# every entity also takes ALWAYS_FILTERABLE. Any other field is 4001 "property 'X' is not
# queryable". Sources: qbo-api.md; quickbooks-ruby #403 (Vendor: PrimaryEmailAddr refused, with
# Intuit's list of the vendor fields that are not filterable); QuickBooks-V3-DotNET-SDK #163
# (AcctNum refused on Customer, Vendor and Account); Intuit's 2014 query blog (Customer by
# CompanyName); CData's QBO driver tables (cdn.cdata.com, Items: FullyQualifiedName not
# filterable). Adding an entity: add its row here.
FILTERABLE: dict[str, set[str]] = {
    "Vendor": {
        "DisplayName",
        "GivenName",
        "MiddleName",
        "FamilyName",
        "Suffix",
        "CompanyName",
        "PrintOnCheckName",
        "Active",
    },
    "Customer": {
        "DisplayName",
        "GivenName",
        "MiddleName",
        "FamilyName",
        "Suffix",
        "CompanyName",
        "FullyQualifiedName",
        "PrintOnCheckName",
        "Active",
    },
    "Employee": {"DisplayName", "GivenName", "FamilyName", "Active"},
    "Item": {"Name", "Sku", "Type", "Active"},
    "Account": {"Name", "AccountType", "AccountSubType", "Classification", "Active"},
    "PurchaseOrder": {"DocNumber", "TxnDate"},
    "CompanyInfo": set(),
    "Preferences": set(),
    # Intuit's Bill reference marks these filterable (qbo_bills); BillPayment's list is unsure.
    "Bill": {
        "DocNumber",
        "TxnDate",
        "DueDate",
        "VendorRef",
        "APAccountRef",
        "SalesTermRef",
        "TotalAmt",
        "Balance",
    },
    "BillPayment": {"DocNumber", "TxnDate", "VendorRef", "TotalAmt"},
    "VendorCredit": {"DocNumber", "TxnDate", "VendorRef", "TotalAmt"},  # unsure, as BillPayment
    "Class": {"Name", "FullyQualifiedName", "Active"},
    "Department": {"Name", "FullyQualifiedName", "Active"},
    "TaxCode": {"Name", "Active"},
    "TaxRate": {"Name", "Active"},
}
ALWAYS_FILTERABLE = {"Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime"}

INACTIVE_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)
DUPLICATE_NAME_DETAIL = {
    "names": "Another customer, vendor or employee is already using this name.",
    "Item": "Another product or service is already using this name.",
    "Account": "Another account is already using this name.",
}


# --- fault builders ---------------------------------------------------------------------------


def required_missing(name: str) -> QBOFault:
    """2020: a required field is absent."""
    return QBOFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element=name,
    )


def unsupported_property(detail: str) -> QBOFault:
    """2010: an unknown or malformed property."""
    return QBOFault("2010", "Request has invalid or unsupported property", detail)


def check_id(entity: str, object_id: Any) -> None:
    """2030 "Invalid ID" for an Id that is not a whole number (customer/1.5); TaxCode keeps the
    US pseudo codes TAX and NON. The Detail's wording is the emulator's (QBO's not recorded)."""
    text = str(object_id)
    if entity != "TaxCode" and not text.isdigit():
        detail = f"Id should be a valid number. Supplied value:{text}"
        raise QBOFault("2030", "Invalid ID", detail, element="Id")


def business_rule(detail: str, code: str = "6000") -> QBOFault:
    """6000: a business validation error."""
    return QBOFault(
        code,
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
    )


def not_found() -> QBOFault:
    """610: the object is missing, deleted or inactive."""
    return QBOFault("610", "Object Not Found", INACTIVE_DETAIL)


def invalid_reference(target: str, ref_id: Any, element: str) -> QBOFault:
    """2500: a reference to an id that does not exist."""
    names = REF_ELEMENT_NAMES.get(target, target)
    return QBOFault(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {names} element id {ref_id} not found",
        element=element,
    )


def unsupported_operation(detail: str) -> QBOFault:
    """500: an operation or resource QBO does not offer."""
    return QBOFault("500", "Unsupported Operation", detail)


def duplicate_name(kind: str, existing_id: str) -> QBOFault:
    """6240: the name is taken (name list, items or accounts)."""
    return QBOFault(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : {DUPLICATE_NAME_DETAIL[kind]} "
        f"Please use a different name.",
        element="",
    )


def duplicate_doc_number(doc_number: str, txn_type: str, txn_id: str) -> QBOFault:
    """6140: the document number is taken and the company checks for duplicates."""
    return QBOFault(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. "
        f"This number has already been used. DocNumber={doc_number} is assigned "
        f"to TxnType={txn_type} with TxnId={txn_id}",
        element="DocNumber",
    )


# --- small helpers ----------------------------------------------------------------------------


def _text(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise unsupported_property(f"Property Name:{name} must be a string")
    return value


PERSON_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")


def _check_vendor_limit(body: dict, name: str) -> None:
    """A name-list field within the Vendor's documented maximum (2050 otherwise)."""
    value = _text(body, name)
    maximum = SCHEMA.limit("Vendor", name)
    if value is not None and maximum is not None and utf16_length(value) > maximum:
        raise too_long(name, maximum, utf16_length(value))


def _check_email(container: Any) -> None:
    if not isinstance(container, dict) or container.get("Address") in (None, ""):
        return
    address = str(container["Address"])
    local, _, domain = address.partition("@")
    if not local or "." not in domain or " " in address:
        raise business_rule("Please enter a valid email address.")


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _ref_id(ref: Any) -> str | None:
    if isinstance(ref, dict) and ref.get("value") not in (None, ""):
        return str(ref["value"])
    return None


class Company:
    """The data of one realm and the rules QBO enforces on it."""

    def __init__(
        self,
        realm_id: str,
        clock: Callable[[], datetime],
        *,
        country: str = "US",
        edition: str = "Plus",
    ) -> None:
        self.realm_id = realm_id
        self.clock = clock
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, dict]] = {name: {} for name in ENTITIES.values()}
        self.deleted: dict[str, dict[str, datetime]] = {name: {} for name in ENTITIES.values()}
        # Each object's last change at full clock precision (MetaData renders whole seconds).
        self.changed_at: dict[str, dict[str, datetime]] = {}
        self._last_moment: datetime | None = None
        self.next_id: dict[str, int] = {name: 1 for name in ENTITIES.values()}
        self.next_doc_number = 1001
        self.next_address_id = 1
        # Who writes (MetaData.LastModifiedByRef): the app's user, or another QBO user
        self.acting_user = APP_USER_ID
        self.refuse_closed_po_edits = False
        # Per (entity, Id): the highest line Id the object has had (qbo_lines).
        self.line_id_high: dict[tuple[str, str], int] = {}
        # POs their bills closed (and may reopen); a PO the client closed is not here.
        self.auto_closed_pos: set[str] = set()
        # (Bill or VendorCredit, Id) -> the BillPayments applied to it (qbo_payments keeps it)
        self.payers: dict[tuple[str, str], set[str]] = {}
        # True only during a write that carries include=allowduplicatedocnum.
        self.allow_duplicate_docnum = False
        self.country = "US"
        self.edition = edition
        self.next_id["Class"] = qbo_classes.CLASS_FIRST_ID
        self._seed_singletons()
        qbo_settings.seed_other_prefs(self)
        qbo_settings.apply_edition(self, edition)
        qbo_settings.apply_country(self, country)

    # --- company settings (qbo_settings) ------------------------------------------------------

    @property
    def duplicate_docnumber_check(self) -> bool:
        """Preferences OtherPrefs WarnDuplicateBillNumber: 6140 on a repeated DocNumber."""
        return qbo_settings.duplicate_check(self)

    @duplicate_docnumber_check.setter
    def duplicate_docnumber_check(self, value: bool) -> None:
        with self.lock:
            qbo_settings.set_duplicate_check(self, value)

    def checks_duplicate_docnumbers(self) -> bool:
        """Whether this write must refuse a repeated DocNumber."""
        return self.duplicate_docnumber_check and not self.allow_duplicate_docnum

    def set_country(self, country: str) -> None:
        with self.lock:
            qbo_settings.apply_country(self, country)

    def set_edition(self, edition: str) -> None:
        with self.lock:
            qbo_settings.apply_edition(self, edition)

    def home_currency(self) -> dict:
        """The CurrencyRef new records get by default."""
        return qbo_settings.home_currency(self.country)

    def pay_bill(self, bill_id: str, amount: Any) -> dict:
        """Pay a bill by check from the first bank account (a BillPayment through the rules)."""
        with self.lock:
            return self.create("BillPayment", qbo_payments.payment_body(self, bill_id, amount))

    # --- public operations --------------------------------------------------------------------

    def create(
        self,
        entity: str,
        body: dict,
        *,
        seeding: bool = False,
        allow_duplicate_docnum: bool = False,
    ) -> dict:
        """Create an object as POST /{entity} without Id does."""
        with self.lock:
            if entity in SINGLETONS or (entity in READ_ONLY and not seeding):
                raise unsupported_operation(f"Operation Create is not supported for {entity}.")
            body = self._check_fields(entity, body)
            incoming = self._writable(body, keep_system=seeding, entity=entity)
            obj = self._normalise_write(entity, incoming, None, allow_duplicate_docnum)
            stored = self._store(
                entity, obj, existing=None, wanted_id=body.get("Id") if seeding else None
            )
            self._after_write(entity, None, obj)
            return stored

    def update(self, entity: str, body: dict, *, allow_duplicate_docnum: bool = False) -> dict:
        """Full or sparse update as POST /{entity} with Id and SyncToken does."""
        with self.lock:
            if entity in READ_ONLY:
                raise unsupported_operation(f"Operation Update is not supported for {entity}.")
            body = self._check_fields(entity, body)
            existing = self._existing_for_write(entity, body)
            incoming = self._writable(body, keep_system=False, entity=entity)
            if body.get("sparse") is True or entity in SINGLETONS:
                merged = copy.deepcopy(existing)
                merged.update(incoming)
            else:
                merged = incoming
            for name in ("LinkedTxn",):
                if name in existing:
                    merged[name] = copy.deepcopy(existing[name])
            self._check_update_rules(entity, existing, merged)
            if entity in SINGLETONS:
                obj = merged
            else:
                obj = self._normalise_write(entity, merged, existing, allow_duplicate_docnum)
            stored = self._store(entity, obj, existing=existing, wanted_id=None)
            self._after_write(entity, existing, obj)
            return stored

    def delete(self, entity: str, body: dict) -> dict:
        """Delete as POST /{entity}?operation=delete does (only where QBO allows it)."""
        with self.lock:
            if entity not in DELETABLE:
                raise unsupported_operation(
                    f"Operation Delete is not supported for {entity}: make it inactive instead."
                )
            existing = self._existing_for_write(entity, body)
            qbo_credits.check_open_period(self, entity, existing)
            if self._blocks_delete(entity, existing):
                raise business_rule(
                    "This transaction is linked to other transactions and cannot be deleted."
                )
            del self.objects[entity][existing["Id"]]
            self.changed_at.get(entity, {}).pop(existing["Id"], None)
            self.deleted.setdefault(entity, {})[existing["Id"]] = self._moment()
            self._after_delete(entity, existing)
            return {"domain": "QBO", "status": "Deleted", "Id": existing["Id"]}

    def void(self, entity: str, body: dict) -> dict:
        """QBO's void (`operation=update&include=void`), of a BillPayment (qbo_payments)."""
        with self.lock:
            if entity not in VOIDABLE:
                raise unsupported_operation(f"Operation void is not supported for {entity}.")
            body = self._check_fields(entity, body)
            existing = self._existing_for_write(entity, body)
            qbo_credits.check_open_period(self, entity, existing)
            obj = qbo_payments.voided(existing)
            stored = self._store(entity, obj, existing=existing, wanted_id=None)
            self._after_write(entity, existing, obj)
            return stored

    @property
    def book_close_date(self) -> str | None:
        """Preferences AccountingInfoPrefs.BookCloseDate (the closing date), or None."""
        prefs = next(iter(self.objects["Preferences"].values()))
        return (prefs.get("AccountingInfoPrefs") or {}).get("BookCloseDate") or None

    @book_close_date.setter
    def book_close_date(self, value: str | None) -> None:
        with self.lock:
            prefs = next(iter(self.objects["Preferences"].values()))
            accounting = prefs.setdefault("AccountingInfoPrefs", {})
            if value:
                accounting["BookCloseDate"] = str(value)[:10]
            else:
                accounting.pop("BookCloseDate", None)

    def read(self, entity: str, object_id: str) -> dict:
        """GET /{entity}/{id}; deleted and unknown ids are 610."""
        with self.lock:
            if entity in SINGLETONS:
                return copy.deepcopy(next(iter(self.objects[entity].values())))
            obj = self.objects[entity].get(str(object_id))
            if obj is None:
                raise not_found()
            return copy.deepcopy(obj)

    def get(self, entity: str, object_id: str) -> dict | None:
        """The stored object or None (test API; inactive ones included)."""
        with self.lock:
            obj = self.objects.get(entity, {}).get(str(object_id))
            return copy.deepcopy(obj) if obj is not None else None

    def all(self, entity: str, include_inactive: bool = True) -> list[dict]:
        """Every stored object of one entity, by numeric Id."""
        with self.lock:
            found = [
                copy.deepcopy(o)
                for o in self.objects[entity].values()
                if include_inactive or o.get("Active", True)
            ]
        return sorted(found, key=lambda o: int(o["Id"]) if o["Id"].isdigit() else 0)

    def query(self, text: str) -> dict:
        """Run a query; answers the `QueryResponse` object."""
        try:
            query = qbo_query.parse_query(text)
        except qbo_query.QueryError as exc:
            raise QBOFault(exc.code, exc.message, exc.detail) from exc
        entity = self._query_entity(query)
        self._check_filterable(entity, query)
        with self.lock:
            candidates = list(self.objects[entity].values())
        if entity in HAS_ACTIVE and not qbo_query.mentions(query, "Active"):
            candidates = [o for o in candidates if o.get("Active", True)]
        if query.count:
            count = sum(
                1 for o in candidates if all(qbo_query.matches(o, c) for c in query.conditions)
            )
            return {"totalCount": count}
        rows = [
            copy.deepcopy(qbo_query.project(o, query.fields))
            for o in qbo_query.run(query, candidates)
        ]
        if not rows:
            return {}
        return {entity: rows, "startPosition": query.start_position, "maxResults": len(rows)}

    def cdc(self, entity_names: list[str], changed_since: datetime) -> tuple[list[dict], datetime]:
        """Changes since a moment, per entity (the `QueryResponse` list of a CDC answer), and the
        moment the answer stands for: taken under the lock, after every change it holds and
        before every later one, so asking again from it loses nothing."""
        if self.clock() - changed_since > CDC_LOOKBACK:
            raise QBOFault(
                "2010",
                "Request has invalid or unsupported property",
                "changedSince: the look-back is limited to 30 days",
                element="changedSince",
            )
        with self.lock:
            answers = [self._cdc_entity(name, changed_since) for name in entity_names]
            return answers, self._moment()

    # --- seeding ------------------------------------------------------------------------------

    def _seed_singletons(self) -> None:
        stamp = iso_seconds(self.clock())
        meta = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        self.objects["CompanyInfo"]["1"] = {
            "CompanyName": "Emulated Trading Co",
            "LegalName": "Emulated Trading Co LLC",
            "CompanyAddr": {
                "Line1": "1 Sandbox Way",
                "City": "Mountain View",
                "CountrySubDivisionCode": "CA",
                "PostalCode": "94043",
                "Country": "US",
            },
            "Country": "US",
            "FiscalYearStartMonth": "January",
            "SupportedLanguages": "en",
            "DefaultTimeZone": "Etc/UTC",
            "domain": "QBO",
            "sparse": False,
            "Id": "1",
            "SyncToken": "0",
            "MetaData": dict(meta),
        }
        self.objects["Preferences"]["1"] = {
            "AccountingInfoPrefs": {"TrackDepartments": False, "ClassTrackingPerTxn": False},
            "ProductAndServicesPrefs": {
                "ForSales": True,
                "ForPurchase": True,
                "QuantityOnHand": True,
            },
            "VendorAndPurchasesPrefs": {
                "TrackingByCustomer": True,
                "BillableExpenseTracking": True,
                "POCustomField": [],
            },
            "SalesFormsPrefs": {"CustomTxnNumbers": True},
            "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
            "domain": "QBO",
            "sparse": False,
            "Id": "1",
            "SyncToken": "0",
            "MetaData": dict(meta),
        }

    # --- write pipeline -----------------------------------------------------------------------

    def _check_fields(self, entity: str, body: Any) -> dict:
        """The body as QBO deserialises it (qbo_schema): names, shapes, dates, lengths."""
        if not isinstance(body, dict):
            raise unsupported_property("Property Name:request body must be a JSON object")
        return SCHEMA.check(entity, body)

    def _writable(self, body: dict, *, keep_system: bool, entity: str | None = None) -> dict:
        kept = {k: copy.deepcopy(v) for k, v in body.items() if k not in SYSTEM_FIELDS}
        if entity in INPUT_TOTALS and "TotalAmt" in body:
            kept["TotalAmt"] = copy.deepcopy(body["TotalAmt"])
        if keep_system:
            for name in ("LinkedTxn", "Balance", "CurrentBalance"):
                if name in body:
                    kept[name] = copy.deepcopy(body[name])
        return kept

    def _existing_for_write(self, entity: str, body: dict) -> dict:
        object_id = body.get("Id")
        if object_id in (None, ""):
            raise required_missing("Id")
        check_id(entity, object_id)
        if body.get("SyncToken") in (None, ""):
            raise required_missing("SyncToken")
        existing = self.objects[entity].get(str(object_id))
        if existing is None:
            raise not_found()
        if str(body["SyncToken"]) != existing["SyncToken"]:
            raise QBOFault(
                "5010",
                "Stale Object Error",
                "Stale Object Error : You and Emulator User were working on this at the same "
                "time. Emulator User finished before you did, so your work was not saved.",
            )
        return existing

    def _check_update_rules(self, entity: str, existing: dict, merged: dict) -> None:
        if entity != "PurchaseOrder":
            return
        qbo_bills.check_po_edit(self, existing, merged)
        if existing.get("LinkedTxn") and _ref_id(merged.get("VendorRef")) != _ref_id(
            existing.get("VendorRef")
        ):
            raise business_rule(
                "This purchase order is linked to a bill; its vendor cannot be changed."
            )
        reopening = merged.get("POStatus") == "Open"
        if self.refuse_closed_po_edits and existing.get("POStatus") == "Closed" and not reopening:
            raise business_rule("This purchase order is closed and cannot be edited.")

    def _store(self, entity: str, obj: dict, existing: dict | None, wanted_id: Any) -> dict:
        moment = self._moment()
        now = iso_seconds(moment)
        if existing is None:
            object_id = self._allocate_id(entity, wanted_id)
            obj["Id"] = object_id
            obj["SyncToken"] = "0"
            created = now
        else:
            obj["Id"] = existing["Id"]
            obj["SyncToken"] = str(int(existing["SyncToken"]) + 1)
            created = existing["MetaData"]["CreateTime"]
        obj["MetaData"] = self._meta(entity, created, now)
        self._number_addresses(entity, obj, existing)
        obj["domain"] = "QBO"
        obj["sparse"] = False
        self.objects[entity][obj["Id"]] = obj
        self.changed_at.setdefault(entity, {})[obj["Id"]] = moment
        return copy.deepcopy(obj)

    def _meta(self, entity: str, created: str, updated: str) -> dict:
        """MetaData as recorded: transactions name who changed them last (LastModifiedByRef,
        po_create_batch.json, bill_create_batch.json); names and items do not
        (vendor_create_batch.json, item_create_batch.json)."""
        meta: dict[str, Any] = {"CreateTime": created}
        if entity in TRANSACTIONS:
            meta["LastModifiedByRef"] = {"value": self.acting_user}
        meta["LastUpdatedTime"] = updated
        return meta

    def _number_addresses(self, entity: str, obj: dict, existing: dict | None) -> None:
        """Every stored address has its own Id (recorded: Vendor.BillAddr "610", Bill.VendorAddr
        "613", PurchaseOrder.ShipAddr "113"); one sent again without it keeps the one it had."""
        for name, (kind, _) in SCHEMA.properties(SCHEMA.entities.get(entity, "")).items():
            address = obj.get(name)
            if kind != "PhysicalAddress" or not isinstance(address, dict) or "Id" in address:
                continue
            before = ((existing or {}).get(name) or {}).get("Id")
            if before is None:
                before = str(self.next_address_id)
                self.next_address_id += 1
            obj[name] = {"Id": before, **address}

    def touch(self, entity: str, obj: dict) -> None:
        """Record a change the service itself made to a stored object (a PO its bills closed, a
        bill a payment paid): new SyncToken and LastUpdatedTime, seen by CDC like any write."""
        moment = self._moment()
        obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
        obj["MetaData"] = {**obj["MetaData"], "LastUpdatedTime": iso_seconds(moment)}
        self.changed_at.setdefault(entity, {})[obj["Id"]] = moment

    def _allocate_id(self, entity: str, wanted_id: Any) -> str:
        if wanted_id not in (None, ""):
            wanted = str(wanted_id)
            if wanted in self.objects[entity]:
                raise ValueError(f"{entity} {wanted} already exists")
            if wanted.isdigit():
                self.next_id[entity] = max(self.next_id[entity], int(wanted) + 1)
            return wanted
        object_id = str(self.next_id[entity])
        self.next_id[entity] += 1
        return object_id

    def _normalise(self, entity: str, obj: dict, existing: dict | None) -> dict:
        normaliser = {
            "Vendor": self._normalise_person,
            "Customer": self._normalise_person,
            "Employee": self._normalise_person,
            "Item": self._normalise_item,
            "Account": self._normalise_account,
            "PurchaseOrder": self._normalise_purchase_order,
            "Bill": lambda e, o, x: qbo_bills.normalise_bill(self, e, o, x),
            "BillPayment": lambda e, o, x: qbo_payments.normalise_payment(self, e, o, x),
            "VendorCredit": lambda e, o, x: qbo_credits.normalise_credit(self, e, o, x),
            "Class": lambda e, o, x: qbo_classes.normalise_tracking(self, e, o, x),
            "Department": lambda e, o, x: qbo_classes.normalise_tracking(self, e, o, x),
            "TaxCode": lambda e, o, x: qbo_tax.normalise_tax_entity(self, e, o, x),
            "TaxRate": lambda e, o, x: qbo_tax.normalise_tax_entity(self, e, o, x),
        }[entity]
        return normaliser(entity, obj, existing)

    def _normalise_write(
        self, entity: str, obj: dict, existing: dict | None, allow_duplicate_docnum: bool
    ) -> dict:
        """Normalise with include=allowduplicatedocnum in force for this one write."""
        self.allow_duplicate_docnum = allow_duplicate_docnum
        try:
            normalised = self._normalise(entity, obj, existing)
        finally:
            self.allow_duplicate_docnum = False
        qbo_credits.check_open_period(self, entity, normalised, existing)
        return normalised

    def _after_write(self, entity: str, before: dict | None, stored: dict) -> None:
        """What a stored write does elsewhere: line Ids remembered, linked objects re-derived."""
        if entity in LINE_ID_ENTITIES:
            key = (entity, stored["Id"])
            self.line_id_high[key] = qbo_lines.high_water(
                self.line_id_high.get(key), stored.get("Line")
            )
        if entity == "Bill":
            qbo_bills.after_bill_write(self, before, stored)
        elif entity == "BillPayment":
            qbo_payments.after_payment_write(self, before, stored)
        elif entity in qbo_classes.TRACKING_ENTITIES:
            qbo_classes.after_write(self, entity, stored)

    def _blocks_delete(self, entity: str, existing: dict) -> bool:
        if entity == "Bill":
            return qbo_bills.blocks_delete(existing)
        return bool(existing.get("LinkedTxn"))

    def _after_delete(self, entity: str, existing: dict) -> None:
        if entity == "Bill":
            qbo_bills.after_bill_write(self, existing, {})
        elif entity == "BillPayment":
            qbo_payments.after_payment_write(self, existing, None)

    # --- references ---------------------------------------------------------------------------

    def _resolve_ref(self, ref_name: str, ref: Any, target: str | None = None) -> dict:
        """Check a reference exists and is active; answer it with the target's name filled in."""
        target = target or REF_TARGETS[ref_name]
        ref_id = _ref_id(ref)
        if ref_id is None:
            raise required_missing(ref_name)
        found = self.objects[target].get(ref_id)
        if found is None:
            raise invalid_reference(target, ref_id, ref_name)
        if not found.get("Active", True):
            raise not_found()
        label = found.get("FullyQualifiedName") or found.get("DisplayName") or found.get("Name")
        return {"value": ref_id, "name": label}

    def _optional_ref(self, obj: dict, ref_name: str, target: str | None = None) -> None:
        if obj.get(ref_name) is not None:
            obj[ref_name] = self._resolve_ref(ref_name, obj[ref_name], target)

    # --- name list ----------------------------------------------------------------------------

    def _normalise_person(self, entity: str, obj: dict, existing: dict | None) -> dict:
        if entity != "Vendor":  # Intuit documents the vendor's; customers' taken to match
            for part in (*PERSON_PARTS, "CompanyName", "PrintOnCheckName", "DisplayName"):
                _check_vendor_limit(obj, part)
        name = _text(obj, "DisplayName")
        if name is None or not name.strip():
            parts = [obj.get(p) for p in ("GivenName", "MiddleName", "FamilyName")]
            name = " ".join(str(p) for p in parts if p) or obj.get("CompanyName") or ""
        name = name.strip()
        if not name:
            raise required_missing("DisplayName")
        _check_vendor_limit({"DisplayName": name}, "DisplayName")
        if any(char in name for char in FORBIDDEN_NAME_CHARS):
            raise business_rule(
                "The name cannot contain a colon (:), a tab or a new line.", code="6000"
            )
        self._check_unique_name(name, existing)
        _check_email(obj.get("PrimaryEmailAddr"))
        obj["DisplayName"] = name
        obj.setdefault("PrintOnCheckName", name)
        obj.setdefault("Active", True)
        if entity == "Customer":
            obj["FullyQualifiedName"] = name
        if entity == "Vendor":
            obj["Balance"] = (existing or {}).get("Balance", obj.get("Balance", Decimal(0)))
            obj.setdefault("Vendor1099", False)  # recorded on every vendor answer
        if entity in ("Vendor", "Customer"):
            obj.setdefault("CurrencyRef", self.home_currency())
        return obj

    def _check_unique_name(self, name: str, existing: dict | None) -> None:
        wanted = _key(name)
        for entity in NAME_LIST:
            for other in self.objects[entity].values():
                if other is existing:
                    continue
                if _key(other.get("DisplayName", "")) == wanted:
                    raise duplicate_name("names", other["Id"])

    # --- items --------------------------------------------------------------------------------

    def _normalise_item(self, entity: str, obj: dict, existing: dict | None) -> dict:
        name = (_text(obj, "Name") or "").strip()
        if not name:
            raise required_missing("Name")
        if any(char in name for char in FORBIDDEN_NAME_CHARS):
            raise business_rule(
                "The item name cannot contain a colon (:); colons separate sub-items."
            )
        item_type = obj.get("Type")
        if item_type is None:
            raise required_missing("Type")
        if item_type not in ITEM_TYPES:
            raise unsupported_property(f"Property Name:Type value {item_type!r} is invalid")
        obj["Name"] = name
        obj["FullyQualifiedName"] = self._item_qualified_name(obj, name)
        self._check_unique_item(obj["FullyQualifiedName"], existing)
        self._check_item_accounts(obj, item_type)
        obj.setdefault("Active", True)
        obj.setdefault("Taxable", False)
        obj.setdefault("UnitPrice", Decimal(0))
        obj.setdefault("PurchaseCost", Decimal(0))
        obj.setdefault("TrackQtyOnHand", item_type == "Inventory")
        obj.setdefault("DeferredRevenue", False)  # recorded on an item create
        return obj

    def _item_qualified_name(self, obj: dict, name: str) -> str:
        if not obj.get("SubItem") or obj.get("ParentRef") is None:
            obj.pop("Level", None)  # a top-level item answers no Level (item_create_batch.json)
            return name
        obj["ParentRef"] = self._resolve_ref("ParentRef", obj["ParentRef"], "Item")
        parent = self.objects["Item"][obj["ParentRef"]["value"]]
        obj["Level"] = parent.get("Level", 0) + 1
        return f"{parent['FullyQualifiedName']}:{name}"

    def _check_unique_item(self, qualified: str, existing: dict | None) -> None:
        for other in self.objects["Item"].values():
            if other is not existing and _key(other["FullyQualifiedName"]) == _key(qualified):
                raise duplicate_name("Item", other["Id"])

    def _check_item_accounts(self, obj: dict, item_type: str) -> None:
        if item_type == "Inventory":
            for name in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
                obj[name] = self._resolve_ref(name, obj.get(name))
            if obj.get("QtyOnHand") is None:
                raise required_missing("QtyOnHand")
            if not obj.get("InvStartDate"):
                raise required_missing("InvStartDate")
            obj["TrackQtyOnHand"] = True
            return
        no_account = obj.get("IncomeAccountRef") is None and obj.get("ExpenseAccountRef") is None
        if item_type in ("NonInventory", "Service") and no_account:
            raise required_missing("IncomeAccountRef or ExpenseAccountRef")
        for name in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
            self._optional_ref(obj, name)
        self._optional_ref(obj, "PrefVendorRef")

    # --- accounts -----------------------------------------------------------------------------

    def _normalise_account(self, entity: str, obj: dict, existing: dict | None) -> dict:
        name = (_text(obj, "Name") or "").strip()
        if not name:
            raise required_missing("Name")
        if any(char in name for char in (*FORBIDDEN_NAME_CHARS, '"')):
            raise business_rule("The account name cannot contain a colon (:) or a double quote.")
        account_type = obj.get("AccountType")
        if account_type is None:
            raise required_missing("AccountType")
        if account_type not in ACCOUNT_CLASSIFICATION:
            raise unsupported_property(
                f"Property Name:AccountType value {account_type!r} is invalid"
            )
        for other in self.objects["Account"].values():
            if other is not existing and _key(other["Name"]) == _key(name):
                raise duplicate_name("Account", other["Id"])
        obj["Name"] = name
        obj["FullyQualifiedName"] = name
        obj["Classification"] = ACCOUNT_CLASSIFICATION[account_type]
        obj.setdefault("SubAccount", False)
        obj.setdefault("Active", True)
        obj["CurrentBalance"] = (existing or {}).get("CurrentBalance", Decimal(0))
        obj.setdefault("CurrencyRef", self.home_currency())
        return obj

    # --- purchase orders ----------------------------------------------------------------------

    def _vendor_and_lines(self, obj: dict) -> list:
        """What a purchase (PO, Bill, VendorCredit) must carry: its VendorRef, resolved in
        place, and at least one line (returned as sent)."""
        if obj.get("VendorRef") is None:
            raise required_missing("VendorRef")
        obj["VendorRef"] = self._resolve_ref("VendorRef", obj["VendorRef"])
        lines = obj.get("Line")
        if not isinstance(lines, list) or not lines:
            raise required_missing("Line")
        return lines

    def _normalise_purchase_order(self, entity: str, obj: dict, existing: dict | None) -> dict:
        lines = self._vendor_and_lines(obj)
        mode = qbo_tax.global_mode(self, obj)
        obj["Line"] = self._normalise_lines(entity, lines, existing, mode)
        qbo_tax.apply_totals(self, obj)
        self._apply_doc_number(obj, existing)
        status = obj.setdefault("POStatus", "Open")
        if status not in ("Open", "Closed"):
            raise unsupported_property(f"Property Name:POStatus value {status!r} is invalid")
        qbo_classes.resolve_txn_refs(self, obj)
        if existing is not None:
            qbo_bills.apply_receipts(self, obj, existing["Id"])
            if status != "Closed":
                self.auto_closed_pos.discard(existing["Id"])
        else:
            obj.setdefault("LinkedTxn", [])  # unbilled (recorded); bills add theirs (qbo_bills)
        _check_email(obj.get("POEmail"))
        self._apply_ap_account(obj)
        obj.setdefault("TxnDate", self.clock().date().isoformat())
        obj.setdefault("EmailStatus", "NotSet")
        obj.setdefault("CurrencyRef", self.home_currency())
        return obj

    def _normalise_lines(
        self, entity: str, raw_lines: list, existing: dict | None, mode: str | None
    ) -> list[dict]:
        """Normalise every line and give it the Id QBO would (qbo_lines)."""
        lines = [
            self._normalise_line(line, number, mode) for number, line in enumerate(raw_lines, 1)
        ]
        high = 0
        if existing is not None:
            known = self.line_id_high.get((entity, existing["Id"]))
            high = qbo_lines.high_water(known, existing.get("Line"))
        qbo_lines.assign_line_ids(raw_lines, lines, existing, high)
        return lines

    def _normalise_line(self, line: Any, number: int, mode: str | None = None) -> dict:
        if not isinstance(line, dict):
            raise unsupported_property("Property Name:Line entries must be objects")
        detail_type = line.get("DetailType")
        if detail_type is None:
            raise required_missing("Line.DetailType")
        if detail_type not in LINE_DETAILS:
            raise unsupported_property(f"Property Name:DetailType value {detail_type!r} is invalid")
        detail = line.get(detail_type)
        if not isinstance(detail, dict):
            raise required_missing(f"Line.{detail_type}")
        detail = copy.deepcopy(detail)
        amount = to_decimal(line.get("Amount"))
        if amount is None:
            raise required_missing("Line.Amount")
        if detail_type == "ItemBasedExpenseLineDetail":
            detail["ItemRef"] = self._resolve_ref("ItemRef", detail.get("ItemRef"))
            self._check_line_amount(detail, amount)
        else:
            detail["AccountRef"] = self._resolve_ref("AccountRef", detail.get("AccountRef"))
        self._optional_ref(detail, "CustomerRef")
        qbo_classes.resolve_line_class(self, detail)
        detail.setdefault("BillableStatus", "NotBillable")
        qbo_tax.apply_line_tax_code(self, detail, mode)
        kept = {k: copy.deepcopy(v) for k, v in line.items() if k in ("Description", "ProjectRef")}
        return {
            "Id": str(number),
            "LineNum": number,
            **kept,
            # QBO keeps line amounts to the cent and writes them so (50 is answered 50.00:
            # po_create_batch.json); a QBO staff answer: "the Amount fields for each line have
            # a precision of two (2) decimal places" (QuickBooks Community, en-ca, 1567567)
            "Amount": amount.quantize(CENT, rounding=ROUND_HALF_UP),
            "DetailType": detail_type,
            detail_type: detail,
        }

    def _check_line_amount(self, detail: dict, amount: Decimal) -> None:
        qty, price = to_decimal(detail.get("Qty")), to_decimal(detail.get("UnitPrice"))
        if qty is None or price is None:
            return
        expected = (qty * price).quantize(CENT, rounding=ROUND_HALF_UP)
        if amount.quantize(CENT, rounding=ROUND_HALF_UP) != expected:
            raise QBOFault(
                "6070",
                "Amount calculation incorrect in the request",
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}",
                element="Line.Amount",
            )

    def _apply_doc_number(self, obj: dict, existing: dict | None) -> None:
        doc_number = _text(obj, "DocNumber")
        if not doc_number:
            if existing is not None and existing.get("DocNumber"):
                doc_number = existing["DocNumber"]
            else:
                doc_number = str(self.next_doc_number)
                self.next_doc_number += 1
        if self.checks_duplicate_docnumbers():
            for other in self.objects["PurchaseOrder"].values():
                if other is not existing and _key(other.get("DocNumber", "")) == _key(doc_number):
                    raise duplicate_doc_number(doc_number, "PurchaseOrder", other["Id"])
        obj["DocNumber"] = doc_number

    def _apply_ap_account(self, obj: dict) -> None:
        if obj.get("APAccountRef") is not None:
            obj["APAccountRef"] = self._resolve_ref("APAccountRef", obj["APAccountRef"])
            return
        payables = [
            a
            for a in self.objects["Account"].values()
            if a.get("AccountType") == "Accounts Payable" and a.get("Active", True)
        ]
        if len(payables) > 1:
            raise required_missing("APAccountRef")
        if payables:
            obj["APAccountRef"] = {"value": payables[0]["Id"], "name": payables[0]["Name"]}

    # --- query and CDC ------------------------------------------------------------------------

    def _query_entity(self, query: qbo_query.Query) -> str:
        entity = ENTITIES.get(query.entity.lower())
        if entity is None:
            raise QBOFault(
                "4001",
                "Invalid query",
                f"QueryValidationError: Entity '{query.entity}' is not supported",
            )
        return entity

    def _check_filterable(self, entity: str, query: qbo_query.Query) -> None:
        allowed = {name.lower() for name in FILTERABLE.get(entity, set()) | ALWAYS_FILTERABLE}
        for condition in query.conditions:
            if condition.field.lower() not in allowed:
                raise QBOFault(
                    "4001",
                    "Invalid query",
                    f"QueryValidationError: property '{condition.field}' is not queryable",
                )

    def _cdc_entity(self, name: str, changed_since: datetime) -> dict:
        """One entity's changes at or after `changed_since`, compared at full precision."""
        entity = ENTITIES.get(name.strip().lower())
        if entity is None or entity in CDC_UNSUPPORTED:
            raise unsupported_property(f"Property Name:entities value {name!r} is invalid")
        changed = [
            (self._changed_moment(entity, o), copy.deepcopy(o))
            for o in self.objects.get(entity, {}).values()
        ]
        changed += [
            (when, _deleted_stub(object_id, when))
            for object_id, when in self.deleted.get(entity, {}).items()
        ]
        changed = sorted(
            ((when, o) for when, o in changed if when >= changed_since), key=lambda pair: pair[0]
        )
        rows = [o for _, o in changed[:CDC_MAX_PER_ENTITY]]
        if not rows:
            return {}
        # no totalCount: CDC answers carry startPosition and maxResults only
        return {entity: rows, "startPosition": 1, "maxResults": len(rows)}

    def _changed_moment(self, entity: str, obj: dict) -> datetime:
        """The precise last change, or the rendered second for objects stored around _store."""
        known = self.changed_at.get(entity, {}).get(obj["Id"])
        return known or datetime.fromisoformat(obj["MetaData"]["LastUpdatedTime"])

    def _moment(self) -> datetime:
        """A strictly increasing instant from the clock (call under the lock): no two changes, nor
        a change and a CDC answer, share one, even if the wall clock stalls or steps back."""
        now = self.clock()
        if self._last_moment is not None and now <= self._last_moment:
            now = self._last_moment + timedelta(microseconds=1)
        self._last_moment = now
        return now


def _deleted_stub(object_id: str, when: datetime) -> dict:
    """What CDC answers for a deleted object: status Deleted and its Id (Intuit's CDC page)."""
    return {
        "domain": "QBO",
        "status": "Deleted",
        "Id": object_id,
        "MetaData": {"LastUpdatedTime": iso_seconds(when)},
    }
