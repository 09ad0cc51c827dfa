"""Accounts by configured name, cached like vendors and items; a missing account is a
configuration problem, not a per-PO one."""

from __future__ import annotations

from reconciler import errors
from reconciler.qbo import query as q
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

    def forget_all(self) -> None:
        self._maps.forget_accounts()
