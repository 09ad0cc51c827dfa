"""Transaction line Ids as QBO keeps them across updates (PurchaseOrder and Bill).

Intuit's entity references (Line.Id on PurchaseOrder and Bill): "If Id is greater than zero and
exists for the company, the request is considered an update operation for a line item. If no Id
is provided, the Id provided is less than or equal to zero, or the Id provided is greater than
zero and does not exist ... the request is considered a create operation for a line item."
So a line sent with its Id keeps it; any other line gets a new Id, one past the highest this
object ever had (a removed line's Id is never handed out again, or a bill's link to it would
silently point at another line); lines left out of the request are gone. LineNum is the
position, 1..n, on every write.
"""

from __future__ import annotations

from typing import Any


def line_ids(lines: Any) -> list[str]:
    """The Ids of an object's stored lines."""
    if not isinstance(lines, list):
        return []
    return [str(line["Id"]) for line in lines if isinstance(line, dict) and line.get("Id")]


def high_water(known: int | None, lines: Any) -> int:
    """The highest line Id an object has had: the remembered one or its lines' maximum."""
    numbers = [int(i) for i in line_ids(lines) if i.isdigit()]
    return max([known or 0, *numbers])


def assign_line_ids(raw_lines: list, lines: list[dict], existing: dict | None, high: int) -> int:
    """Set Id and LineNum on normalised `lines` (parallel to `raw_lines`); answer the new high."""
    known = set(line_ids((existing or {}).get("Line")))
    used: set[str] = set()
    for position, (raw, line) in enumerate(zip(raw_lines, lines, strict=True), 1):
        wanted = str(raw.get("Id")) if isinstance(raw, dict) and raw.get("Id") is not None else ""
        if wanted in known and wanted not in used:
            line["Id"] = wanted
        else:
            high += 1
            line["Id"] = str(high)
        used.add(line["Id"])
        line["LineNum"] = position
    return high


def kept_line_ids(lines: list[dict], existing: dict | None) -> set[str]:
    """Ids of the written lines that update a line the object already had."""
    return set(line_ids(lines)) & set(line_ids((existing or {}).get("Line")))
