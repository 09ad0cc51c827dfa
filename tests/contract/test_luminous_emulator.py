"""The Luminous emulator speaks the documented API (luminous-api.md), with plain `requests`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import requests

from reconciler.sandbox.luminous.server import LuminousEmulator, LuminousFault

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def emu():
    with LuminousEmulator() as emulator:
        emulator.seed_default()
        yield emulator


def get(emu, path, token=None, **params):
    token = emu.token if token is None else token
    return requests.get(
        emu.base_url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )


def test_list_envelope_and_meta(emu):
    """A list answers {data, meta} with Laravel-style paging numbers; per_page defaults to 10."""
    body = get(emu, "/purchase-orders").json()
    assert len(body["data"]) == 10
    assert body["meta"] == {
        "current_page": 1,
        "last_page": 2,
        "per_page": 10,
        "total": 12,
        "from": 1,
        "to": 10,
    }
    second = get(emu, "/purchase-orders", page=2).json()
    assert [po["id"] for po in second["data"]] == [11, 12]
    assert (second["meta"]["from"], second["meta"]["to"]) == (11, 12)


def test_per_page_over_100_is_refused(emu):
    """per_page above the documented maximum is refused with 422 (luminous-api.md: "per_page
    (default 10, at most 100)"; the reference: "Required range: x <= 100"); 100 is served."""
    emu.generate(150, n_suppliers=2, n_products=3)
    refused = get(emu, "/purchase-orders", per_page=101)
    assert refused.status_code == 422 and "per_page" in refused.json()["errors"]
    body = get(emu, "/purchase-orders", per_page=100).json()
    assert len(body["data"]) == 100 and body["meta"]["per_page"] == 100


def test_seed_covers_every_status_approval_and_hostile_names(emu):
    """The default seed has each documented status (luminous-api.md: active, inactive, deleted
    and completed), Nutricost, tricky names, SKU-less lines; no approval field (the reference
    shows none) unless the emulator serves one, and then both approvals."""
    pos = get(emu, "/purchase-orders", per_page=100).json()["data"]
    assert {po["order_status"] for po in pos} == {"active", "inactive", "deleted", "completed"}
    assert not any("approval_status" in po for po in pos)
    names = {po["supplier"]["name"] for po in pos}
    assert {"Nutricost", "O'Brien & Sons", "Acme: West Division"} <= names
    assert any(not name.isascii() for name in names)
    skus = [item["product"]["sku"] for po in pos for item in po["items"]]
    assert None in skus and "NC-WHEY-5" in skus
    warehouses = [get(emu, f"/warehouses/{po['warehouse_id']}") for po in pos[:2]]
    assert all(w.json()["data"]["street_address"] for w in warehouses)
    with LuminousEmulator(approval_field="approval_status") as variant:
        variant.seed_default()
        served = get(variant, "/purchase-orders", per_page=100).json()["data"]
    assert {po["approval_status"] for po in served} == {"approved", "pending_approval"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"order_status": "inactive"}, {4, 6}),
        ({"order_status[in]": "inactive,deleted"}, {4, 5, 6}),
        ({"order_status[neq]": "active", "supplier.name[contains]": "brien"}, {4, 5}),
        ({"supplier.name[contains]": "acme"}, {6, 7}),
        ({"warehouse_id[notset]": ""}, {12}),
        ({"id[gt]": "10"}, {11, 12}),
        ({"order_numbers[eq]": "PO-00003"}, {3}),
    ],
)
def test_filters(emu, params, expected):
    """field[op]=value filters (and field=value as eq) select the documented rows."""
    body = get(emu, "/purchase-orders", per_page=100, **params).json()
    assert {po["id"] for po in body["data"]} == expected


def test_updated_at_filters_and_sort(emu):
    """Timestamp comparisons and sort=field:asc|desc behave, ties broken by id."""
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)  # after every seed stamp
    for po_id in (3, 5, 7):
        emu.set_updated_at(po_id, later + timedelta(minutes=1))
    emu.set_updated_at(9, later + timedelta(minutes=2))
    since = (later + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    asc = get(emu, "/purchase-orders", **{"updated_at[gte]": since, "sort": "updated_at:asc"})
    assert [po["id"] for po in asc.json()["data"]] == [3, 5, 7, 9]
    desc = get(emu, "/purchase-orders", **{"updated_at[gt]": since, "sort": "updated_at:desc"})
    assert [po["id"] for po in desc.json()["data"]] == [9, 3, 5, 7]
    assert asc.json()["data"][0]["updated_at"].endswith("Z")


def test_ignoring_switches_really_ignore(emu):
    """honour_filters / honour_sort off: the server answers as if they were not sent."""
    emu.honour_filters = emu.honour_sort = False
    body = get(emu, "/purchase-orders", per_page=100, order_status="inactive", sort="id:desc")
    assert [po["id"] for po in body.json()["data"]] == list(range(1, 13))


def test_auth_and_not_found(emu):
    """No or wrong bearer token: 401. Unknown PO: 404."""
    assert get(emu, "/purchase-orders", token="nope").status_code == 401
    assert requests.get(emu.base_url + "/purchase-orders", timeout=5).status_code == 401
    assert get(emu, "/purchase-orders/999").status_code == 404


def test_single_po_items_and_reference_endpoints(emu):
    """GET by id wraps in data; items list by purchase_order_id; warehouses by id."""
    po = get(emu, "/purchase-orders/1").json()["data"]
    assert po["id"] == 1 and len(po["items"]) == 2
    items = get(emu, "/purchase-orders/items", purchase_order_id=1).json()["data"]
    assert [i["id"] for i in items] == [i["id"] for i in po["items"]]
    warehouse = get(emu, f"/warehouses/{po['warehouse_id']}").json()["data"]
    assert warehouse["name"] == "Main Warehouse"
    emu.embed_items = emu.embed_warehouse = False
    bare = get(emu, "/purchase-orders/1").json()["data"]
    assert "items" not in bare and "warehouse" not in bare and bare["warehouse_id"]


def test_create_update_delete_over_the_api(emu):
    """POST validates the supplier (422), PUT bumps updated_at, DELETE makes it 404."""
    emu.set_now(T)
    auth = {"Authorization": f"Bearer {emu.token}"}
    bad = requests.post(emu.base_url + "/purchase-orders", json={}, headers=auth, timeout=5)
    assert bad.status_code == 422 and "supplier_id" in bad.json()["errors"]
    made = requests.post(
        emu.base_url + "/purchase-orders", json={"supplier_id": 1}, headers=auth, timeout=5
    ).json()["data"]
    emu.set_now(T + timedelta(minutes=5))
    put = requests.put(
        f"{emu.base_url}/purchase-orders/{made['id']}",
        json={"private_note": "n"},
        headers=auth,
        timeout=5,
    ).json()["data"]
    assert put["private_note"] == "n" and put["updated_at"] == "2026-03-02T12:05:00Z"
    requests.delete(f"{emu.base_url}/purchase-orders/{made['id']}", headers=auth, timeout=5)
    assert get(emu, f"/purchase-orders/{made['id']}").status_code == 404


def test_date_header_follows_skew_and_frozen_clock(emu):
    """The Date header is the emulator's clock: skewed, or frozen with set_now."""
    emu.clock_skew = timedelta(hours=-2)
    skewed = parsedate_to_datetime(get(emu, "/purchase-orders").headers["Date"])
    assert abs(skewed - (datetime.now(UTC) - timedelta(hours=2))) < timedelta(seconds=5)
    emu.set_now(T)
    assert parsedate_to_datetime(get(emu, "/purchase-orders").headers["Date"]) == T


def test_faults_status_retry_after_latency_and_reset(emu):
    """Injected 429 carries Retry-After; 503 then recovers; latency delays; reset drops."""
    emu.add_fault(LuminousFault(r"/purchase-orders", status=429, retry_after=3))
    throttled = get(emu, "/purchase-orders")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert get(emu, "/purchase-orders").status_code == 200  # times=1 by default
    emu.add_fault(LuminousFault(r"/purchase-orders", action="latency", latency=0.2))
    started = time.monotonic()
    assert get(emu, "/purchase-orders").status_code == 200
    assert time.monotonic() - started >= 0.2
    emu.add_fault(LuminousFault(r"/purchase-orders", action="reset"))
    with pytest.raises(requests.ConnectionError):
        get(emu, "/purchase-orders")
    assert emu.count(status=429) == 1 and emu.count(status=0) == 1


def test_after_page_runs_between_two_page_reads(emu):
    """An edit made by the after_page hook is visible to the next request, not this one."""
    emu.after_page(lambda e, q, n: n == 1 and e.edit_po(1, {"private_note": "between"}))
    first = get(emu, "/purchase-orders", per_page=1).json()["data"][0]
    assert first["private_note"] is None
    assert get(emu, "/purchase-orders/1").json()["data"]["private_note"] == "between"


def test_admin_endpoints_mirror_the_python_controls(emu):
    """Create, edit, delete, clock and faults over /__admin/ for out-of-process tests."""
    admin = emu.admin_url
    made = requests.post(
        admin + "/purchase-orders",
        json={"fields": {"supplier_id": 1}, "updated_at": "2026-03-02T12:00:00Z"},
        timeout=5,
    ).json()["data"]
    assert made["updated_at"] == "2026-03-02T12:00:00Z"
    requests.patch(
        f"{admin}/purchase-orders/{made['id']}",
        json={"changes": {"order_status": "closed"}, "updated_at": "2026-03-02T12:01:00Z"},
        timeout=5,
    )
    assert emu.get_po(made["id"])["order_status"] == "closed"
    clock = requests.post(admin + "/clock", json={"now": "2026-03-02T13:00:00Z"}, timeout=5)
    assert clock.json()["now"] == "2026-03-02T13:00:00Z" and emu.now() == T + timedelta(hours=1)
    requests.post(admin + "/faults", json={"status": 500, "times": 1}, timeout=5)
    assert get(emu, "/purchase-orders").status_code == 500
    requests.delete(f"{admin}/purchase-orders/{made['id']}", timeout=5)
    assert emu.get_po(made["id"]) is None


def test_generate_is_fast_and_deterministic():
    """10,000 POs load in well under a few seconds, identically for the same seed."""
    a, b = LuminousEmulator(), LuminousEmulator()
    started = time.monotonic()
    a.generate(10_000)
    assert time.monotonic() - started < 5
    b.generate(10_000)
    assert a.get_po(9_999)["items"] == b.get_po(9_999)["items"]


def test_lying_last_page_on_every_list(emu):
    """meta_last_page=1 makes every list claim a single page while more exist (the rows stay
    honest, page 2 still answers); "endless" claims one page more than the current one, even
    past the end."""
    emu.meta_last_page = 1
    lists = [
        ("/purchase-orders", {}),
        ("/purchase-orders/items", {}),
        ("/bills", {"per_page": 3}),
        ("/receiving-reports", {"per_page": 1}),
        ("/suppliers", {"per_page": 1}),
    ]
    for path, params in lists:
        meta = get(emu, path, **params).json()["meta"]
        assert meta["last_page"] == 1 and meta["total"] > meta["per_page"], path
    assert [po["id"] for po in get(emu, "/purchase-orders", page=2).json()["data"]] == [11, 12]
    emu.meta_last_page = "endless"
    past = get(emu, "/purchase-orders", page=9).json()
    assert past["data"] == [] and past["meta"]["last_page"] == 10


def test_meta_can_be_left_out(emu):
    """include_meta=False: list answers carry only `data`, on every list endpoint."""
    emu.include_meta = False
    for path in ("/purchase-orders", "/purchase-orders/items", "/bills", "/bills/1/allocations"):
        assert set(get(emu, path).json()) == {"data"}, path
    assert "data" in get(emu, "/purchase-orders/1").json()  # single objects are unchanged


def test_po_items_page_like_every_list(emu):
    """/purchase-orders/items?purchase_order_id= pages: per_page defaults to 10 and is at most
    100, and the lying-meta switch applies to it too."""
    lines = [{"product_id": 1, "quantity": 1, "unit_price": "1.00"} for _ in range(125)]
    po_id = emu.create_po({"supplier_id": 1, "items": lines})["id"]
    first = get(emu, "/purchase-orders/items", purchase_order_id=po_id).json()
    assert len(first["data"]) == 10
    assert first["meta"] == {
        "current_page": 1,
        "last_page": 13,
        "per_page": 10,
        "total": 125,
        "from": 1,
        "to": 10,
    }
    assert (
        get(emu, "/purchase-orders/items", purchase_order_id=po_id, per_page=500).status_code == 422
    )
    big = get(emu, "/purchase-orders/items", purchase_order_id=po_id, per_page=100).json()
    assert len(big["data"]) == 100 and big["meta"]["last_page"] == 2
    tail = get(emu, "/purchase-orders/items", purchase_order_id=po_id, per_page=100, page=2)
    ids = [i["id"] for i in big["data"] + tail.json()["data"]]
    assert len(ids) == len(set(ids)) == 125
    emu.meta_last_page = 1
    lied = get(emu, "/purchase-orders/items", purchase_order_id=po_id).json()["meta"]
    assert lied["last_page"] == 1 and lied["total"] == 125


def test_switches_over_admin(emu):
    """POST /__admin/switches sets the filter, sort, embed and paging switches for
    out-of-process tests and answers all of them."""
    url = emu.admin_url + "/switches"
    answer = requests.post(url, json={"meta_last_page": 1, "include_meta": False}, timeout=5)
    assert answer.json()["meta_last_page"] == 1 and answer.json()["honour_filters"] is True
    assert "meta" not in get(emu, "/purchase-orders").json()
    requests.post(url, json={"meta_last_page": None, "include_meta": True}, timeout=5)
    assert get(emu, "/purchase-orders").json()["meta"]["last_page"] == 2


def test_po_rows_carry_quantity_totals(emu):
    """PO rows carry item_count and total_qty_ordered/received/remaining from their lines."""
    po = get(emu, "/purchase-orders/12").json()["data"]
    assert (po["item_count"], po["total_qty_ordered"], po["total_qty_received"]) == (1, 12.5, 0)
    assert po["total_qty_remaining"] == 12.5
    hits = get(emu, "/purchase-orders", per_page=100, **{"total_qty_received[gt]": "0"}).json()
    assert [p["id"] for p in hits["data"]] == [7]  # the seed receives PO 7 in three parts


def test_line_tax_from_a_tax_rate_and_the_tax_fields_served():
    """A line given `tax_rate` (assumed, luminous-api.md lists only `tax`) gets its tax from it,
    on quantity x price less discount, half up; `total_tax` is the lines' sum. The product's
    `tax_class` (assumed), `variant_attributes` and `category` (the reference's product) and the
    PO's `custom_fields` come back as stored."""
    with LuminousEmulator() as emu:
        sup = emu.add_supplier("Acme Foods")
        product = emu.add_product(
            "Oats",
            "OAT-1",
            tax_class="reduced",
            variant_attributes={"Division": "Retail"},
            category={"id": 4, "name": "Grains"},
        )
        items = [
            {"product_id": product["id"], "quantity": "3", "unit_price": "11.11", "tax_rate": "5"},
            {
                "product_id": product["id"],
                "quantity": "1",
                "unit_price": "10.00",
                "discount_amount": "2.50",
                "tax_rate": "20",
            },
        ]
        po = emu.create_po(
            {"supplier_id": sup["id"], "items": items, "custom_fields": {"Region": "North"}}
        )
        served = get(emu, f"/purchase-orders/{po['id']}").json()["data"]
    assert [line["tax"] for line in served["items"]] == [1.67, 1.5]  # JSON numbers
    assert served["total_tax"] == 3.17
    assert served["custom_fields"] == {"Region": "North"}
    embedded = served["items"][0]["product"]
    assert embedded["tax_class"] == "reduced" and embedded["category"]["name"] == "Grains"
    assert embedded["variant_attributes"] == {"Division": "Retail"}
