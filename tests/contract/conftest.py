"""Emulator fixtures: a running QBO emulator on an ephemeral port and an HTTP session to it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from reconciler.sandbox.qbo.server import QBOEmulator


class QBOSession:
    """Plain `requests` calls against one emulator realm, with a live bearer token."""

    # Ids the default seed assigns (each entity is numbered in seed order).
    ACME, BOLT, OBRIEN, RETIRED_VENDOR = "1", "2", "3", "4"
    WIDGET, GADGET, INSTALLATION, DISCONTINUED = "1", "2", "3", "4"
    AP_ACCOUNT, PURCHASES_ACCOUNT, OLD_EXPENSE_ACCOUNT = "1", "6", "8"

    def __init__(self, emu: QBOEmulator, access_token: str) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        )

    def url(self, resource: str) -> str:
        return f"{self.emu.api_base}/{self.emu.realm_id}/{resource}"

    def get(self, resource: str, **params: str) -> requests.Response:
        params.setdefault("minorversion", "75")
        return self.session.get(self.url(resource), params=params, timeout=5)

    def post(self, resource: str, body: object, **params: str) -> requests.Response:
        params.setdefault("minorversion", "75")
        data = body if isinstance(body, str) else json.dumps(body)
        headers = {"Content-Type": "application/json"}
        return self.session.post(
            self.url(resource), data=data, params=params, headers=headers, timeout=5
        )

    def query(self, text: str) -> requests.Response:
        return self.get("query", query=text)

    def create(self, resource: str, body: dict, **params: str) -> dict:
        """POST a create that must succeed; answers the object."""
        response = self.post(resource, body, **params)
        assert response.status_code == 200, response.text
        return next(v for k, v in response.json().items() if k != "time")

    @staticmethod
    def po_body(doc_number: str = "PO-1", vendor: str = "1", lines=(("2", 10, 2.5),)):
        """A valid PurchaseOrder create body (Amount = Qty * UnitPrice)."""
        return {
            "VendorRef": {"value": vendor},
            "DocNumber": doc_number,
            "Line": [
                {
                    "DetailType": "ItemBasedExpenseLineDetail",
                    "Amount": round(qty * price, 2),
                    "ItemBasedExpenseLineDetail": {
                        "ItemRef": {"value": item},
                        "Qty": qty,
                        "UnitPrice": price,
                    },
                }
                for item, qty, price in lines
            ],
        }


@pytest.fixture
def emu() -> Iterator[QBOEmulator]:
    """A running emulator with the default company, real limits."""
    with QBOEmulator() as emulator:
        emulator.seed_default()
        yield emulator


@pytest.fixture
def qbo(emu: QBOEmulator) -> QBOSession:
    """An authorised session against `emu`."""
    return QBOSession(emu, emu.issue_tokens()["access_token"])


@pytest.fixture
def make_emu() -> Iterator:
    """Sessions to emulators built with custom settings (seeded; stopped at the end)."""
    started: list[QBOEmulator] = []

    def build(**settings) -> QBOSession:
        emulator = QBOEmulator(**settings).start()
        started.append(emulator)
        emulator.seed_default()
        return QBOSession(emulator, emulator.issue_tokens()["access_token"])

    yield build
    for emulator in started:
        emulator.stop()
