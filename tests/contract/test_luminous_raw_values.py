"""The Luminous emulator serves POs stored raw (hostile-data tests) whatever their values: it
neither falls over on them nor hides them from a client that pages by key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from reconciler.sandbox.luminous.server import LuminousEmulator


@pytest.fixture
def emu():
    with LuminousEmulator() as emulator:
        emulator.seed_default()
        yield emulator


def get(emu, path, **params):
    headers = {"Authorization": f"Bearer {emu.token}"}
    return requests.get(emu.base_url + path, params=params, headers=headers, timeout=5)


def test_the_lines_of_other_pos_are_served_while_one_po_has_no_id(emu):
    """A PO stored without an `id` key: `/purchase-orders/items?purchase_order_id=` still
    answers (it used to fail with a KeyError, the connection closed without an answer)."""
    emu.drop_fields(2, "id")
    answer = get(emu, "/purchase-orders/items", purchase_order_id=3)
    assert answer.status_code == 200
    assert answer.json()["data"] and all(i["purchase_order_id"] == 3 for i in answer.json()["data"])


@pytest.mark.parametrize("embed", [True, False], ids=["embedded", "items-endpoint"])
def test_a_line_stored_with_a_product_that_is_no_object_is_served_as_stored(emu, embed):
    """A raw line whose `product` is a list (or text): the PO and its lines are still served
    (the rendering called .get on it and the connection closed without an answer)."""
    emu.embed_items = embed
    emu.set_raw(3, items=[{"product": [1, "x"], "quantity": "2", "unit_price": "3.50"}])
    listed = get(emu, "/purchase-orders", per_page=100)
    assert listed.status_code == 200
    lines = get(emu, "/purchase-orders/items", purchase_order_id=3)
    assert lines.status_code == 200 and lines.json()["data"][0]["product"] == [1, "x"]


def _ids(emu, **params) -> list:
    return [po["id"] for po in get(emu, "/purchase-orders", per_page=100, **params).json()["data"]]


def test_an_id_stored_as_text_sorts_where_id_filters_place_it(emu):
    """`sort=id:asc` and `id[gt]` use one order: an id served as " 4 " or as 4.5 sits between
    4 and 5 in both (it sorted after every integer while filters compared it as a number, so
    a client paging by `id[gt]=last` never saw it)."""
    emu.set_raw(4, id=" 4 ")
    emu.set_raw(6, id=4.5)
    ids = _ids(emu, sort="id:asc")
    assert ids[2:6] == [3, " 4 ", 4.5, 5]
    assert _ids(emu, **{"id[gt]": "3", "sort": "id:asc"})[:3] == [" 4 ", 4.5, 5]
    assert _ids(emu, **{"id[gt]": "5", "sort": "id:asc"})[0] == 7
    emu.set_raw(8, id="PO-8")  # no number at all: after every number, in sort and filters
    assert _ids(emu, sort="id:asc")[-1] == "PO-8"
    assert _ids(emu, **{"id[gt]": "100"}) == ["PO-8"]


def test_a_stamp_stored_as_text_in_another_offset_is_filtered_and_sorted_as_its_instant(emu):
    """`updated_at` served as "...+05:30" text: filters and sort go by the instant it names
    (they compared its text with the UTC filter value, and sorted it before every datetime)."""
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)  # after every seed stamp
    emu.set_updated_at(2, at - timedelta(seconds=1))
    emu.set_updated_at(3, at + timedelta(seconds=1))
    emu.set_raw(4, updated_at=at.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat())
    window = {
        "updated_at[gte]": (at - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "updated_at[lte]": (at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    assert _ids(emu, **window, sort="updated_at:asc") == [2, 4, 3]
    later = {"updated_at[gt]": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    assert 4 not in _ids(emu, **later)
