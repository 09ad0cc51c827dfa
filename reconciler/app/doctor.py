"""`reconciler doctor`: one line per check, and the fix when a check fails.

Checks run in order and each later one is skipped (said so, not hidden) when what it needs
failed: configuration, state database, Luminous, QBO authorization, the QBO company (country,
edition, tracking; then each configured class, location and tax code: `company_checks`), QBO
accounts. The state file is only read: doctor creates, migrates and binds nothing (what the
QBO checks look up is cached in memory, not in the file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler import errors
from reconciler.app import wiring
from reconciler.app.company_checks import company_checks
from reconciler.config.loader import Settings, load_settings
from reconciler.logs import SECRETS
from reconciler.resolve import AccountResolver
from reconciler.state import StateFileError, StateFileFull, StateFileMissing, StateStore


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        text = f"[{mark}] {self.name}: {SECRETS.scrub(self.detail)}"
        if not self.ok and self.fix:
            text += f"\n       fix: {self.fix}"
        return text


def _accounts_to_check(settings: Settings) -> list[tuple[str, str]]:
    a = settings.accounts
    roles = [
        ("accounts.ap", a.ap),
        ("accounts.expense", a.expense),
        ("accounts.shipping", a.shipping),
        ("accounts.tax", a.tax),
        ("accounts.discount", a.discount),
        ("accounts.other_costs", a.other_costs),
    ]
    if settings.sync.item_type == "Inventory":
        roles += [("accounts.inventory_asset", a.inventory_asset), ("accounts.income", a.income)]
    seen: set[str] = set()
    return [(k, v) for k, v in roles if v and not (v in seen or seen.add(v))]


def run_checks(
    config_path: str | None,
    env: Mapping[str, str],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Iterator[Check]:
    try:
        settings = load_settings(config_path, env)
    except errors.ConfigError as exc:
        yield Check(
            "configuration",
            False,
            "; ".join(exc.problems),
            "correct reconciler.toml / RECONCILER_* variables (see reconciler.example.toml)",
        )
        return
    wiring.register_secrets(settings)
    yield Check("configuration", True, f"loaded ({config_path or 'environment only'})")

    scratch = StateStore.open(":memory:", clock=clock)  # what the QBO checks cache
    try:
        state = _state_check(settings, clock)
        yield state
        if not state.ok:
            return
        yield from _luminous_check(settings)
        yield from _qbo_checks(settings, scratch, clock)
    finally:
        scratch.close()


def _state_check(settings: Settings, clock: Callable[[], datetime]) -> Check:
    """The state file, read only: doctor creates, migrates and binds nothing."""
    path = settings.state.path
    try:
        store = wiring.open_store(settings, clock=clock, read_only=True)
    except StateFileMissing:
        parent = Path(path).resolve().parent
        if parent.is_dir() and not os.access(parent, os.W_OK):
            return Check(
                "state database",
                False,
                f"{path}: cannot be created in {parent}",
                f"give this user write access to {parent}, or set state.path",
            )
        return Check("state database", True, f"{path} (none yet: the first pass creates it)")
    except (StateFileError, StateFileFull) as exc:
        return Check("state database", False, str(exc).removesuffix(f"; {exc.fix}"), exc.fix)
    try:
        try:
            store.check()
        except StateFileError as exc:
            return Check("state database", False, str(exc).removesuffix(f"; {exc.fix}"), exc.fix)
        bound = store.get_meta("realm_id")
        if bound is not None and bound != settings.qbo.realm_id:
            return Check(
                "state database",
                False,
                f"state file belongs to QBO company {bound}, but the configured realm is "
                f"{settings.qbo.realm_id}",
                "use one state file per company",
            )
        counts = store.ledger.status_counts()
        return Check("state database", True, f"{path} ({sum(counts.values())} documents)")
    finally:
        store.close()


def _luminous_check(settings: Settings) -> Iterator[Check]:
    client = wiring.luminous_client(settings)
    client.max_attempts = 1
    try:
        now = client.server_now()
    except errors.LuminousAuthError:
        yield Check(
            "luminous",
            False,
            f"{settings.luminous.base_url} refused the API token (401)",
            "create a new API token in Luminous (settings, API tokens) and store it as "
            "luminous.api_token",
        )
        return
    except errors.ReconcilerError as exc:
        yield Check(
            "luminous",
            False,
            f"{settings.luminous.base_url}: {exc}",
            "check luminous.base_url and the network path to it",
        )
        return
    yield Check(
        "luminous", True, f"{settings.luminous.base_url} answers (server time {now:%H:%M:%SZ})"
    )


def _qbo_checks(settings: Settings, store: Any, clock: Callable[[], datetime]) -> Iterator[Check]:
    tokens = wiring.token_source(settings, clock=clock)
    client = wiring.qbo_client(settings, tokens)
    try:
        info = client.read("CompanyInfo", settings.qbo.realm_id).entity or {}
    except (errors.AuthorizationLost, errors.QBOFatalFault) as exc:
        yield Check("quickbooks authorization", False, str(exc), "run `reconciler auth connect`")
        return
    except errors.ReconcilerError as exc:
        yield Check(
            "quickbooks authorization",
            False,
            str(exc),
            "check qbo.environment / qbo.base_url and the network path to Intuit",
        )
        return
    name = info.get("CompanyName", "?") if isinstance(info, dict) else "?"
    yield Check(
        "quickbooks authorization", True, f"company {settings.qbo.realm_id} ({name}) answers"
    )
    for row in company_checks(
        settings, client, store, info if isinstance(info, dict) else {}, clock=clock
    ):
        yield Check(*row)
    resolver = AccountResolver(client, store.refs)
    for key, account in _accounts_to_check(settings):
        try:
            account_id = resolver.id_for(account)
        except errors.ConfigError:
            yield Check(
                f"account {key}",
                False,
                f"{account!r} not found (or inactive) in QuickBooks",
                f"create the account in QuickBooks or set {key} to an existing account name",
            )
            continue
        except errors.ReconcilerError as exc:
            yield Check(f"account {key}", False, str(exc), "run doctor again later")
            continue
        yield Check(f"account {key}", True, f"{account!r} is account {account_id}")
