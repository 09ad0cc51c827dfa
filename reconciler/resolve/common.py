"""What the resolvers share: the QBO calls they need, deterministic requestids, and the
fallbacks for names QBO's query lexer cannot take."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, Protocol

from reconciler.qbo import query as q
from reconciler.state import name_key


class QueryClient(Protocol):
    def query(self, statement: str) -> list[dict[str, Any]]: ...
    def create(self, entity: str, body: dict[str, Any], *, request_id: str) -> Any: ...
    def update(
        self, entity: str, body: dict[str, Any], *, request_id: str, sparse: bool = True
    ) -> Any: ...


def ref_request_id(realm_id: str, kind: str, name: str, operation: str = "create") -> str:
    """Deterministic requestid for reference writes: the same name never creates twice."""
    digest = hashlib.sha256(f"{realm_id}|{kind}|{name_key(name)}|{operation}".encode()).hexdigest()
    return f"{kind[0]}{digest[:35]}"


def entity_of(result: Any) -> dict[str, Any]:
    return result.entity if hasattr(result, "entity") else result


def unqueryable_candidates(
    client: QueryClient, entity: str, field: str, value: str
) -> list[dict[str, Any]] | None:
    """Rows that may match `value` via a LIKE prefix; None when only a full listing will do."""
    pattern = q.queryable_prefix_pattern(value)
    if pattern is None:
        return None
    rows = client.query(q.select(entity, [q.like(field, pattern), q.in_("Active", (True, False))]))
    return None if len(rows) >= q.MAX_RESULTS_LIMIT else rows


def iter_all(client: QueryClient, entity: str, where: list[q.Cond]) -> Iterator[dict[str, Any]]:
    start = 1
    while True:
        page = client.query(q.select(entity, where, order_by="Id", start=start))
        yield from page
        if len(page) < q.MAX_RESULTS_LIMIT:
            return
        start += q.MAX_RESULTS_LIMIT
