"""Class and Department ("Location"), the references to them, and the plan limits on them.

- Entities (Intuit's Class and Department references): Name (required, at most 100 characters),
  ParentRef for a sub-class / sub-location (SubClass / SubDepartment true, FullyQualifiedName
  "Parent:Child", at most 5 levels), Active. No delete: they are made inactive (Active false).
  A colon in Name is refused (it separates levels, as for items); the same FullyQualifiedName
  twice is 6240, as QBO answers for its other name lists (the exact Detail is not documented).
  Class Ids are long numbers in real companies ("5000000000000035674" in QuickBooks-V3-PHP-SDK
  #83); Department Ids are small.
- Editions (Intuit's "usage limits" article, 2019 onwards): Simple Start and Essentials have no
  classes or locations; Plus has 40 classes and locations together, counting active ones only;
  Advanced has no limit. qbo-api.md says QBO enforces this through the API too; the refusals'
  text is not public, so: creating a Class or Department, or sending ClassRef / DepartmentRef,
  in a company without them is 6000 "Class and location tracking is not available in QuickBooks
  Online Essentials. Upgrade to QuickBooks Online Plus to use classes and locations."; the 41st
  active class or location in Plus (a create, or making an inactive one active) is 6000 "You've
  reached the usage limit of 40 classes and locations for QuickBooks Online Plus. ...".
  CompanyInfo.NameValue OfferingSku holds
  "QuickBooks Online <edition>"; Preferences.AccountingInfoPrefs shows TrackDepartments and
  ClassTrackingPerTxnLine true (DepartmentTerminology "Location") where the edition has them.
- References: ItemBasedExpenseLineDetail.ClassRef / AccountBasedExpenseLineDetail.ClassRef on
  PO and Bill lines, ClassRef and DepartmentRef on the transaction: unknown Id 2500, inactive
  610, as every other reference.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.qbo import (  # circular by design: used only inside functions
    store as qbo_store,
)
from reconciler.sandbox.qbo.wire import QBOFault

EDITIONS = ("Simple Start", "Essentials", "Plus", "Advanced")
TRACKING_LIMIT: dict[str, int | None] = {
    "Simple Start": 0,
    "Essentials": 0,
    "Plus": 40,
    "Advanced": None,
}
TRACKING_ENTITIES = ("Class", "Department")
MAX_LEVELS = 5
CLASS_FIRST_ID = 5000000000000000001
WORDS = {"Class": "class", "Department": "location"}


def offering_sku(edition: str) -> str:
    """CompanyInfo's OfferingSku value for an edition."""
    return f"QuickBooks Online {edition}"


def check_edition(edition: str) -> str:
    """The edition name, or ValueError."""
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, not {edition!r}")
    return edition


def tracking_prefs(edition: str) -> dict:
    """The AccountingInfoPrefs tracking fields as QBO shows them for an edition."""
    available = TRACKING_LIMIT[edition] != 0
    prefs = {
        "TrackDepartments": available,
        "ClassTrackingPerTxn": False,
        "ClassTrackingPerTxnLine": available,
    }
    if available:
        prefs["DepartmentTerminology"] = "Location"
    return prefs


def require_tracking(company: Any) -> None:
    """6000 when the company's edition has no classes and locations."""
    if TRACKING_LIMIT[company.edition] == 0:
        raise qbo_store.business_rule(
            f"Class and location tracking is not available in {offering_sku(company.edition)}. "
            "Upgrade to QuickBooks Online Plus to use classes and locations."
        )


# --- references on transactions --------------------------------------------------------------


def resolve_line_class(company: Any, detail: dict) -> None:
    """A line's ClassRef: only where the edition has classes, and a real, active class."""
    if detail.get("ClassRef") is not None:
        require_tracking(company)
        detail["ClassRef"] = company._resolve_ref("ClassRef", detail["ClassRef"], "Class")


def resolve_txn_refs(company: Any, obj: dict) -> None:
    """A transaction's DepartmentRef and ClassRef, checked like the line's."""
    for name, target in (("DepartmentRef", "Department"), ("ClassRef", "Class")):
        if obj.get(name) is not None:
            require_tracking(company)
            obj[name] = company._resolve_ref(name, obj[name], target)


# --- the entities -----------------------------------------------------------------------------


def normalise_tracking(company: Any, entity: str, obj: dict, existing: dict | None) -> dict:
    """Class or Department through QBO's rules (edition, name, parent, uniqueness, limit)."""
    require_tracking(company)
    name = (qbo_store._text(obj, "Name") or "").strip()
    if not name:
        raise qbo_store.required_missing("Name")
    if any(char in name for char in qbo_store.FORBIDDEN_NAME_CHARS):
        raise qbo_store.business_rule(
            f"The {WORDS[entity]} name cannot contain a colon (:); colons separate levels."
        )
    obj["Name"] = name
    obj["FullyQualifiedName"] = _qualified_name(company, entity, obj, existing)
    _check_unique(company, entity, obj["FullyQualifiedName"], existing)
    obj.setdefault("Active", True)
    _check_limit(company, obj, existing)
    return obj


def _qualified_name(company: Any, entity: str, obj: dict, existing: dict | None) -> str:
    flag = "SubClass" if entity == "Class" else "SubDepartment"
    if obj.get("ParentRef") is None:
        obj[flag] = False
        return obj["Name"]
    obj["ParentRef"] = company._resolve_ref("ParentRef", obj["ParentRef"], entity)
    parent = company.objects[entity][obj["ParentRef"]["value"]]
    if _ancestors(company, entity, parent, (existing or {}).get("Id")) >= MAX_LEVELS - 1:
        raise qbo_store.business_rule(
            f"A {WORDS[entity]} can be nested at most {MAX_LEVELS} levels deep."
        )
    obj[flag] = True
    return f"{parent['FullyQualifiedName']}:{obj['Name']}"


def _ancestors(company: Any, entity: str, parent: dict, own_id: str | None) -> int:
    """How many levels sit above `parent`; 6000 if the chain comes back to the object itself."""
    depth, current = 0, parent
    for _ in range(len(company.objects[entity]) + 1):
        if own_id is not None and current["Id"] == own_id:
            raise qbo_store.business_rule(f"A {WORDS[entity]} cannot be its own parent.")
        parent_id = qbo_store._ref_id(current.get("ParentRef"))
        if parent_id is None or parent_id not in company.objects[entity]:
            return depth
        depth, current = depth + 1, company.objects[entity][parent_id]
    return depth


def _check_unique(company: Any, entity: str, qualified: str, existing: dict | None) -> None:
    for other in company.objects[entity].values():
        if other is existing or other.get("Id") == (existing or {}).get("Id"):
            continue
        if qbo_store._key(other.get("FullyQualifiedName", "")) == qbo_store._key(qualified):
            raise QBOFault(
                "6240",
                "Duplicate Name Exists Error",
                f"The name supplied already exists. : Another {WORDS[entity]} is already using "
                "this name. Please use a different name.",
            )


def _check_limit(company: Any, obj: dict, existing: dict | None) -> None:
    """Plus: at most 40 active classes and locations together (an activation counts)."""
    limit = TRACKING_LIMIT[company.edition]
    becoming_active = obj.get("Active", True) and not (existing or {}).get("Active", False)
    if limit is None or not becoming_active:
        return
    active = sum(
        1
        for entity in TRACKING_ENTITIES
        for other in company.objects[entity].values()
        if other.get("Active", True)
    )
    if active >= limit:
        raise qbo_store.business_rule(
            f"You've reached the usage limit of {limit} classes and locations for "
            f"{offering_sku(company.edition)}. Make some inactive or upgrade to QuickBooks "
            "Online Advanced to add more."
        )


def after_write(company: Any, entity: str, stored: dict) -> None:
    """A renamed or moved parent renames its descendants (FullyQualifiedName only)."""
    children = [
        o
        for o in company.objects[entity].values()
        if qbo_store._ref_id(o.get("ParentRef")) == stored["Id"]
    ]
    for child in children:
        qualified = f"{stored['FullyQualifiedName']}:{child['Name']}"
        if child.get("FullyQualifiedName") != qualified:
            child["FullyQualifiedName"] = qualified
            after_write(company, entity, child)
