"""From a QBO fault answer to the `errors` class that says what the caller does.

Shapes seen in the wild (QBO docs and public client code):

- `{"Fault": {"Error": [{"Message", "Detail", "code", "element"}], "type": "ValidationFault"},
  "time": "..."}`: the documented shape.
- `{"fault": {"error": [{"message", "detail", "code"}], "type": "AUTHENTICATION"}}`: the
  gateway's 401 answer uses lower-case keys, so keys are matched without regard to case.
- Batch items carry the inner object: `{"bId": "1", "Fault": {"Error": [...], "type": ...}}`.
- Throttling and gateway errors may come as HTML or plain text: then the HTTP status decides.

The fault code decides when we know it; otherwise the HTTP status does; a code we do not know
on a 4xx (or on a batch item) parks the PO rather than retrying something that fails the same
way. Codes are compared without leading zeros ("003200" == "3200").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler import errors

FaultClass = type[errors.QBOFault]

CODE_TABLE: dict[str, FaultClass] = {
    "6240": errors.DuplicateNameFault,
    "6140": errors.DuplicateDocNumberFault,
    "5010": errors.StaleObjectFault,
    "610": errors.ObjectNotFoundFault,
    "2500": errors.ObjectNotFoundFault,
    "3001": errors.ThrottledFault,
    "3200": errors.QBOFatalFault,  # the client refreshes once before it gets here
    "3100": errors.QBOFatalFault,
    "120": errors.QBOFatalFault,
    "10000": errors.QBORetryableFault,
    "2020": errors.QBOParkedFault,
    "2050": errors.QBOParkedFault,
    "6000": errors.QBOParkedFault,
    "4000": errors.QBOParkedFault,  # our query is wrong: retrying will not fix it
}

STATUS_TABLE: dict[int, FaultClass] = {
    429: errors.ThrottledFault,
    401: errors.QBOFatalFault,
    403: errors.QBOFatalFault,
}

_MAX_TEXT = 300


def normalise_code(code: object) -> str | None:
    """ "003200" -> "3200"; None and blanks stay None."""
    if code is None:
        return None
    text = str(code).strip()
    if not text:
        return None
    stripped = text.lstrip("0")
    return stripped or "0"


def classify(code: str | None, http_status: int | None) -> FaultClass:
    """The errors class for a fault code and/or HTTP status."""
    normalised = normalise_code(code)
    if normalised is not None and normalised in CODE_TABLE:
        return CODE_TABLE[normalised]
    if http_status is not None:
        if http_status in STATUS_TABLE:
            return STATUS_TABLE[http_status]
        if 500 <= http_status <= 599:
            return errors.QBORetryableFault
    return errors.QBOParkedFault


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    """Case-insensitive lookup: the gateway writes `fault`/`error`, the API `Fault`/`Error`."""
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    for name, value in mapping.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return None


def _as_mapping(body: object) -> tuple[Mapping[str, Any] | None, str | None]:
    """A JSON object, or (None, a short excerpt of the text) when the body is not one."""
    if body is None:
        return None, None
    if isinstance(body, Mapping):
        return body, None
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            text = " ".join(body.split())
            return None, (text[:_MAX_TEXT] or None)
        if isinstance(parsed, Mapping):
            return parsed, None
        return None, str(parsed)[:_MAX_TEXT]
    return None, None


def _first_error(fault: Mapping[str, Any]) -> Mapping[str, Any]:
    error_list = _get(fault, "Error")
    if isinstance(error_list, list) and error_list and isinstance(error_list[0], Mapping):
        return error_list[0]
    if isinstance(error_list, Mapping):
        return error_list
    return {}


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text else None


def fault_from_fault_object(
    fault: Mapping[str, Any] | None,
    *,
    http_status: int | None,
    intuit_tid: str | None,
    fallback_text: str | None = None,
) -> errors.QBOFault:
    """The inner `Fault` object (as in a batch item) to an exception instance."""
    first = _first_error(fault) if fault is not None else {}
    code = normalise_code(_get(first, "code"))
    message = _text(_get(first, "Message"))
    detail = _text(_get(first, "Detail"))
    element = _text(_get(first, "element"))
    fault_type = _text(_get(fault, "type")) if fault is not None else None
    if message is None:
        message = f"HTTP {http_status}" if http_status is not None else "QBO fault"
        if detail is None and fallback_text:
            detail = fallback_text
    cls = classify(code, http_status)
    return cls(
        message,
        code=code if code is not None else (str(http_status) if http_status else None),
        http_status=http_status,
        detail=detail,
        element=element,
        fault_type=fault_type,
        intuit_tid=intuit_tid,
    )


def fault_from_response(
    http_status: int, body: Mapping[str, Any] | str | bytes | None, intuit_tid: str | None
) -> errors.QBOFault:
    """A whole error answer (parsed JSON, raw text, or nothing) to an exception instance."""
    mapping, text = _as_mapping(body)
    fault = None
    if mapping is not None:
        fault = _get(mapping, "Fault")
        if not isinstance(fault, Mapping):
            # some answers put Error at the top level, without the Fault wrapper
            fault = mapping if _get(mapping, "Error") is not None else None
    return fault_from_fault_object(
        fault, http_status=http_status, intuit_tid=intuit_tid, fallback_text=text
    )


def fault_from_batch_item(item: Mapping[str, Any], intuit_tid: str | None) -> errors.QBOFault:
    """A `BatchItemResponse` element that holds a `Fault` (the batch answer itself was 200)."""
    fault = _get(item, "Fault")
    return fault_from_fault_object(
        fault if isinstance(fault, Mapping) else None, http_status=None, intuit_tid=intuit_tid
    )
