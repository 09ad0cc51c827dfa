"""The default company the emulator starts with: a chart of accounts and a few names and items.

Deliberately includes inactive records (their names still block new ones, and queries hide them
unless asked) and awkward names (an apostrophe, an ampersand) so quoting bugs show up early.
"""

from __future__ import annotations

from decimal import Decimal

from reconciler.sandbox.qbo.store import Company

ACCOUNTS = [
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", True),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs", True),
    ("Inventory Asset", "Other Current Asset", "Inventory", True),
    ("Sales of Product Income", "Income", "SalesOfProductIncome", True),
    ("Services", "Income", "ServiceFeeIncome", True),
    ("Purchases", "Expense", "SuppliesMaterials", True),
    ("Checking", "Bank", "Checking", True),
    ("Old Freight Expense", "Expense", "ShippingFreightDelivery", False),
]
VENDORS = [
    ("Acme Supply Co", "accounts@acme.example", True),
    ("Bolt & Nut Ltd", "orders@boltnut.example", True),
    ("O'Brien Hardware", "sales@obrien.example", True),
    ("Retired Vendor", None, False),
]
CUSTOMERS = [("Amy's Bird Sanctuary", True), ("Closed Customer Inc", False)]
EMPLOYEES = [("Emily Platt", "Emily", "Platt", True)]


def _account_ids(company: Company) -> dict[str, str]:
    return {a["Name"]: a["Id"] for a in company.all("Account")}


def seed_default(company: Company) -> None:
    """Fill a company with the default accounts, names and items."""
    for name, account_type, sub_type, active in ACCOUNTS:
        company.create(
            "Account",
            {
                "Name": name,
                "AccountType": account_type,
                "AccountSubType": sub_type,
                "Active": active,
            },
            seeding=True,
        )
    for name, email, active in VENDORS:
        vendor = {"DisplayName": name, "CompanyName": name, "Active": active}
        if email:
            vendor["PrimaryEmailAddr"] = {"Address": email}
        company.create("Vendor", vendor, seeding=True)
    for name, active in CUSTOMERS:
        company.create("Customer", {"DisplayName": name, "Active": active}, seeding=True)
    for name, given, family, active in EMPLOYEES:
        company.create(
            "Employee",
            {"DisplayName": name, "GivenName": given, "FamilyName": family, "Active": active},
            seeding=True,
        )
    _seed_items(company, _account_ids(company))


def _seed_items(company: Company, accounts: dict[str, str]) -> None:
    income = {"value": accounts["Sales of Product Income"]}
    cogs = {"value": accounts["Cost of Goods Sold"]}
    purchases = {"value": accounts["Purchases"]}
    company.create(
        "Item",
        {
            "Name": "Widget",
            "Sku": "WID-001",
            "Type": "Inventory",
            "IncomeAccountRef": income,
            "ExpenseAccountRef": cogs,
            "AssetAccountRef": {"value": accounts["Inventory Asset"]},
            "TrackQtyOnHand": True,
            "QtyOnHand": Decimal(10),
            "InvStartDate": "2024-01-01",
            "UnitPrice": Decimal("12.50"),
            "PurchaseCost": Decimal("7.25"),
        },
        seeding=True,
    )
    company.create(
        "Item",
        {
            "Name": "Gadget",
            "Sku": "GAD-001",
            "Type": "NonInventory",
            "ExpenseAccountRef": purchases,
            "PurchaseCost": Decimal("3.10"),
        },
        seeding=True,
    )
    company.create(
        "Item",
        {
            "Name": "Installation",
            "Type": "Service",
            "IncomeAccountRef": {"value": accounts["Services"]},
            "ExpenseAccountRef": purchases,
        },
        seeding=True,
    )
    company.create(
        "Item",
        {
            "Name": "Discontinued Part",
            "Sku": "OLD-001",
            "Type": "NonInventory",
            "ExpenseAccountRef": purchases,
            "Active": False,
        },
        seeding=True,
    )
