"""Wire details shared by the emulator's parts: JSON with exact Decimal money, fault bodies, times.

Fault shapes, as QBO answers them:
- The v3 API (validation, business rules, not found, throttling):
  `{"Fault": {"Error": [{"Message", "Detail", "code", "element"}], "type": ...}, "time": ...}`.
  The 429 throttle fault keeps the text QBO puts in it ("message=ThrottleExceeded;
  errorCode=003001; statusCode=429", Detail "The request limit was reached.  Try again later",
  type "SERVICE"), as quoted in python-quickbooks #83 and quickbooks-ruby #348.
  QBO has answered that 429 as XML even to a JSON request (python-quickbooks #43: "requesting
  json, receiving XML"); `throttle_fault_xml` is that body, element for element as quoted in
  QuickBooks-V3-PHP-SDK #54 and the quickbooks-ruby #348 fixture (`<IntuitResponse time=...
  xmlns="http://schema.intuit.com/finance/v3"><Fault type="SERVICE"><Error code="3001">
  <Message>...</Message><Detail>...</Detail>`). Its Content-Type is not quoted anywhere: here
  `application/xml;charset=UTF-8`, a client must not trust the header either way.
- The API gateway (bearer token problems, 401 code 3200 and 403 code 3100) answers JSON in its own
  lowercase envelope: `{"warnings": null, "intuitObject": null, "fault": {"error": [{"message":
  "message=AuthenticationFailed; errorCode=003200; statusCode=401", "detail": ..., "code": "3200",
  "element": null}], "type": "AUTHENTICATION"}, ..., "time": <epoch ms>, ...}`, as quoted verbatim
  in python-quickbooks #250 and oauth-jsclient #2. Clients must key on the HTTP status and `code`,
  not on the envelope's capitalisation.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape as xml_escape

CENT = Decimal("0.01")


class QBOFault(Exception):
    """A fault the emulator answers with; status is the HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def fault(self) -> dict:
        """The `Fault` object (also used inside batch item answers)."""
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:  # the recorded faults (2010, 4001, 6240) carry no empty element
            error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}


def iso_millis(moment: datetime) -> str:
    """The `time` field of every answer: ISO 8601 with milliseconds and offset."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def iso_seconds(moment: datetime) -> str:
    """MetaData times: ISO 8601 to the second with offset."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def new_intuit_tid() -> str:
    """A transaction id in the shape Intuit's look: 1-<8 hex>-<24 hex>."""
    return f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"


def fault_body(fault: QBOFault, now: datetime) -> dict:
    """A v3 fault answer."""
    return {"Fault": fault.fault(), "time": iso_millis(now)}


def throttle_fault() -> QBOFault:
    """The 429 throttle fault (per-minute or concurrency limit)."""
    return QBOFault(
        "3001",
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.  Try again later",
        status=429,
        fault_type="SERVICE",
    )


XML_TYPE = "application/xml;charset=UTF-8"


def throttle_fault_xml(now: datetime) -> str:
    """The 429 throttle fault as the XML body QBO has been seen to send."""
    fault = throttle_fault()
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse time="{iso_millis(now)}" xmlns="http://schema.intuit.com/finance/v3">\n'
        f'    <Fault type="{fault.fault_type}">\n'
        f'        <Error code="{fault.code}">\n'
        f"            <Message>{xml_escape(fault.message)}</Message>\n"
        f"            <Detail>{xml_escape(fault.detail)}</Detail>\n"
        "        </Error>\n"
        "    </Fault>\n"
        "</IntuitResponse>\n"
    )


def gateway_fault_body(status: int, code: str, name: str, detail: str | None, now: datetime):
    """The API gateway's lowercase envelope used for 401/403 token problems."""
    fault_type = "AUTHENTICATION" if status == 401 else "SERVICE"
    error = {
        "message": f"message={name}; errorCode={int(code):06d}; statusCode={status}",
        "detail": detail,
        "code": code,
        "element": None,
    }
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {"error": [error], "type": fault_type},
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(now.timestamp() * 1000),
        "status": None,
        "cdcresponse": [],
    }


def loads(raw: bytes | str) -> Any:
    """Parse JSON with every fraction as a Decimal (money never passes through float)."""
    return json.loads(raw, parse_float=Decimal)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"not a JSON number: {value}")
    text = format(value, "f")
    return text


def dumps(value: Any) -> str:
    """Serialise to JSON, writing Decimals digit for digit as JSON numbers."""
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, datetime):
        return json.dumps(iso_seconds(value))
    return json.dumps(value)


def to_decimal(value: Any) -> Decimal | None:
    """A number from a request body (number or numeric string), or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None
