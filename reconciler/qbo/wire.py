"""What QBO speaks: its JSON, exactly (Decimals in and out, never floats: money must stay
exact), and the shape of a /batch item and its answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reconciler import errors

# QBO takes at most 30 items in one /batch request (Intuit's batch reference).
MAX_BATCH_ITEMS = 30


def encode_json(value: Any) -> str:
    """JSON text with Decimals written exactly as numbers; floats are refused (money)."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send a non-finite number: {value}")
        text = format(value, "f")
        out.append("0" if text in ("-0", "0") else text)
    elif isinstance(value, float):
        raise TypeError("floats are not sent to QBO; use Decimal (money must stay exact)")
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes sent to QBO must be timezone-aware")
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            if index:
                out.append(",")
            out.append(json.dumps(key))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot send a {type(value).__name__} to QBO")


def decode_json(content: bytes | str) -> Any:
    """Parse an answer; every JSON number with a fraction becomes a Decimal."""
    return json.loads(content, parse_float=Decimal)


def find_key(mapping: Mapping[str, Any], name: str) -> Any:
    """A key regardless of case: the gateway writes `fault`, the API `Fault`."""
    lowered = name.lower()
    for key, value in mapping.items():
        if key.lower() == lowered:
            return value
    return None


@dataclass(frozen=True)
class BatchOp:
    """One item of a /batch request: create/update/delete of an entity, or a query."""

    bid: str
    operation: str  # "create" | "update" | "delete" | "query"
    entity: str | None = None  # e.g. "PurchaseOrder" (not for queries)
    body: Mapping[str, Any] | None = None
    query: str | None = None
    sparse: bool = True  # for updates

    def to_wire(self) -> dict[str, Any]:
        if self.operation == "query":
            if not self.query:
                raise ValueError(f"batch item {self.bid}: a query item needs a statement")
            return {"bId": self.bid, "Query": self.query}
        if self.operation not in ("create", "update", "delete"):
            raise ValueError(f"batch item {self.bid}: unknown operation {self.operation!r}")
        if not self.entity or self.body is None:
            raise ValueError(f"batch item {self.bid}: {self.operation} needs entity and body")
        body = dict(self.body)
        if self.operation in ("update", "delete"):
            require_id_and_token(body)
        if self.operation == "update" and self.sparse:
            body["sparse"] = True
        return {"bId": self.bid, "operation": self.operation, self.entity: body}


@dataclass(frozen=True)
class BatchItemResult:
    """One item's answer: an entity, a query answer, or a fault (never raised for you)."""

    bid: str
    entity_name: str | None = None
    entity: dict | None = None
    query_response: dict | None = None
    fault: errors.ReconcilerError | None = None  # a QBOFault, or no answer (sent alone)
    intuit_tid: str | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None


@dataclass(frozen=True)
class GroupAnswer:
    """One result per item, in order; `as_batch`: whether they went as one /batch request
    (else each alone: `qbo.groups`)."""

    results: list[BatchItemResult]
    as_batch: bool


def require_id_and_token(body: Mapping[str, Any]) -> None:
    if not body.get("Id") or body.get("SyncToken") in (None, ""):
        raise ValueError("update and delete bodies need Id and SyncToken")
