"""QBO emulator: query validation as QBO does it (filterable fields, MAXRESULTS) and field lists.

Sources: quickbooks-ruby #403 (QBO's 4001 for PrimaryEmailAddr, quoted as XML),
QuickBooks-V3-DotNET-SDK #163 (AcctNum), quickbooks-ruby #24 (MAXRESULTS 1500), Intuit's
data-queries page (https://developer.intuit.com/app/developer/qbo/docs/learn/
explore-the-quickbooks-online-api/data-queries) and qbo-api.md "Query language".
"""

from __future__ import annotations

import pytest


def fault(response) -> dict:
    assert response.status_code == 400, response.text
    return response.json()["Fault"]["Error"][0]


def rows(response, entity: str) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"].get(entity, [])


@pytest.mark.parametrize(
    ("entity", "where"),
    [
        ("Vendor", "PrimaryEmailAddr = 'orders@acme.example'"),
        ("Vendor", "AcctNum = '1345'"),
        ("Customer", "PrimaryEmailAddr = 'a@b.example'"),
        ("Customer", "AcctNum = '7'"),
        ("Employee", "PrimaryEmailAddr = 'a@b.example'"),
        ("Account", "AcctNum = '2000'"),
        ("Item", "FullyQualifiedName = 'Widget'"),
        ("PurchaseOrder", "Memo = 'x'"),
        ("PurchaseOrder", "Active = true"),
    ],
)
def test_filter_on_a_field_that_is_not_queryable_is_4001(qbo, entity, where):
    """QBO answers 4001 "Invalid query", Detail "QueryValidationError: property 'X' is not
    queryable" (quickbooks-ruby #403 for Vendor.PrimaryEmailAddr, QuickBooks-V3-DotNET-SDK #163
    for AcctNum on Customer, Vendor and Account; PurchaseOrder has no Active)."""
    name = where.split()[0]
    error = fault(qbo.query(f"select * from {entity} where Id > '0' and {where}"))
    assert (error["code"], error["Message"]) == ("4001", "Invalid query")
    assert error["Detail"] == f"QueryValidationError: property '{name}' is not queryable"


def test_count_with_a_field_that_is_not_queryable_is_4001_too(qbo):
    """COUNT(*) goes through the same validation (quickbooks-ruby #403's answer, any select)."""
    error = fault(qbo.query("select count(*) from Vendor where PrimaryEmailAddr = 'x'"))
    assert error["code"] == "4001"


@pytest.mark.parametrize(
    ("entity", "where", "expected"),
    [
        ("Vendor", "DisplayName = 'Acme Supply Co'", 1),
        ("Vendor", "GivenName = 'nobody'", 0),
        ("Vendor", "FamilyName = 'nobody'", 0),
        ("Vendor", "Active IN (true, false)", 4),
        ("Vendor", "Id IN ('1', '2')", 2),
        ("Vendor", "MetaData.LastUpdatedTime > '2000-01-01T00:00:00+00:00'", 3),
        ("Vendor", "MetaData.CreateTime > '2000-01-01T00:00:00+00:00'", 3),
        ("Customer", "DisplayName LIKE '%'", 1),
        ("Employee", "FamilyName LIKE '%'", 1),
        ("Item", "Sku = 'WID-001'", 1),
        ("Item", "Name = 'Gadget'", 1),
        ("Item", "Type = 'Service'", 1),
        ("Item", "Active = false", 1),
        ("Account", "AccountType = 'Accounts Payable'", 1),
        ("Account", "Name = 'Purchases'", 1),
        ("PurchaseOrder", "DocNumber = 'nothing'", 0),
        ("PurchaseOrder", "TxnDate >= '2000-01-01'", 0),
        ("PurchaseOrder", "MetaData.LastUpdatedTime > '2000-01-01T00:00:00+00:00'", 0),
    ],
)
def test_queryable_fields_filter(qbo, entity, where, expected):
    """The fields qbo-api.md lists as filterable are taken (Vendor: DisplayName, GivenName,
    FamilyName, Active, Id, MetaData times; Item: Name, Sku, Type, Active; PurchaseOrder: Id,
    DocNumber, TxnDate, MetaData times; Account: Name, AccountType, Active)."""
    response = qbo.query(f"select count(*) from {entity} where {where}")
    assert response.status_code == 200, response.text
    assert response.json()["QueryResponse"]["totalCount"] == expected


def test_maxresults_1001_is_refused_in_a_batch_item_too(qbo):
    """A batch Query item with MAXRESULTS over 1000 gets the 4001 fault in its own answer
    (quickbooks-ruby #24's text; batch items fail one by one, Intuit's batch page)."""
    batch = {"BatchItemRequest": [{"bId": "q", "Query": "select * from Item maxresults 1001"}]}
    answer = qbo.post("batch", batch).json()["BatchItemResponse"][0]
    error = answer["Fault"]["Error"][0]
    assert error["code"] == "4001"
    assert error["Detail"] == (
        "QueryValidationError: value 1001 is too large. Max allowed value is 1000"
    )


def test_a_parse_error_wins_over_a_too_large_maxresults(qbo):
    """QBO parses before it validates: a broken query with MAXRESULTS 5000 is still 4000
    (node-quickbooks #56 for the parser fault)."""
    error = fault(qbo.query("select * from Item where Name = 'x' or Name = 'y' maxresults 5000"))
    assert error["code"] == "4000"


def test_field_list_pages_purchase_orders_as_the_client_does(qbo):
    """`SELECT Id, DocNumber, VendorRef, SyncToken, MetaData FROM PurchaseOrder ORDERBY Id`
    pages with STARTPOSITION 1000 at a time; each row holds only the named fields. Intuit's
    data-queries page calls projections unsupported, public clients send them anyway (e.g.
    `select Id, SyncToken from ...`): the emulator answers the strict reading (see qbo_query)."""
    body = qbo.po_body()
    for number in range(1001):
        qbo.emu.seed("PurchaseOrder", {**body, "DocNumber": f"P-{number}"})
    fields = "Id, DocNumber, VendorRef, SyncToken, MetaData"
    pages = [
        rows(
            qbo.query(
                f"SELECT {fields} FROM PurchaseOrder ORDERBY Id "
                f"STARTPOSITION {start} MAXRESULTS 1000"
            ),
            "PurchaseOrder",
        )
        for start in (1, 1001)
    ]
    assert [len(page) for page in pages] == [1000, 1]
    ids = [int(row["Id"]) for page in pages for row in page]
    assert ids == sorted(ids) and len(set(ids)) == 1001
    # a projected row says it is partial (recorded: item_create_batch.json, "sparse": true)
    assert {key for page in pages for row in page for key in row} == {
        "sparse",
        "Id",
        "DocNumber",
        "VendorRef",
        "SyncToken",
        "MetaData",
    }
    assert all(row["sparse"] is True for page in pages for row in page)
    assert set(pages[1][0]["MetaData"]) == {"CreateTime", "LastModifiedByRef", "LastUpdatedTime"}
