"""Intuit's entity schema and documented limits: what QBO deserialises before any business rule.

The table (`schema.json`) is generated from ../shared/qbo-reference by scripts/qbo_schema.py
(Intuit's XSD from its Java SDK, and the API reference's documented maximum lengths); a test
regenerates it and compares, so nothing here is a hand-written list. What a request body meets,
in QBO's order (deserialisation first, then validation):

- Property names at every depth, as the XSD has them on that type (an entity, a Line, a line
  detail, a reference, an address...). Any other name: 400 fault 2010 "Request has invalid or
  unsupported property" with the Detail QBO's JSON deserialiser (Jackson) writes, as recorded
  (recorded/fault_2010_unknown_property.json): `Property Name:Unrecognized field "X" (class
  com.intuit.schema.finance.v3.T), not marked as ignorable (N known properties: "A", "B", ...
  [truncated]])` then `specified is unsupported or invalid`. Jackson cuts the list once it
  passes 1000 characters; its order is Jackson's own (not reproducible), here the XSD's.
  Everything QBO answers is in the XSD, so an object read back is accepted back whole.
- Value shapes: an object where the XSD has a type, an array where it allows many, a number for
  a decimal, true/false for a boolean; a JSON null, and an empty text where a date, number or
  boolean belongs, are taken as absent (Jackson's defaults; python-quickbooks sends
  "OpenBalanceDate": "" on every Customer and real QBO takes it). Otherwise 2010 with
  Jackson's "Can not construct instance of ..." / "Can not deserialize instance of ..." text
  (its wording for a string in a BigDecimal field is quoted in node-quickbooks #39).
- Dates (xs:date): "2025-06-16" or a date-time ("2025-06-16T00:00:00", offset or not) is the
  date it starts with, stored and answered as "2025-06-16" (recorded: po_create_batch.json and
  bill_create_batch.json send "...T00:00:00" and get the date); anything else is 2010 as above
  (java.util.Date). The time and offset of a date-time are dropped, not converted: how QBO
  reads "2025-06-16T23:30:00-07:00" is not recorded.
- Documented maximum lengths (Intuit's API reference: "Max 1000 chars" on Item.PurchaseDesc,
  "Individual maximum of 500 chars, up to combined max of 2000" on address lines...): one
  character over is 400 fault 2050 "String length is either shorter or longer than supported
  by specification", Detail "String length specified does not match the supported length.
  Min:0 Max:N supported. Supplied length:M", element the property. Lengths count UTF-16 code
  units, as Java's String.length() does (QBO is a Java service; unconfirmed, and the stricter
  reading: a character outside the BMP counts twice).
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler.sandbox.qbo.wire import QBOFault

TABLE_PATH = Path(__file__).with_name("schema.json")
JAVA_PACKAGE = "com.intuit.schema.finance.v3"
JACKSON_DESC_MAX = 1000  # Jackson's PropertyBindingException.MAX_DESC_LENGTH
INVALID = "Request has invalid or unsupported property"
TOO_LONG = "String length is either shorter or longer than supported by specification"
_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
JAVA_TYPES = {
    "decimal": "java.math.BigDecimal",
    "int": "java.math.BigInteger",
    "boolean": "java.lang.Boolean",
    "date": "java.util.Date",
    "dateTime": "java.util.Date",
    "string": "java.lang.String",
}


def utf16_length(text: str) -> int:
    """Characters as Java counts them (a character outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def normal_date(value: Any) -> str | None:
    """The date a date or date-time text starts with ("2025-06-16"), or None."""
    match = _DATE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        return None


def _invalid(detail: str, element: str = "") -> QBOFault:
    text = f"Property Name:{detail} specified is unsupported or invalid"
    return QBOFault("2010", INVALID, text, element=element)


def unknown_property(name: str, type_name: str, known: list[str]) -> QBOFault:
    """2010 for a property the type does not have, in Jackson's words (see the docstring)."""
    if len(known) == 1:
        suffix = f' (one known property: "{known[0]}"'
    else:
        suffix = f" ({len(known)} known properties: "
        for number, prop in enumerate(known):
            suffix += f'"{prop}"'
            if len(suffix) > JACKSON_DESC_MAX:
                suffix += " [truncated]"
                break
            if number < len(known) - 1:
                suffix += ", "
    suffix += "])"
    return _invalid(
        f'Unrecognized field "{name}" (class {JAVA_PACKAGE}.{type_name}), not marked as '
        f"ignorable{suffix}\n"
    )


def too_long(name: str, maximum: int, supplied: int) -> QBOFault:
    """2050: a string longer than the documented maximum."""
    return QBOFault(
        "2050",
        TOO_LONG,
        f"String length specified does not match the supported length. Min:0 Max:{maximum} "
        f"supported. Supplied length:{supplied}",
        element=name,
    )


class EntitySchema:
    """The generated table, and the checks a request body goes through."""

    def __init__(self, table: dict) -> None:
        self.entities: dict[str, str] = table["entities"]
        self.types: dict[str, dict[str, list]] = table["types"]
        self.type_limits: dict[str, dict[str, int]] = table["type_limits"]
        self.path_limits: dict[str, dict[str, int]] = table["path_limits"]
        self.combined: dict[str, dict] = table["combined_limits"]
        self._by_lower = {name.lower(): name for name in self.entities}

    @classmethod
    def load(cls, path: Path = TABLE_PATH) -> EntitySchema:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def entity_named(self, resource: str) -> str | None:
        """The entity a URL resource names ("purchaseorder" -> "PurchaseOrder"), if any."""
        return self._by_lower.get(resource.lower())

    def properties(self, type_name: str) -> dict[str, list]:
        return self.types.get(type_name, {})

    def check(self, entity: str, body: Any) -> Any:
        """The body with its dates normalised; 2010 or 2050 for what QBO would refuse."""
        type_name = self.entities.get(entity, entity)
        if not isinstance(body, dict):
            raise _invalid(f"Can not deserialize instance of {JAVA_PACKAGE}.{type_name}")
        return self._object(body, type_name, entity, ())

    def _object(self, obj: dict, type_name: str, entity: str, path: tuple[str, ...]) -> dict:
        props = self.properties(type_name)
        open_ended = "*" in props
        checked = {}
        for name, value in obj.items():
            if value is None:  # Jackson leaves the field unset
                continue
            if name not in props:
                if open_ended:
                    checked[name] = value
                    continue
                known = [p for p in props if p != "*"]
                raise unknown_property(name, type_name, known)
            kind, many = props[name]
            value = self._value(value, kind, many, name, entity, (*path, name))
            if value is None:
                continue
            if isinstance(value, str):
                self._check_length(value, type_name, name, entity, (*path, name))
            checked[name] = value
        self._check_combined(checked, type_name)
        return checked

    def _value(
        self, value: Any, kind: str, many: bool, name: str, entity: str, path: tuple[str, ...]
    ) -> Any:
        if value is None:
            return None
        if many:
            if not isinstance(value, list):
                raise _invalid(
                    f"Can not deserialize instance of java.util.ArrayList out of "
                    f"{_token(value)} token",
                    name,
                )
            return [self._value(item, kind, False, name, entity, path) for item in value]
        if kind in self.types:
            if not isinstance(value, dict):
                raise _invalid(
                    f"Can not deserialize instance of {JAVA_PACKAGE}.{kind} out of "
                    f"{_token(value)} token",
                    name,
                )
            return self._object(value, kind, entity, path)
        return _scalar(value, kind, name)

    def _check_length(
        self, text: str, type_name: str, name: str, entity: str, path: tuple[str, ...]
    ) -> None:
        maximum = self.type_limits.get(type_name, {}).get(name)
        if maximum is None:
            maximum = self.path_limits.get(entity, {}).get(".".join(path))
        length = utf16_length(text)
        if maximum is not None and length > maximum:
            raise too_long(name, maximum, length)

    def _check_combined(self, obj: dict, type_name: str) -> None:
        rule = self.combined.get(type_name)
        if rule is None:
            return
        parts = [obj.get(name) for name in rule["properties"]]
        length = sum(utf16_length(p) for p in parts if isinstance(p, str))
        if length > rule["max"]:
            raise too_long(rule["properties"][0], rule["max"], length)

    def limit(self, entity: str, dotted: str) -> int | None:
        """The documented maximum of a property path of an entity ("BillAddr.Line1")."""
        type_name = self.entities.get(entity, entity)
        *parents, name = dotted.split(".")
        for parent in parents:
            type_name = self.properties(type_name).get(parent, ["", False])[0]
        found = self.type_limits.get(type_name, {}).get(name)
        return found if found is not None else self.path_limits.get(entity, {}).get(dotted)


def _token(value: Any) -> str:
    """Jackson's name for the JSON token it met."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    return "VALUE_NUMBER_FLOAT" if isinstance(value, Decimal | float) else "VALUE_NUMBER_INT"


def _scalar(value: Any, kind: str, name: str) -> Any:
    """A scalar as QBO takes it (dates normalised), or 2010."""
    if kind == "any":
        return value
    if kind != "string" and isinstance(value, str) and not value.strip():
        return None  # Jackson reads an empty text as null for dates, numbers and booleans
    if isinstance(value, dict | list):
        java = JAVA_TYPES.get(kind, "java.lang.String")
        raise _invalid(f"Can not deserialize instance of {java} out of {_token(value)} token", name)
    if kind == "date":
        normal = normal_date(value)
        if normal is None:
            raise _cannot_construct("java.util.Date", value, name)
        return normal
    if kind == "decimal" or kind == "int":
        if isinstance(value, bool) or not _numeric(value, kind == "int"):
            raise _cannot_construct(JAVA_TYPES[kind], value, name)
        return value
    if kind == "boolean":
        if isinstance(value, bool) or str(value).lower() in ("true", "false"):
            return value
        raise _cannot_construct("java.lang.Boolean", value, name)
    return value


def _numeric(value: Any, whole: bool) -> bool:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return False
    return number.is_finite() and (not whole or number == number.to_integral_value())


def _cannot_construct(java: str, value: Any, name: str) -> QBOFault:
    return _invalid(
        f"Can not construct instance of {java} from String value '{value}': not a valid "
        "representation",
        name,
    )


SCHEMA = EntitySchema.load()
