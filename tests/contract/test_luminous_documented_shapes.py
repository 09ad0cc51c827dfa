"""The Luminous emulator serves the shapes Luminous's reference documents by default, and the
less forgiving variants on request, over plain HTTP.

Facts (../shared/luminous-api.md; Luminous's reference at docs.joinluminous.com, GET
/purchase-orders and GET /purchase-orders/items):
- timestamps "whole seconds, e.g. "2023-11-07T05:31:56Z"";
- "Money in the reference's examples is JSON numbers (`"unit_price": 12.5`)";
- `supplier {id, status, ...}` with `"status": 123` in the reference's JSON: an integer;
- `order_status`: "active", "inactive", "deleted" (the list's filter), "completed" (update);
- "the PO JSON in the reference shows no approval field", "no warehouse object (only
  `warehouse_id` and `location_id` as list filters)";
- `per_page` "(default 10, at most 100)" (the reference: "Required range: x <= 100");
- filters `field[op]=value`; dates as `YYYY-MM-DD` (filters page), `created_at[gte]=2024-10-25
  00:00:00` (PO page); `id` "is not among the PO list's documented filter fields".
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from reconciler.sandbox.luminous.server import STATUSES, LuminousEmulator

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WHOLE_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def get(emu, path, **params):
    headers = {"Authorization": f"Bearer {emu.token}"}
    return requests.get(emu.base_url + path, params=params, headers=headers, timeout=5)


def started(**options) -> LuminousEmulator:
    emu = LuminousEmulator(**options).start()
    emu.set_now(T)
    emu.seed_default()
    return emu


@pytest.fixture
def emu():
    with started() as emulator:
        yield emulator


def test_a_po_as_the_reference_shows_one(emu):
    po = get(emu, "/purchase-orders/1").json()["data"]
    assert WHOLE_SECOND.match(po["updated_at"]) and WHOLE_SECOND.match(po["created_at"])
    assert po["total_shipping_cost"] == 25 and isinstance(po["total_tax"], int)
    line = po["items"][0]
    assert (line["quantity"], line["unit_price"]) == (10, 42.5)  # numbers, not "42.50"
    assert line["product"]["unit_cost"] == 42.5
    assert isinstance(po["supplier"]["status"], int)
    assert "approval_status" not in po and "warehouse" not in po and po["warehouse_id"]
    assert po["order_status"] in STATUSES == ("active", "inactive", "deleted", "completed")


def test_a_stamp_is_kept_in_whole_seconds(emu):
    """A PO edited at 12:00:00.900 is stamped 12:00:00: ties are as common as in a real
    account, and a filter compares what is served."""
    emu.set_now(T + timedelta(milliseconds=900))
    emu.edit_po(1, {"private_note": "x"})
    assert get(emu, "/purchase-orders/1").json()["data"]["updated_at"] == "2026-03-02T12:00:00Z"
    hit = get(emu, "/purchase-orders", **{"updated_at[eq]": "2026-03-02 12:00:00"}).json()
    assert [p["id"] for p in hit["data"]] == [1]


@pytest.mark.parametrize("per_page", ["101", "500"])
def test_per_page_over_the_documented_maximum_is_refused(emu, per_page):
    for path in ("/purchase-orders", "/purchase-orders/items", "/bills", "/receiving-reports"):
        answer = get(emu, path, per_page=per_page)
        assert answer.status_code == 422, path
        assert "per_page" in answer.json()["errors"]


def test_the_variants_that_serve_more_than_the_reference():
    """approval_field, embed_warehouse, money as strings, fractions of a second."""
    with started(
        approval_field="approval_status",
        embed_warehouse=True,
        money_style="strings",
        subsecond_stamps=True,
    ) as emu:
        emu.set_now(T + timedelta(microseconds=250))
        emu.edit_po(1, {"private_note": "x"})
        po = get(emu, "/purchase-orders/1").json()["data"]
    assert po["approval_status"] == "approved" and po["warehouse"]["name"] == "Main Warehouse"
    assert po["items"][0]["unit_price"] == "42.50"
    assert po["updated_at"] == "2026-03-02T12:00:00.000250Z"


SINCE = {"updated_at[gte]": "2026-02-28 00:00:00"}


@pytest.mark.parametrize(
    ("options", "params", "status"),
    [
        ({}, {"id[gt]": "3"}, 200),
        ({"id_filter": "refuse"}, {"id[gt]": "3"}, 422),
        ({"id_filter": "refuse"}, {"id": "3"}, 422),
        ({}, {"updated_at[gte]": "2026-02-28T00:00:00.000000Z"}, 200),
        ({"timestamp_filters": "strict"}, {"updated_at[gte]": "2026-02-28T00:00:00.000000Z"}, 422),
        ({"timestamp_filters": "strict"}, {"updated_at[gte]": "2026-02-28T00:00:00Z"}, 422),
        ({"timestamp_filters": "strict"}, SINCE, 200),
        ({"timestamp_filters": "strict"}, {"updated_at[gte]": "2026-02-28"}, 200),
        ({"timestamp_filters": "dates"}, SINCE, 422),
        ({"timestamp_filters": "dates"}, {"updated_at[gte]": "2026-02-28"}, 200),
        ({"timestamp_filters": "strict"}, {"order_status[in]": "active,inactive"}, 200),
    ],
)
def test_strict_variants_refuse_what_the_reference_does_not_document(options, params, status):
    with started(**options) as emu:
        answer = get(emu, "/purchase-orders", **params)
    assert answer.status_code == status
    if status == 422:
        assert answer.json()["message"] == "The given data was invalid."
        assert set(answer.json()["errors"]) <= {"id", "updated_at"}


def test_date_only_and_ignoring_variants():
    """date_only compares days (a later time the same day still matches `lte`); ignore leaves
    timestamps unfiltered while other filters hold; an ignored id[gt] returns from the start."""
    bound = {"updated_at[lte]": "2026-02-27 12:00:00", "per_page": "100"}
    with started() as exact:
        assert [p["id"] for p in get(exact, "/purchase-orders", **bound).json()["data"]] == [1]
    with started(timestamp_filters="date_only") as emu:
        same_day = [p["id"] for p in get(emu, "/purchase-orders", **bound).json()["data"]]
    # every seed PO stamped 2026-02-27 (PO 7 was received on the 28th, which moved it)
    assert same_day == [n for n in range(1, 13) if n != 7]
    with started(timestamp_filters="ignore", id_filter="ignore") as emu:
        body = get(emu, "/purchase-orders", order_status="deleted", **bound).json()
        assert [p["id"] for p in body["data"]] == [5]
        ids = [p["id"] for p in get(emu, "/purchase-orders", **{"id[gt]": "10"}).json()["data"]]
        assert ids[:2] == [1, 2]


def test_switches_over_admin_include_the_variants():
    with started() as emu:
        url = emu.admin_url + "/switches"
        answer = requests.post(url, json={"id_filter": "refuse"}, timeout=5).json()
        assert answer["id_filter"] == "refuse" and answer["timestamp_filters"] == "any"
        assert get(emu, "/purchase-orders", **{"id[gt]": "1"}).status_code == 422


def test_the_command_line_serves_the_variants():
    """`reconciler sandbox luminous --strict-filters --approval-field approval_status`: the
    standalone emulator (the benchmarks' and out-of-process tests') takes the variants too."""
    command = [
        sys.executable,
        "-m",
        "reconciler",
        "sandbox",
        "luminous",
        "--port",
        "0",
        "--strict-filters",
        "--approval-field",
        "approval_status",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split(": ", 1)[1].strip()
        token = proc.stdout.readline().split(": ", 1)[1].strip()
        headers = {"Authorization": f"Bearer {token}"}
        refused = requests.get(
            base_url + "/purchase-orders", params={"id[gt]": "1"}, headers=headers, timeout=5
        )
        assert refused.status_code == 422
        first = requests.get(base_url + "/purchase-orders/1", headers=headers, timeout=5)
        assert first.json()["data"]["approval_status"] == "approved"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
