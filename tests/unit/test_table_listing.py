"""When a small table is read whole instead of looked up (`resolve.listing`): the reads it
costs, against the `IN (...)` queries it saves, and how long it answers."""

from __future__ import annotations

from reconciler.resolve.listing import FRESH_FOR, TableListing


class FakeClient:
    """Counts and pages like QBO: `count` answers the size, a page at most 1,000 rows."""

    def __init__(self, rows: int) -> None:
        self.table = [{"Id": str(i), "Name": f"Item {i}", "Active": True} for i in range(rows)]
        self.statements: list[str] = []

    def count(self, statement: str) -> int:
        self.statements.append(statement)
        return len(self.table)

    def query(self, statement: str) -> list[dict]:
        self.statements.append(statement)
        start = int(statement.split("STARTPOSITION ")[1].split()[0])
        return self.table[start - 1 : start - 1 + 1000]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_two_look_ups_never_cost_a_count():
    client = FakeClient(5)
    assert TableListing(client, "Item", ("Name",)).rows_for(2) is None
    assert client.statements == []


def test_a_small_table_is_counted_then_read_in_one_page_and_kept():
    client, clock = FakeClient(40), Clock()
    listing = TableListing(client, "Item", ("Name", "Sku", "Active"), monotonic=clock)
    rows = listing.rows_for(6)
    assert rows is not None and len(rows) == 40
    assert client.statements[0].startswith("SELECT COUNT(*) FROM Item")
    assert client.statements[1].startswith("SELECT Name, Sku, Active FROM Item")
    assert listing.reads == 2
    clock.now = FRESH_FOR - 1
    assert listing.rows_for(3) is rows and listing.reads == 2  # answered again, no read
    clock.now = FRESH_FOR + 1
    assert listing.rows_for(2) is None  # too old, and two look-ups are cheaper than a count
    assert listing.rows_for(4) is not None and listing.reads == 4  # counted and read again


def test_an_empty_table_costs_only_its_count():
    client = FakeClient(0)
    listing = TableListing(client, "Item", ("Name",))
    assert listing.rows_for(3) == [] and listing.reads == 1


def test_a_two_page_table_costs_a_count_and_two_pages():
    """1,500 rows: for three look-ups the count and two pages cost the same three reads, and
    answer the later look-ups of the pass too."""
    listing = TableListing(FakeClient(1500), "Item", ("Name",))
    rows = listing.rows_for(3)
    assert rows is not None and len(rows) == 1500 and listing.reads == 3


def test_a_large_table_is_counted_once_a_pass_and_never_listed():
    client = FakeClient(2500)  # three pages: more than MAX_PAGES
    listing = TableListing(client, "Item", ("Name",))
    assert listing.rows_for(30) is None
    assert listing.rows_for(30) is None
    assert listing.reads == 1 and len(client.statements) == 1


def test_matching_is_what_in_would_answer_without_regard_to_case():
    listing = TableListing(FakeClient(0), "Item", ("Name", "Sku"))
    rows = [{"Id": "1", "Sku": "ab-1"}, {"Id": "2", "Sku": None}, {"Id": "3", "Sku": "CD-2"}]
    assert [r["Id"] for r in listing.matching(rows, "Sku", ["AB-1", "cd-2", "zz"])] == ["1", "3"]
