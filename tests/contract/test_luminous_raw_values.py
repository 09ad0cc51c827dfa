"""The Luminous emulator serves POs stored raw (hostile-data tests) whatever their values: it
neither falls over on them nor hides them from a client that pages by key."""

from __future__ import annotations

import pytest
import requests

from reconciler.sandbox.luminous import LuminousEmulator


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
