"""The QBO emulator, driven by python-quickbooks: an independent client holds it honest.

python-quickbooks is a different codebase from `reconciler.qbo` (with its own request shapes,
query strings and error parsing), so a behaviour both accept is less likely to be a bug the
two share. It is used here only as a test client (see DESIGN.md, "Models").
"""

from __future__ import annotations

import pytest
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import ItemBasedExpenseLine, ItemBasedExpenseLineDetail
from quickbooks.objects.purchaseorder import PurchaseOrder
from quickbooks.objects.vendor import Vendor

from reconciler.sandbox.qbo.server import QBOEmulator


@pytest.fixture
def pqb(monkeypatch):
    # requests-oauthlib refuses plain http unless told; the emulator is http on 127.0.0.1 only.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    emu = QBOEmulator().start(port=0)
    emu.seed_default()
    tokens = emu.issue_tokens()
    auth = AuthClient(
        client_id=emu.client_id,
        client_secret=emu.client_secret,
        redirect_uri="http://127.0.0.1/callback",
        environment=emu.discovery_url,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        realm_id=emu.realm_id,
    )
    client = QuickBooks(
        auth_client=auth,
        refresh_token=tokens["refresh_token"],
        company_id=emu.realm_id,
        minorversion=75,
        use_decimal=True,
    )
    client.api_url_v3 = emu.api_base.rsplit("/company", 1)[0]  # ".../v3"
    yield emu, client
    emu.stop()


def test_vendor_create_read_and_filter_with_a_quote(pqb):
    """Its save, get and filter (its own quoting) agree with the emulator."""
    _emu, qb = pqb
    vendor = Vendor()
    vendor.DisplayName = "O'Malley & Daughters"
    saved = vendor.save(qb=qb)  # it copies only Id back; the answer is the saved object
    assert saved.Id == vendor.Id and str(saved.SyncToken) == "0"
    again = Vendor.get(vendor.Id, qb=qb)
    assert again.DisplayName == "O'Malley & Daughters"
    found = Vendor.filter(DisplayName="O'Malley & Daughters", qb=qb)
    assert [v.Id for v in found] == [vendor.Id]


def test_duplicate_name_across_the_name_list_is_6240(pqb):
    """A vendor named like an existing customer fails with 6240, as QBO answers."""
    _emu, qb = pqb
    customer = Customer()
    customer.DisplayName = "Shared Name Inc"
    customer.save(qb=qb)
    vendor = Vendor()
    vendor.DisplayName = "Shared Name Inc"
    with pytest.raises(QuickbooksException) as exc:
        vendor.save(qb=qb)
    assert str(exc.value.error_code) == "6240"


def test_purchase_order_round_trip_and_stale_update(pqb):
    """A PO with an item line saves with computed TotalAmt; a stale SyncToken is 5010."""
    emu, qb = pqb
    line = ItemBasedExpenseLine()
    line.Amount = 25
    line.ItemBasedExpenseLineDetail = ItemBasedExpenseLineDetail()
    line.ItemBasedExpenseLineDetail.ItemRef = {"value": "1"}
    line.ItemBasedExpenseLineDetail.Qty = 10
    line.ItemBasedExpenseLineDetail.UnitPrice = 2.5
    po = PurchaseOrder()
    po.VendorRef = {"value": "1"}
    po.APAccountRef = {"value": "1"}
    po.DocNumber = "PQB-1"
    po.Line = [line]
    saved = po.save(qb=qb)
    stored = emu.get("PurchaseOrder", po.Id)
    assert str(stored["TotalAmt"]) in ("25", "25.00")
    first_token = saved.SyncToken
    saved.Memo = "first edit"
    edited = saved.save(qb=qb)
    assert int(edited.SyncToken) == int(first_token) + 1
    stale = PurchaseOrder.get(po.Id, qb=qb)
    stale.SyncToken = first_token
    stale.Memo = "stale edit"
    with pytest.raises(QuickbooksException) as exc:
        stale.save(qb=qb)
    assert str(exc.value.error_code) == "5010"
    assert emu.get("PurchaseOrder", po.Id)["Memo"] == "first edit"


def test_count_and_paging_queries(pqb):
    """Its COUNT(*) and paged `all` read what the emulator holds."""
    emu, qb = pqb
    assert Vendor.count(qb=qb) == len(emu.objects("Vendor", include_inactive=False))
    page = Vendor.all(max_results=2, start_position=1, qb=qb)
    assert len(page) == 2
