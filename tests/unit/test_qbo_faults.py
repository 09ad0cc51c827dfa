"""From QBO fault answers to the errors class that says what to do."""

from __future__ import annotations

import json

import pytest

from reconciler import errors
from reconciler.qbo.faults import fault_from_batch_item, fault_from_response, normalise_code


def body(code: str, *, status_type: str = "ValidationFault", message: str = "m", **extra):
    error = {"Message": message, "Detail": extra.pop("detail", "d"), "code": code}
    error.update(extra)
    return {"Fault": {"Error": [error], "type": status_type}, "time": "2024-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "6240", errors.DuplicateNameFault),
        (400, "6140", errors.DuplicateDocNumberFault),
        (400, "5010", errors.StaleObjectFault),
        (400, "610", errors.ObjectNotFoundFault),
        (400, "2500", errors.ObjectNotFoundFault),
        (429, "3001", errors.ThrottledFault),
        (401, "3200", errors.QBOFatalFault),
        (403, "3100", errors.QBOFatalFault),
        (403, "120", errors.QBOFatalFault),
        (500, "10000", errors.QBORetryableFault),
        (400, "2020", errors.QBOParkedFault),
        (400, "2050", errors.QBOParkedFault),
        (400, "6000", errors.QBOParkedFault),
        (400, "4000", errors.QBOParkedFault),
        (400, "9999", errors.QBOParkedFault),  # unknown code parks
        (503, "9999", errors.QBORetryableFault),  # unknown code, server error: retry
        (500, "6000", errors.QBOParkedFault),  # a known code beats the status
        (200, "3001", errors.ThrottledFault),
    ],
)
def test_code_and_status_table(status, code, cls):
    """Each documented code lands on its class; unknown codes fall back to the status."""
    fault = fault_from_response(status, body(code), "tid-1")
    assert type(fault) is cls
    assert fault.code == code
    assert fault.http_status == status
    assert fault.intuit_tid == "tid-1"


@pytest.mark.parametrize(
    ("cls", "base"),
    [
        (errors.DuplicateNameFault, errors.Parked),
        (errors.ObjectNotFoundFault, errors.Parked),
        (errors.StaleObjectFault, errors.Retryable),
        (errors.ThrottledFault, errors.Retryable),
        (errors.QBOFatalFault, errors.Fatal),
    ],
)
def test_classes_say_what_the_caller_does(cls, base):
    """The fault classes sit under the caller-action roots the engine dispatches on."""
    assert issubclass(cls, base)


def test_fields_of_the_first_error_are_kept():
    """Message, detail, element and type come from the first Error entry."""
    answer = body(
        "6240",
        message="Duplicate Name Exists Error",
        detail="The name supplied already exists. : Another Vendor is already using this name.",
        element="DisplayName",
    )
    answer["Fault"]["Error"].append({"Message": "second", "code": "2020"})
    fault = fault_from_response(400, answer, "abc")
    assert fault.message == "Duplicate Name Exists Error"
    assert fault.detail.startswith("The name supplied")
    assert fault.element == "DisplayName"
    assert fault.fault_type == "ValidationFault"
    assert str(fault).startswith("QBO 6240: Duplicate Name Exists Error (The name supplied")


def test_gateway_lower_case_401_shape():
    """The gateway's lower-case `fault`/`error` answer and zero-padded codes are understood."""
    answer = {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": "Token expired",
                    "code": "003200",
                }
            ],
            "type": "AUTHENTICATION",
        }
    }
    fault = fault_from_response(401, answer, None)
    assert type(fault) is errors.QBOFatalFault
    assert fault.code == "3200"
    assert fault.detail == "Token expired"


@pytest.mark.parametrize(
    ("status", "raw", "cls"),
    [
        (429, "<html><body>Too Many Requests</body></html>", errors.ThrottledFault),
        (502, b"Bad Gateway", errors.QBORetryableFault),
        (503, "", errors.QBORetryableFault),
        (401, None, errors.QBOFatalFault),
        (403, "Forbidden", errors.QBOFatalFault),
        (400, "not json {", errors.QBOParkedFault),
        (404, "[1, 2]", errors.QBOParkedFault),
        (400, json.dumps(body("6140")), errors.DuplicateDocNumberFault),
        (400, json.dumps(body("5010")).encode(), errors.StaleObjectFault),
    ],
)
def test_bodies_that_are_not_json_objects(status, raw, cls):
    """Text, bytes, empty and missing bodies are classified by status; JSON text is parsed."""
    fault = fault_from_response(status, raw, "t")
    assert type(fault) is cls
    assert fault.http_status == status
    assert fault.message


def test_text_body_is_kept_short_in_the_detail():
    """A non-JSON body becomes a whitespace-collapsed, bounded detail."""
    fault = fault_from_response(502, "Bad\n\n  Gateway " + "x" * 1000, None)
    assert fault.message == "HTTP 502"
    assert fault.detail.startswith("Bad Gateway x")
    assert len(fault.detail) <= 300


def test_error_without_fault_wrapper():
    """An answer with a bare top-level Error list is still read."""
    fault = fault_from_response(400, {"Error": [{"Message": "x", "code": "2500"}]}, None)
    assert type(fault) is errors.ObjectNotFoundFault


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("6240", errors.DuplicateNameFault),
        ("5010", errors.StaleObjectFault),
        ("3001", errors.ThrottledFault),
        ("10000", errors.QBORetryableFault),
        ("424242", errors.QBOParkedFault),
        (None, errors.QBOParkedFault),
    ],
)
def test_batch_item_faults(code, cls):
    """A batch item's Fault object is classified by its code alone (the batch itself was 200)."""
    error = {"Message": "item failed", "Detail": "why"}
    if code is not None:
        error["code"] = code
    item = {"bId": "7", "Fault": {"Error": [error], "type": "ValidationFault"}}
    fault = fault_from_batch_item(item, "batch-tid")
    assert type(fault) is cls
    assert fault.http_status is None
    assert fault.intuit_tid == "batch-tid"
    assert fault.message == "item failed"


@pytest.mark.parametrize(
    ("raw", "expected"), [("003200", "3200"), (610, "610"), ("  ", None), (None, None), ("0", "0")]
)
def test_normalise_code(raw, expected):
    """Codes compare without padding zeros or whitespace."""
    assert normalise_code(raw) == expected
