"""Generate the QBO emulator's schema table from Intuit's reference data (never by hand).

    .venv/bin/python scripts/qbo_schema.py                 # rewrite the table
    .venv/bin/python scripts/qbo_schema.py --check         # exit 1 if it would change

Reads ../shared/qbo-reference/ (relative to the project root; `--reference` to point
elsewhere):

- `xsd/*.xsd`, Intuit's entity schema (QuickBooks-V3-Java-SDK): every complex type's
  properties as QBO's JSON names them (elements, attributes, `value` for simple content),
  each with its type (another complex type, or a scalar kind: string, boolean, decimal, int,
  date, dateTime, any) and whether it is a list; inherited properties are folded in, groups
  and choices flattened. `entities` maps each top-level entity (an element of the
  IntuitObject substitution group) to its type.
- `api-reference-types.json`, Intuit's API reference pages: every documented maximum length
  ("max 1000 chars", "Maximum of 21 chars", ...) of a String attribute, located on the XSD
  type the documented path reaches (Vendor_BillAddr -> Vendor.BillAddr -> PhysicalAddress).
  A (type, property) whose documented limits all agree is a type limit, in force wherever
  the type appears (PhysicalAddress.Line1 500 on a Bill's addresses too); where the pages
  disagree (TelephoneNumber.FreeFormNumber: 20 on CompanyInfo, 30 on Vendor) the limit holds
  only on the documented paths. "Individual maximum of 500 chars, up to combined max of 2000"
  adds a combined limit over the address lines.

The table is written as compact JSON to reconciler/sandbox/qbo/schema.json, which the emulator
reads at runtime (it must run from an installed package, without ../shared); a test
regenerates it from ../shared and compares, so it cannot drift from the reference.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "qbo-reference"
OUTPUT = REPO / "reconciler" / "sandbox" / "qbo" / "schema.json"
XS = "{http://www.w3.org/2001/XMLSchema}"
XSD_FILES = (
    "IEntity.xsd",
    "IntuitBaseTypes.xsd",
    "IntuitNamesTypes.xsd",
    "Finance.xsd",
    "IntuitRestServiceDef.xsd",
    "SalesTax.xsd",
)
SCALARS = {
    "string": "string",
    "normalizedString": "string",
    "token": "string",
    "anyURI": "string",
    "boolean": "boolean",
    "decimal": "decimal",
    "double": "decimal",
    "float": "decimal",
    "int": "int",
    "integer": "int",
    "long": "int",
    "short": "int",
    "positiveInteger": "int",
    "nonNegativeInteger": "int",
    "unsignedInt": "int",
    "date": "date",
    "dateTime": "dateTime",
    "time": "string",
    "base64Binary": "string",
    "anyType": "any",
}
MAX_LENGTH = re.compile(
    r"(?:max(?:imum)?(?: of)?|maximum length of this field is)\s+(\d+)\s+char", re.IGNORECASE
)
COMBINED = re.compile(r"combined max(?:imum)? of (\d+) char", re.IGNORECASE)


# --- the XSD ------------------------------------------------------------------------------


def _local(name: str | None) -> str:
    return (name or "").split(":")[-1]


class Schema:
    """The complex types, simple types and groups of the XSD files, by name."""

    def __init__(self, folder: Path) -> None:
        self.complex: dict[str, ET.Element] = {}
        self.simple: dict[str, ET.Element] = {}
        self.groups: dict[str, ET.Element] = {}
        self.elements: list[ET.Element] = []
        for name in XSD_FILES:
            root = ET.parse(folder / name).getroot()  # noqa: S314 (Intuit's XSD, read-only)
            for node in root:
                kind = {
                    f"{XS}complexType": self.complex,
                    f"{XS}simpleType": self.simple,
                    f"{XS}group": self.groups,
                }.get(node.tag)
                if kind is not None:
                    kind[node.get("name")] = node
                elif node.tag == f"{XS}element":
                    self.elements.append(node)

    def entities(self) -> dict[str, str]:
        """Top-level entities (the IntuitObject substitution group): element -> type."""
        return {
            e.get("name"): _local(e.get("type"))
            for e in self.elements
            if _local(e.get("substitutionGroup")) == "IntuitObject"
        }

    def kind(self, type_name: str) -> str:
        """A scalar kind, or the complex type's own name."""
        local = _local(type_name)
        if type_name.startswith("xs:"):
            return SCALARS.get(local, "string")
        if local in self.complex:
            return local
        if local in self.simple:
            restriction = self.simple[local].find(f"{XS}restriction")
            base = restriction.get("base") if restriction is not None else "xs:string"
            return self.kind(base)
        return "any"  # a type from a file the SDK has and the reference left out (Report.xsd)

    def properties(self, type_name: str) -> dict[str, list]:
        """Every JSON property of a complex type: name -> [kind, is_list]."""
        found: dict[str, list] = {}
        self._collect(self.complex[type_name], found)
        return found

    def _collect(self, node: ET.Element, found: dict[str, list]) -> None:
        for child in node:
            tag = child.tag
            if tag == f"{XS}element":
                if child.get("ref"):
                    name = _local(child.get("ref"))
                    found[name] = ["any", False]
                    continue
                kind = self._element_kind(child)
                many = child.get("maxOccurs") not in (None, "1")
                found[child.get("name")] = [kind, many]
            elif tag == f"{XS}attribute":
                found[child.get("name")] = [self.kind(child.get("type") or "xs:string"), False]
            elif tag == f"{XS}any":
                found["*"] = ["any", True]
            elif tag == f"{XS}group" and child.get("ref"):
                self._collect(self.groups[_local(child.get("ref"))], found)
            elif tag in (f"{XS}complexContent", f"{XS}simpleContent"):
                self._collect(child, found)
            elif tag in (f"{XS}extension", f"{XS}restriction"):
                base = _local(child.get("base"))
                if base in self.complex:
                    self._collect(self.complex[base], found)
                elif tag == f"{XS}extension":
                    found["value"] = [self.kind(child.get("base")), False]
                self._collect(child, found)
            elif tag in (f"{XS}sequence", f"{XS}choice", f"{XS}all", f"{XS}group"):
                self._collect(child, found)

    def _element_kind(self, element: ET.Element) -> str:
        if element.get("type"):
            return self.kind(element.get("type"))
        return "any"  # an anonymous type (none on the entities the emulator serves)


def types_table(schema: Schema) -> dict[str, dict[str, list]]:
    """Every complex type reachable from the entities, with its properties."""
    table: dict[str, dict[str, list]] = {}
    pending = sorted(set(schema.entities().values()))
    while pending:
        name = pending.pop()
        if name in table or name not in schema.complex:
            continue
        props = schema.properties(name)
        table[name] = props
        pending.extend(kind for kind, _ in props.values() if kind in schema.complex)
    return dict(sorted(table.items()))


# --- the API reference's limits -------------------------------------------------------------


def documented_limits(reference: dict) -> list[tuple[list[str], str, int, int | None]]:
    """(path of property names from the entity, property, max length, combined max) for every
    String attribute with a documented maximum length."""
    found = []
    for entry in reference["Types"].values():
        path = entry["nameDepthString"].split("_")
        for attribute in entry["attributes"]:
            if attribute.get("type") != "String":
                continue
            meta = attribute.get("metaData") or ""
            match = MAX_LENGTH.search(meta)
            if match is None:
                continue
            combined = COMBINED.search(meta)
            found.append(
                (path, attribute["name"], int(match.group(1)), _int(combined and combined[1]))
            )
    return found


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def _walk(types: dict, entities: dict[str, str], path: list[str]) -> str | None:
    """The XSD type a documented path reaches (entity, then property names)."""
    current = entities.get(path[0])
    for name in path[1:]:
        props = types.get(current or "", {})
        if name not in props:
            return None
        current = props[name][0]
    return current if current in types else None


def limits_tables(types: dict, entities: dict[str, str], reference: dict) -> dict:
    """Type limits where the reference agrees with itself, path limits where it does not, and
    the combined limits; with what could not be placed on the XSD (should stay empty)."""
    by_type: dict[tuple[str, str], set[int]] = defaultdict(set)
    by_path: dict[tuple[str, str], int] = {}
    combined: dict[str, dict[str, object]] = {}
    unplaced = []
    for path, prop, maximum, together in documented_limits(reference):
        owner = _walk(types, entities, path)
        if owner is None or prop not in types[owner]:
            unplaced.append(".".join([*path, prop]))
            continue
        by_type[(owner, prop)].add(maximum)
        by_path[(".".join(path), prop)] = maximum
        if together is not None:
            entry = combined.setdefault(owner, {"max": together, "properties": []})
            if prop not in entry["properties"]:
                entry["properties"] = sorted([*entry["properties"], prop])  # type: ignore[misc]
    type_limits: dict[str, dict[str, int]] = defaultdict(dict)
    path_limits: dict[str, dict[str, int]] = defaultdict(dict)
    for (owner, prop), values in sorted(by_type.items()):
        if len(values) == 1:
            type_limits[owner][prop] = values.pop()
    for (where, prop), maximum in sorted(by_path.items()):
        owner = _walk(types, entities, where.split("."))
        if prop not in type_limits.get(owner or "", {}):
            entity, *rest = where.split(".")
            path_limits[entity][".".join([*rest, prop])] = maximum
    return {
        "type_limits": dict(type_limits),
        "path_limits": dict(path_limits),
        "combined_limits": combined,
        "unplaced_limits": sorted(set(unplaced)),
    }


# --- the table ------------------------------------------------------------------------------


def build(reference: Path) -> dict:
    """The whole table, as the emulator reads it."""
    schema = Schema(reference / "xsd")
    entities = dict(sorted(schema.entities().items()))
    types = types_table(schema)
    api = json.loads((reference / "api-reference-types.json").read_text())
    return {
        "source": {
            "xsd": "intuit/QuickBooks-V3-Java-SDK ipp-v3-java-data/src/main/xsd (qbo-reference)",
            "limits": api.get("source", "api-reference-types.json"),
            "generator": "scripts/qbo_schema.py",
        },
        "entities": entities,
        "types": types,
        **limits_tables(types, entities, api),
    }


def render(table: dict) -> str:
    """Compact JSON, one top-level key and one type per line (diffs stay readable)."""
    lines = ["{"]
    keys = list(table)
    for number, key in enumerate(keys):
        value = table[key]
        comma = "," if number < len(keys) - 1 else ""
        if key == "types":
            rows = [
                f"  {json.dumps(name)}: {json.dumps(props, separators=(',', ':'))}"
                for name, props in value.items()
            ]
            lines.append('"types": {\n' + ",\n".join(rows) + f"\n}}{comma}")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the table is stale")
    args = parser.parse_args(argv)
    text = render(build(args.reference))
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.output} is stale: run scripts/qbo_schema.py\n")
            return 1
        return 0
    args.output.write_text(text)
    sys.stdout.write(f"wrote {args.output} ({len(text)} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
