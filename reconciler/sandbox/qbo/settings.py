"""Company settings QBO varies by company, reflected where QBO shows them.

- country (US, GB, CA, AU; "UK" is taken for GB): CompanyInfo.Country holds the ISO code (QBO
  answers "US" for a US company; "GB" rather than "UK" was not confirmed, see qbo.py), the
  company address, Preferences.CurrencyPrefs.HomeCurrency (USD, GBP, CAD, AUD) and TaxPrefs
  (UsingSalesTax true outside the US, where the global tax model applies); the tax codes and
  rates of that country are seeded (qbo_tax). Records already made in the old home currency are
  moved to the new one: a test shortcut, a real company never changes country.
- edition (Simple Start, Essentials, Plus, Advanced; default Plus, the first with purchase
  orders): CompanyInfo.NameValue OfferingSku, the class and location tracking preferences
  (qbo_classes) and OtherPrefs VendorAndPurchasesPrefs.PurchseOrderEnabled (Intuit's spelling).
- duplicate document numbers: Intuit's Preferences reference lists, under OtherPrefs NameValue,
  "VendorAndPurchasesPrefs.UseCustomTxnNumbers" (custom numbers for expense transactions; on
  here, so a client's DocNumber is kept) and "WarnDuplicateBillNumber" ("Warn if duplicate bill
  number is used"). The emulator's duplicate_docnumber_check is that WarnDuplicateBillNumber
  value: reading or setting it reads or writes the stored Preferences, and an API update of the
  Preferences changes it too. QBO exposes no PO-specific warn flag; the PO check (qbo-api.md's
  6140 row) follows the same switch.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.qbo import classes as qbo_classes
from reconciler.sandbox.qbo import tax as qbo_tax

COUNTRIES: dict[str, dict] = {
    "US": {
        "currency": ("USD", "United States Dollar"),
        "address": ("1 Sandbox Way", "Mountain View", "CA", "94043"),
    },
    "GB": {
        "currency": ("GBP", "British Pound Sterling"),
        "address": ("1 Sandbox Street", "London", None, "EC1A 1BB"),
    },
    "CA": {
        "currency": ("CAD", "Canadian Dollar"),
        "address": ("1 Sandbox Avenue", "Toronto", "ON", "M5V 2T6"),
    },
    "AU": {
        "currency": ("AUD", "Australian Dollar"),
        "address": ("1 Sandbox Road", "Sydney", "NSW", "2000"),
    },
}
COUNTRY_ALIASES = {"UK": "GB"}
DUPLICATE_PREF = "WarnDuplicateBillNumber"
CURRENCY_HOLDERS = (
    "Vendor",
    "Customer",
    "Account",
    "PurchaseOrder",
    "Bill",
    "BillPayment",
    "VendorCredit",
)


def country_code(value: str) -> str:
    """The country's code (UK becomes GB), or ValueError."""
    code = COUNTRY_ALIASES.get(str(value).upper(), str(value).upper())
    if code not in COUNTRIES:
        raise ValueError(f"country must be one of {sorted(COUNTRIES)} (or UK), not {value!r}")
    return code


def home_currency(country: str) -> dict:
    """The CurrencyRef of the country's home currency."""
    value, name = COUNTRIES[country]["currency"]
    return {"value": value, "name": name}


def apply_country(company: Any, value: str) -> None:
    """Make the company one of that country: info, preferences, tax codes, currencies."""
    code = country_code(value)
    old = home_currency(company.country)
    company.country = code
    info = _singleton(company, "CompanyInfo")
    line1, city, region, postal = COUNTRIES[code]["address"]
    address = {"Line1": line1, "City": city, "PostalCode": postal, "Country": code}
    if region:
        address["CountrySubDivisionCode"] = region
    info["CompanyAddr"], info["Country"] = address, code
    prefs = _singleton(company, "Preferences")
    currency = prefs.setdefault("CurrencyPrefs", {"MultiCurrencyEnabled": False})
    currency["HomeCurrency"] = {"value": home_currency(code)["value"]}
    prefs["TaxPrefs"] = {"UsingSalesTax": code != "US"}
    qbo_tax.seed_tax_codes(company, code)
    _rehome(company, old, home_currency(code))


def _rehome(company: Any, old: dict, new: dict) -> None:
    if old["value"] == new["value"]:
        return
    for entity in CURRENCY_HOLDERS:
        for obj in company.objects[entity].values():
            if (obj.get("CurrencyRef") or {}).get("value") == old["value"]:
                obj["CurrencyRef"] = dict(new)


def apply_edition(company: Any, edition: str) -> None:
    """Make the company that edition: OfferingSku and the tracking preferences."""
    company.edition = qbo_classes.check_edition(edition)
    info = _singleton(company, "CompanyInfo")
    values = [nv for nv in info.get("NameValue", []) if nv.get("Name") != "OfferingSku"]
    info["NameValue"] = [
        *values,
        {"Name": "OfferingSku", "Value": qbo_classes.offering_sku(edition)},
    ]
    prefs = _singleton(company, "Preferences")
    accounting = prefs.setdefault("AccountingInfoPrefs", {})
    accounting.pop("DepartmentTerminology", None)
    accounting.update(qbo_classes.tracking_prefs(edition))
    _set_other_pref(
        company,
        "VendorAndPurchasesPrefs.PurchseOrderEnabled",
        edition in ("Plus", "Advanced"),
    )


def seed_other_prefs(company: Any) -> None:
    """The OtherPrefs name/value pairs the emulator models, with their defaults."""
    _set_other_pref(company, "VendorAndPurchasesPrefs.UseCustomTxnNumbers", True)
    _set_other_pref(company, DUPLICATE_PREF, True)
    _set_other_pref(company, "WarnDuplicateCheckNumber", True)


def duplicate_check(company: Any) -> bool:
    """Whether QBO checks document numbers for duplicates (the stored preference)."""
    pairs = _singleton(company, "Preferences").get("OtherPrefs", {}).get("NameValue", [])
    value = next((nv.get("Value") for nv in pairs if nv.get("Name") == DUPLICATE_PREF), "false")
    return str(value).lower() == "true"


def set_duplicate_check(company: Any, on: bool) -> None:
    _set_other_pref(company, DUPLICATE_PREF, bool(on))


def _set_other_pref(company: Any, name: str, value: bool) -> None:
    prefs = _singleton(company, "Preferences")
    pairs = prefs.setdefault("OtherPrefs", {}).setdefault("NameValue", [])
    text = "true" if value else "false"
    for pair in pairs:
        if pair.get("Name") == name:
            pair["Value"] = text
            return
    pairs.append({"Name": name, "Value": text})


def _singleton(company: Any, entity: str) -> dict:
    return next(iter(company.objects[entity].values()))
