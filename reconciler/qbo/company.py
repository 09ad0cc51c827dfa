"""Pure: what a QBO company is, from its CompanyInfo and Preferences.

Three facts decide how a document is written there:

- the country (`CompanyInfo.Country`): outside the US every purchase line carries a tax code
  and QBO computes the tax (qbo-api.md "Non-US companies"); a US company keeps the US rule.
  "GB" and "UK" are both taken for the United Kingdom (which one QBO answers was not
  confirmed); an absent country falls back to the company address's, then to US;
- the edition (`CompanyInfo.NameValue` "OfferingSku", e.g. "QuickBooks Online Plus"): classes
  and locations exist only in Plus and Advanced (qbo-api.md "Classes and locations"); an
  edition QBO does not name is not held against the configuration;
- the tracking preferences (`Preferences.AccountingInfoPrefs`): `ClassTrackingPerTxnLine`
  (a class on each line), `ClassTrackingPerTxn` (one per transaction), `TrackDepartments`
  (locations) and `DepartmentTerminology` (what the company calls them);
- whether it keeps several currencies (`Preferences.CurrencyPrefs.MultiCurrencyEnabled`):
  there a PurchaseOrder's `CurrencyRef` is required (Intuit's PurchaseOrder reference).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

US_NAMES = frozenset({"US", "USA", "UNITED STATES"})
SKU_PREFIX = "QuickBooks Online "
EDITIONS_WITH_TRACKING = frozenset({"Plus", "Advanced"})
CLASS_TRACKING = ("line", "transaction", "off")


@dataclass(frozen=True)
class CompanyProfile:
    """The company facts the mapping and the references depend on."""

    country: str
    edition: str | None = None  # "Plus", "Essentials", ...; None when QBO does not say
    class_tracking: str = "off"  # line | transaction | off
    tracks_locations: bool = False
    location_label: str = "Location"
    home_currency: str | None = None
    name: str | None = None
    timezone: str | None = None  # CompanyInfo.DefaultTimeZone (Intuit's XSD), when QBO says
    multicurrency: bool = False

    @property
    def is_us(self) -> bool:
        return self.country.upper() in US_NAMES

    @property
    def edition_has_tracking(self) -> bool:
        """Whether the plan has classes and locations at all (unknown plans are given it)."""
        return self.edition is None or self.edition in EDITIONS_WITH_TRACKING

    def describe(self) -> str:
        """One line for `doctor` and the logs."""
        plan = f"{SKU_PREFIX}{self.edition}" if self.edition else "edition not stated"
        classes = {"line": "classes on lines", "transaction": "classes per transaction"}
        parts = [
            f"country {self.country}",
            plan,
            classes.get(self.class_tracking, "class tracking off"),
            f"{self.location_label.lower()}s on" if self.tracks_locations else "locations off",
        ]
        if self.home_currency:
            parts.append(f"home currency {self.home_currency}")
        if self.multicurrency:
            parts.append("multicurrency")
        tax = "US tax rule (tax as an account line)" if self.is_us else "tax codes on every line"
        return ", ".join(parts) + f"; {tax}"

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> CompanyProfile | None:
        """A cached profile, or None when the text is not one (a cache that cannot be read is
        read again from QBO)."""
        try:
            data = json.loads(text or "")
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError, KeyError):
            return None


def profile_from(info: Mapping[str, Any], prefs: Mapping[str, Any]) -> CompanyProfile:
    """The profile a CompanyInfo and a Preferences object describe."""
    address = info.get("CompanyAddr") if isinstance(info.get("CompanyAddr"), Mapping) else {}
    country = _text(info.get("Country")) or _text(address.get("Country")) or "US"
    if country.upper() == "UK":
        country = "GB"
    accounting = _mapping(prefs.get("AccountingInfoPrefs"))
    if accounting.get("ClassTrackingPerTxnLine") is True:
        class_tracking = "line"
    elif accounting.get("ClassTrackingPerTxn") is True:
        class_tracking = "transaction"
    else:
        class_tracking = "off"
    currency = _mapping(prefs.get("CurrencyPrefs"))
    home = _mapping(currency.get("HomeCurrency")).get("value")
    return CompanyProfile(
        country=country.upper(),
        edition=_edition(info.get("NameValue")),
        class_tracking=class_tracking,
        tracks_locations=accounting.get("TrackDepartments") is True,
        location_label=_text(accounting.get("DepartmentTerminology")) or "Location",
        home_currency=_text(home),
        name=_text(info.get("CompanyName")),
        timezone=_text(info.get("DefaultTimeZone")),
        multicurrency=currency.get("MultiCurrencyEnabled") is True,
    )


def _edition(pairs: Any) -> str | None:
    if not isinstance(pairs, list):
        return None
    for pair in pairs:
        if isinstance(pair, Mapping) and pair.get("Name") == "OfferingSku":
            sku = _text(pair.get("Value")) or ""
            return sku.removeprefix(SKU_PREFIX).strip() or None
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
