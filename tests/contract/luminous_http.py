"""Plain-`requests` helpers for the Luminous emulator's contract tests: a seeded emulator with
a frozen clock, and a session that speaks its public API and its `/__admin` controls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import requests

from reconciler.sandbox.luminous.server import LuminousEmulator

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # the frozen server clock; seed stamps follow it
SEED_BASE = datetime(2026, 2, 27, 12, 0, tzinfo=UTC)  # T - 3 days: the first seed PO's stamp


class LuminousHTTP:
    """One authorised session to a running emulator."""

    def __init__(self, emu: LuminousEmulator) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {emu.token}"

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        url = self.emu.base_url + path
        return self.session.request(method, url, json=body, params=params, timeout=5)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.call("GET", path, **params)

    def data(self, path: str, **params: Any) -> Any:
        """GET that must succeed; answers its `data`."""
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def rows(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of a list small enough for one page of 100."""
        body = self.get(path, per_page=100, **params).json()
        assert body["meta"]["last_page"] == 1, body["meta"]
        return body["data"]

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, self.emu.admin_url + path, json=body, timeout=5)


@contextmanager
def seeded(**settings: Any) -> Iterator[LuminousHTTP]:
    """The default seed (POs, bills, receipts) behind a session; the clock frozen at T."""
    with LuminousEmulator(**settings) as emulator:
        emulator.set_now(T)
        emulator.seed_default()
        yield LuminousHTTP(emulator)


def by_memo(lum: LuminousHTTP) -> dict[str, dict[str, Any]]:
    """The seeded bills keyed by what they are (the seed writes that into `memo`)."""
    return {bill["memo"]: bill for bill in lum.rows("/bills")}
