"""Bills, payments and vendor credits in Luminous, and `python -m reconciler run --once` over
them: the reliability kit's world with a configuration file that turns on `[bills] from =
"bills"`, `[payments]` and `[vendor_credits]` (a table such as `[payments] accounts` cannot come
from the environment)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from reliability_kit import CAPTURED, REPO, World, connect, world

from reconciler.model import DocKind
from reconciler.state import StateStore

CONFIG = """
[bills]
from = "bills"

[payments]
from = "luminous"
accounts = {{ check = "Checking", bank_transfer = "Checking", credit_card = "Visa" }}

[vendor_credits]
from = "luminous"
application_account = "Checking"
{extra}
"""


@contextmanager
def payables(
    tmp_path: Path,
    *,
    replay: bool = True,
    qbo_options: dict[str, Any] | None = None,
    extra: str = "",
) -> Iterator[World]:
    """Both emulators and a connected daemon configuration; QBO has a Visa card account."""
    with world(tmp_path, requestid_replay=replay, qbo_options=qbo_options) as w:
        config = tmp_path / "reconciler.toml"
        config.write_text(CONFIG.format(extra=extra))
        w.env = {**w.env, "RECONCILER_CONFIG": str(config)}
        w.qbo.seed(
            "Account",
            {"Name": "Visa", "AccountType": "Credit Card", "AccountSubType": "CreditCard"},
        )
        connect(w)
        yield w


def run(w: World, *args: str, crash_at: str | None = None, label: str = "run") -> int:
    """`python -m reconciler run --once [args]` as a child process; its exit code."""
    env = dict(w.env)
    if crash_at:
        env["RECONCILER_CRASH_AT"] = crash_at
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "run", "--once", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    CAPTURED.output(f"{label} stdout", proc.stdout)
    CAPTURED.output(f"{label} stderr", proc.stderr)
    if crash_at is None:
        assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-3000:]}"
    return proc.returncode


def posted_bill(w: World, qty: str = "10", number: str = "INV-1", **fields: Any) -> dict:
    """A PO (qty @ 42.50, Nutricost) and a posted Luminous bill for all of it."""
    po = w.source.po("Nutricost", "Whey Protein 5lb", qty, "42.50")
    return w.source.bill(po, qty, number, **fields)


def pay(w: World, bill: dict, amount: str, kind: str = "check", **fields: Any) -> dict:
    record = {"paid_amount": amount, "payment_type": kind, **fields}
    return w.lum.payments.pay(bill["id"], record, updated_at=w.source.stamps.next())


def entry(w: World, doc_id: int, kind: DocKind):
    store = StateStore.open(w.state_path)
    try:
        return store.ledger.entry(doc_id, kind)
    finally:
        store.close()


def qbo_of(w: World, doc_id: int, kind: DocKind) -> dict[str, Any]:
    row = entry(w, doc_id, kind)
    assert row is not None and row.qbo_id, f"{kind} {doc_id} has no QBO id: {row}"
    found = w.qbo.get(kind.entity, row.qbo_id)
    assert found is not None, f"QBO {kind.entity} {row.qbo_id} is gone"
    return found


def payments_in_qbo(w: World, number: str) -> list[dict[str, Any]]:
    return [p for p in w.qbo.objects("BillPayment") if p.get("DocNumber") == number]


def money(value: Any) -> Decimal:
    return Decimal(str(value))
