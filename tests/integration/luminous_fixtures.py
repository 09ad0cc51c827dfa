"""Helpers for the Luminous pull tests: a frozen-clock emulator, a client with recorded sleeps,
a dictionary ledger, and a pass loop that settles every record it is given."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import requests

from reconciler.documents.po.model import SourcePO
from reconciler.documents.po.parse import parse_or_reject
from reconciler.luminous.client import LuminousClient
from reconciler.model import Checkpoint, RejectedRecord
from reconciler.sandbox.luminous.server import LuminousEmulator
from reconciler.sync.cursor import advance
from reconciler.sync.pull import PullResult, pull_changes

T0 = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
OVERLAP = timedelta(minutes=5)
LAG = timedelta(seconds=30)


@pytest.fixture
def emu() -> Iterator[LuminousEmulator]:
    """An emulator with one supplier and product, its clock frozen at NOW."""
    with LuminousEmulator() as emulator:
        emulator.set_now(NOW)
        emulator.add_supplier("Nutricost")
        emulator.add_product("Whey", "W-1")
        yield emulator


def add_po(emu: LuminousEmulator, updated_at: datetime, **fields) -> int:
    """A well-formed PO stamped `updated_at`; returns its id."""
    body = {"supplier_id": 1, "items": [{"product_id": 1, "quantity": "2", "unit_price": "3.50"}]}
    return emu.create_po({**body, **fields}, updated_at=updated_at)["id"]


def make_client(emu: LuminousEmulator, sleeps: list[float] | None = None, **options):
    """A real client against the emulator; sleeps are recorded instead of slept."""
    recorded = sleeps if sleeps is not None else []
    return LuminousClient(
        requests.Session(),
        emu.base_url,
        emu.token,
        sleep=recorded.append,
        rng=random.Random(7),
        **options,
    )


@dataclass
class Ledger:
    """The part of the engine's ledger the pull sees: the version each PO was settled at."""

    versions: dict[int, datetime] = field(default_factory=dict)

    def already_handled(self, po_id: int, updated_at: datetime) -> bool:
        settled = self.versions.get(po_id)
        return settled is not None and settled >= updated_at


@dataclass
class Pass:
    checkpoint: Checkpoint | None
    yielded: list[tuple[int, datetime]]
    result: PullResult

    @property
    def counts(self) -> Counter[int]:
        return Counter(po_id for po_id, _ in self.yielded)


def run_pass(
    client: LuminousClient,
    ledger: Ledger,
    checkpoint: Checkpoint | None,
    *,
    stop_after: int | None = None,
    overlap: timedelta = OVERLAP,
    settle_lag: timedelta = LAG,
    initial: datetime | None = None,
    on_record: Callable[[SourcePO | RejectedRecord], None] | None = None,
) -> Pass:
    """One pass as the engine runs it: settle each record, then advance the checkpoint.
    With `stop_after`, the record after that many is pulled but left unsettled (a crash)."""
    result = pull_changes(
        client,
        checkpoint,
        overlap=overlap,
        settle_lag=settle_lag,
        already_handled=ledger.already_handled,
        initial=initial,
        parse=parse_or_reject,
    )
    handled: list[tuple[datetime, int]] = []
    unsettled: list[tuple[datetime, int]] = []
    yielded: list[tuple[int, datetime]] = []
    for record in result.records:
        po_id = record.id
        assert po_id is not None and record.updated_at is not None
        yielded.append((po_id, record.updated_at))
        if on_record is not None:
            on_record(record)
        if stop_after is not None and len(handled) >= stop_after:
            unsettled.append((record.updated_at, po_id))
            break
        ledger.versions[po_id] = record.updated_at
        handled.append((record.updated_at, po_id))
    new_checkpoint = advance(checkpoint, handled, unsettled, result.safe_ceiling)
    return Pass(new_checkpoint, yielded, result)
