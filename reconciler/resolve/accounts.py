"""Accounts by configured name, cached like vendors and items; a missing account is a
configuration problem, not a per-PO one."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler import errors
from reconciler.qbo import query as q
from reconciler.qbo.query import in_chunks
from reconciler.resolve.common import QueryClient
from reconciler.state import ReferenceMaps, name_key


class AccountResolver:
    """Account ids by name, as configured."""

    def __init__(self, client: QueryClient, maps: ReferenceMaps) -> None:
        self._client = client
        self._maps = maps

    def id_for(self, name: str) -> str:
        cached = self._maps.account_id(name)
        if cached is not None:
            return cached
        key = name_key(name)
        matches = [
            a
            for a in self._client.query(q.select("Account", [q.eq("Name", name)]))
            if key in (name_key(a.get("Name", "")), name_key(a.get("FullyQualifiedName", "")))
        ]
        if not matches:
            raise errors.ConfigError(
                [f"account {name!r} (from [accounts]) does not exist in QBO or is inactive"]
            )
        self._maps.remember_account(name, matches[0]["Id"])
        return matches[0]["Id"]

    def prefetch(self, names: Iterable[str]) -> None:
        """The accounts a group of documents will name, in one `IN (...)` query; a name QBO
        does not have is left for `id_for` to report."""
        wanted = {name_key(n): n for n in names if n and self._maps.account_id(n) is None}
        wanted = {k: n for k, n in wanted.items() if q.is_queryable(n)}
        for chunk in in_chunks(wanted.values()):
            for account in self._client.query(q.select("Account", [q.in_("Name", chunk)])):
                for field in ("Name", "FullyQualifiedName"):
                    name = wanted.get(name_key(account.get(field, "")))
                    if name is not None and self._maps.account_id(name) is None:
                        self._maps.remember_account(name, account["Id"])

    def forget_all(self) -> None:
        self._maps.forget_accounts()
