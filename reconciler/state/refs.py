"""The reference maps: which QBO vendor, item, account, class, location and tax code a name
resolved to.

A cache of QBO, as the ledger is: a lost map costs one look-up per name, never a duplicate
(the resolvers look before they create). Hits are kept in memory too: this process is the
only writer of the state file (the run lock), and a pass asks for the same names over and
over.
"""

from __future__ import annotations

from reconciler.state.db import StateDB


def name_key(name: str) -> str:
    """QBO compares names without regard to case, so the cache does too."""
    return name.casefold()


class ReferenceMaps:
    """vendor_map, item_map and the account ids (kept in `meta` as `account:<name>`)."""

    def __init__(self, db: StateDB) -> None:
        self._db = db
        self._cache: dict[tuple[str, str], str] = {}

    def vendor_id(self, display_name: str) -> str | None:
        return self._lookup("vendor_map", "name_key", name_key(display_name))

    def remember_vendor(self, display_name: str, qbo_id: str, qbo_display_name: str) -> None:
        key = name_key(display_name)
        with self._db.atomic():
            self._db.execute(
                "insert or replace into vendor_map (name_key, qbo_id, display_name, source_name)"
                " values (?, ?, ?, ?)",
                [key, qbo_id, qbo_display_name, display_name],
            )
        self._cache[("vendor_map", key)] = qbo_id  # only once committed

    def forget_vendor(self, display_name: str) -> None:
        self._forget("vendor_map", "name_key", name_key(display_name))

    def item_id(self, item_key: str) -> str | None:
        return self._lookup("item_map", "item_key", item_key)

    def remember_item(self, item_key: str, qbo_id: str, name: str) -> None:
        with self._db.atomic():
            self._db.execute(
                "insert or replace into item_map (item_key, qbo_id, name) values (?, ?, ?)",
                [item_key, qbo_id, name],
            )
        self._cache[("item_map", item_key)] = qbo_id

    def forget_item(self, item_key: str) -> None:
        self._forget("item_map", "item_key", item_key)

    def account_id(self, name: str) -> str | None:
        key = "account:" + name_key(name)
        cached = self._cache.get(("meta", key))
        if cached is not None:
            return cached
        rows = self._db.rows("select value from meta where key = ?", [key])
        if rows:
            self._cache[("meta", key)] = rows[0]["value"]
        return rows[0]["value"] if rows else None

    def remember_account(self, name: str, qbo_id: str) -> None:
        key = "account:" + name_key(name)
        with self._db.atomic():
            self._db.execute(
                "insert or replace into meta (key, value) values (?, ?)", [key, qbo_id]
            )
        self._cache[("meta", key)] = qbo_id

    def forget_accounts(self) -> None:
        for cached in [k for k in self._cache if k[0] == "meta"]:
            del self._cache[cached]
        with self._db.atomic():
            self._db.execute("delete from meta where substr(key, 1, 8) = 'account:'")

    # Classes, locations and tax codes by configured name (`meta` as `<kind>:<name>`, like
    # accounts; kinds: class, department, taxcode).

    def named_id(self, kind: str, name: str) -> str | None:
        key = f"{kind}:{name_key(name)}"
        cached = self._cache.get(("meta", key))
        if cached is not None:
            return cached
        rows = self._db.rows("select value from meta where key = ?", [key])
        if rows:
            self._cache[("meta", key)] = rows[0]["value"]
            return rows[0]["value"]
        return None

    def remember_named(self, kind: str, name: str, qbo_id: str) -> None:
        key = f"{kind}:{name_key(name)}"
        with self._db.atomic():
            self._db.execute(
                "insert or replace into meta (key, value) values (?, ?)", [key, qbo_id]
            )
        self._cache[("meta", key)] = qbo_id

    def forget_named(self, kind: str) -> None:
        prefix = f"{kind}:"
        for cache_key in [k for k in self._cache if k[0] == "meta" and k[1].startswith(prefix)]:
            del self._cache[cache_key]
        with self._db.atomic():
            self._db.execute("delete from meta where substr(key, 1, ?) = ?", [len(prefix), prefix])

    def _lookup(self, table: str, column: str, key: str) -> str | None:
        cached = self._cache.get((table, key))
        if cached is not None:
            return cached
        rows = self._db.rows(f"select qbo_id from {table} where {column} = ?", [key])  # noqa: S608 - fixed names
        if rows:
            self._cache[(table, key)] = rows[0]["qbo_id"]
            return rows[0]["qbo_id"]
        return None

    def _forget(self, table: str, column: str, key: str) -> None:
        self._cache.pop((table, key), None)
        with self._db.atomic():
            self._db.execute(f"delete from {table} where {column} = ?", [key])  # noqa: S608
