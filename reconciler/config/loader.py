"""Settings: TOML file, then `RECONCILER_SECTION__KEY` environment overrides, then secrets.

Where a value comes from (highest first):

    plain keys   RECONCILER_SECTION__KEY  >  the TOML file  >  the default below
    secrets      RECONCILER_SECTION__KEY or RECONCILER_SECTION__KEY_FILE (a path)
                 >  $CREDENTIALS_DIRECTORY/<section>_<key>  (systemd LoadCredential=)
                 >  `key` or `key_file` in the TOML file

Environment values are coerced to the type of the key's default (bool: true/false/1/0/yes/no/
on/off; durations: seconds or "90s", "5m", "1h30m", "1d"). Validation collects every problem
(unknown sections and keys with a did-you-mean, wrong types, bad enum values, bad URLs, missing
secrets, invalid TOML with its line) and raises one `errors.ConfigError` listing them all.

Secrets are held in `Secret`, whose str, repr and format are '***': a Settings object in a log
line or a traceback never shows them; `.reveal()` is the one way to the value.

What the sections, keys, types and defaults are is declared once, in `reconciler.config.settings`;
this module reads them from that registry. A value's type is a row of `VALUE_TYPES`.

`[fields]` turns QBO fields on and off and picks their source (`Memo = "public_note"`,
`PrivateNote = false`); `[custom_fields]` maps a QBO custom field name to a source, optionally
with its DefinitionId (`"Sales Rep" = { source = "rep", definition_id = "2" }`; without one the
position in the table, 1 to 3, is used, which is QBO's order for purchase-form custom fields).
From the environment: `RECONCILER_CUSTOM_FIELDS__<QBO name>=<source>` (the name keeps its case,
as every free-form section's keys do).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from reconciler.config.settings import (
    FALSE,
    TRUE,
    AccountsSettings,
    BillsSettings,
    CustomFieldSetting,
    DaemonSettings,
    LoggingSettings,
    LuminousSettings,
    QBOSettings,
    RawValue,
    Secret,
    Settings,
    StateSettings,
    SyncSettings,
    all_sections,
    did_you_mean,
    free_form_sections,
    toml_key,
    typed_sections,
)
from reconciler.documents import coding
from reconciler.documents.payment.mapping import DEFAULT_TYPE
from reconciler.documents.payment.parse import PAYMENT_TYPES
from reconciler.documents.values import ISO_4217
from reconciler.errors import ConfigError

__all__ = [
    "AccountsSettings",
    "BillsSettings",
    "CustomFieldSetting",
    "DaemonSettings",
    "LoggingSettings",
    "LuminousSettings",
    "QBOSettings",
    "Secret",
    "Settings",
    "StateSettings",
    "SyncSettings",
    "load_settings",
    "parse_duration",
    "parse_money",
]

QBO_BASE_URLS = {
    "production": "https://quickbooks.api.intuit.com/v3/company",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com/v3/company",
}
MIN_MINORVERSION = 75
ENV_PREFIX = "RECONCILER_"


# --- coercion ----------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION_DAYS = 3650  # ten years: past that a duration is a typo (and overflows timedelta)


def parse_duration(value: object) -> timedelta:
    """Seconds (number) or "90s", "5m", "1h30m", "1d", "250ms"; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        elif text and re.fullmatch(rf"(?:{_DURATION_PART.pattern})+", text):
            seconds = sum(
                float(num) * _DURATION_UNITS[unit] for num, unit in _DURATION_PART.findall(text)
            )
        else:
            raise ValueError(f'expected a duration like 30, "90s", "5m" or "1h", got {value!r}')
    else:
        raise ValueError(f"expected a duration, got {type(value).__name__}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if not math.isfinite(seconds) or seconds > MAX_DURATION_DAYS * 86400:
        raise ValueError(f"a duration of at most {MAX_DURATION_DAYS} days, got {value!r}")
    return timedelta(seconds=seconds)


def _bool(value: object, from_env: bool) -> bool:
    if isinstance(value, bool):
        return value
    if from_env and isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise ValueError(f"expected true or false, got {value!r}")


def _int(value: object, from_env: bool) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if from_env and isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ValueError(f"expected a whole number, got {value!r}")


def _str(value: object, from_env: bool) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # realm_id = 9130355 written without quotes
    raise ValueError(f"expected a string, got {value!r}")


def _secret(value: object, from_env: bool) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("expected a string")


def parse_money(value: object, from_env: bool = False) -> Decimal:
    """An amount: a decimal string ("12.50") or a whole number; never a float (TOML floats are
    binary: 0.1 is not 0.1)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except ArithmeticError:
            amount = None
        if amount is not None and amount.is_finite():
            return amount
    raise ValueError(f'expected an amount written as a string, like "12.50"; got {value!r}')


def _names(value: object, from_env: bool) -> tuple[str, ...]:
    """A list of strings (`["a", "b"]`), or a comma list from the environment."""
    if from_env and isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"expected a list of strings, got {value!r}")


def _table(value: object, from_env: bool) -> tuple[tuple[str, str], ...]:
    """A table of string to string (`{ "Main warehouse" = "East" }`), in the order written."""
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return tuple(value.items())
    raise ValueError(f"expected a table of strings, got {value!r}")


# The value types a setting may have, named by its field's annotation: a new type is one row.
VALUE_TYPES: dict[str, Callable[[object, bool], object]] = {
    "bool": _bool,
    "int": _int,
    "str": _str,
    "secret": _secret,
    "timedelta": lambda value, _env: parse_duration(value),
    "Decimal": parse_money,
    "tuple[str, ...]": _names,
    "tuple[tuple[str, str], ...]": _table,
}


def _coerce(kind: str, value: object, from_env: bool) -> object:
    return VALUE_TYPES[kind](value, from_env)


def _kind(tp: object) -> str:
    """The VALUE_TYPES row for a field's resolved annotation."""
    if "Secret" in str(tp):
        return "secret"
    name = tp.__name__ if isinstance(tp, type) else str(tp)
    if name not in VALUE_TYPES:
        raise TypeError(f"settings have no value type {name!r}; add a row to VALUE_TYPES")
    return name


def _is_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# --- loading -----------------------------------------------------------------------------------

_TOML, _CREDENTIAL, _ENV = 0, 1, 2


class _Loader:
    def __init__(self, env: Mapping[str, str], credentials_dir: str | None, require_secrets: bool):
        self.env = env
        self.credentials_dir = credentials_dir
        self.require_secrets = require_secrets
        self.problems: list[str] = []
        self.raw: dict[str, dict[str, list[RawValue]]] = {s: {} for s in all_sections()}

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def add(self, section: str, key: str, value: RawValue) -> None:
        self.raw[section].setdefault(key, []).append(value)

    def chosen(self, section: str) -> dict[str, RawValue]:
        """Each key's winning value: the last one of the highest rank."""
        return {k: max(vs, key=lambda v: v.rank) for k, vs in self.raw[section].items()}

    # sources

    def read_toml(self, path: str) -> None:
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            self.problem(f"{path}: configuration file not found")
            return
        except OSError as exc:
            self.problem(f"{path}: cannot read: {exc.strerror}")
            return
        except tomllib.TOMLDecodeError as exc:
            self.problem(f"{path}: invalid TOML: {exc}")
            return
        for section, table in data.items():
            if section not in all_sections():
                hint = did_you_mean(section, all_sections())
                self.problem(f"{path}: unknown section [{section}]{hint}")
                continue
            if not isinstance(table, dict):
                self.problem(f"{path}: {section} must be a table ([{section}])")
                continue
            for key, value in table.items():
                self.add(section, key, RawValue(value, f"{path}: {section}.{key}", _TOML))

    def read_env(self) -> None:
        for name in sorted(self.env):
            if not name.startswith(ENV_PREFIX) or "__" not in name:
                continue  # RECONCILER_CONFIG and friends belong to the command line
            section, _, key = name[len(ENV_PREFIX) :].partition("__")
            section = section.lower()
            if section not in all_sections():
                hint = did_you_mean(section, all_sections())
                self.problem(f"{name}: unknown section {section!r}{hint}")
                continue
            if section not in free_form_sections():
                key = key.lower()  # a free-form section's keys are the user's, case kept
            self.add(section, key, RawValue(self.env[name], name, _ENV, from_env=True))

    # sections

    def section(self, name: str, cls: type) -> Any:
        hints = get_type_hints(cls)
        known = {toml_key(f): f for f in dataclasses.fields(cls)}
        hints = {key: hints[f.name] for key, f in known.items()}
        given = self.raw[name]
        secrets = {n for n in known if _kind(hints[n]) == "secret"}
        for key in given:
            base = key.removesuffix("_file")
            if key in known or (key.endswith("_file") and base in secrets):
                continue
            if key.endswith("_file") and base in known:
                where = given[key][-1].where
                self.problem(f"{where}: only secrets can be read from a file ({base} is not one)")
                continue
            hint = did_you_mean(key, list(known))
            self.problem(f"{given[key][-1].where}: unknown key {name}.{key}{hint}")
        kwargs: dict[str, Any] = {}
        reported: set[str] = set()
        for key, spec in known.items():
            kind = _kind(hints[key])
            if kind == "secret":
                value = self.secret(name, key, spec)
                if value is not None:
                    kwargs[spec.name] = value
                continue
            candidates = given.get(key)
            if not candidates:
                continue
            chosen = max(candidates, key=lambda v: v.rank)  # last of the highest rank
            try:
                value = _coerce(kind, chosen.value, chosen.from_env)
            except ValueError as exc:
                self.problem(f"{chosen.where}: {exc}")
                reported.add(key)
                continue
            problem = self.check(name, key, spec, value)
            if problem:
                self.problem(f"{chosen.where}: {problem}")
                reported.add(key)
                continue
            if "choices" in spec.metadata:
                value = next(c for c in spec.metadata["choices"] if c.lower() == str(value).lower())
            kwargs[spec.name] = value
        for key, spec in known.items():
            required = spec.metadata.get("required") and _kind(hints[key]) != "secret"
            # Commands that never talk to the APIs (`status`, `retry`) need only state.path.
            required = required and key not in reported and self.require_secrets
            if required and not str(kwargs.get(spec.name, spec.default)).strip():
                env_name = f"{ENV_PREFIX}{name.upper()}__{key.upper()}"
                self.problem(f"{name}.{key} is required (in the file or {env_name})")
        return cls(**kwargs)

    @staticmethod
    def check(section: str, key: str, spec: dataclasses.Field, value: object) -> str | None:
        meta = spec.metadata
        choices = meta.get("choices")
        if choices and str(value).lower() not in {c.lower() for c in choices}:
            return f"must be one of {', '.join(choices)}; got {value!r}"
        if isinstance(value, int) and not isinstance(value, bool):
            if "min" in meta and value < meta["min"]:
                return f"must be at least {meta['min']}; got {value}"
            if "max" in meta and value > meta["max"]:
                return f"must be at most {meta['max']}; got {value}"
        if meta.get("url") and value and not _is_url(str(value)):
            return f"{section}.{key} must be an http(s) URL; got {value!r}"
        return None

    def secret(self, section: str, key: str, spec: dataclasses.Field) -> Secret | None:
        given = self.raw[section]
        found: list[RawValue] = [
            *given.get(key, []),
            *(dataclasses.replace(v, is_file=True) for v in given.get(key + "_file", [])),
        ]
        credential_name = f"{section}_{key}"
        if self.credentials_dir:
            path = Path(self.credentials_dir) / credential_name
            if path.is_file():
                found.append(
                    RawValue(str(path), f"credential {credential_name}", _CREDENTIAL, True, True)
                )
        if not found:
            if spec.metadata.get("required") and self.require_secrets:
                env_name = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
                self.problem(
                    f"{section}.{key} is missing: set {env_name}, {env_name}_FILE, or a systemd "
                    f"credential named {credential_name}"
                )
            return None
        top = max(v.rank for v in found)
        best = [v for v in found if v.rank == top]
        if len({v.is_file for v in best}) > 1:
            where = " and ".join(v.where for v in best)
            self.problem(f"{section}.{key}: set either the value or the _file, not both ({where})")
            return None
        chosen = best[-1]
        if not isinstance(chosen.value, str):
            self.problem(f"{chosen.where}: expected a string")
            return None
        if not chosen.is_file:
            return Secret(chosen.value)
        try:
            text = Path(chosen.value).read_text(encoding="utf-8")
        except OSError as exc:
            self.problem(f"{chosen.where}: cannot read secret file {chosen.value}: {exc.strerror}")
            return None
        text = text.strip()
        if not text:
            self.problem(f"{chosen.where}: secret file {chosen.value} is empty")
            return None
        return Secret(text)


def _cross_checks(settings: Settings, problems: list[str]) -> Settings:
    qbo = settings.qbo
    environment = qbo.environment.strip()
    base_url = qbo.base_url.strip()
    if environment.lower() in QBO_BASE_URLS:
        environment = environment.lower()
        base_url = base_url or QBO_BASE_URLS[environment]
    elif not _is_url(environment):
        problems.append(
            f"qbo.environment must be production, sandbox or a discovery URL; got {environment!r}"
        )
    elif not base_url:
        problems.append("qbo.base_url is required when qbo.environment is a discovery URL")
    if base_url and not _is_url(base_url):
        problems.append(f"qbo.base_url must be an http(s) URL; got {base_url!r}")
    if qbo.minorversion < MIN_MINORVERSION:
        problems.append(
            f"qbo.minorversion {qbo.minorversion} is below {MIN_MINORVERSION}: since 2025-08-01 "
            f"Intuit answers every request as {MIN_MINORVERSION}; set {MIN_MINORVERSION} or newer"
        )
    currency = qbo.home_currency.strip().upper()
    if currency not in ISO_4217:
        problems.append(f"qbo.home_currency must be an ISO 4217 code; got {qbo.home_currency!r}")
    if settings.sync.backoff_cap < settings.sync.backoff_base:
        problems.append("sync.backoff_cap must not be shorter than sync.backoff_base")
    if not settings.luminous.timeout or not qbo.timeout:
        problems.append("timeouts must be longer than zero")
    if settings.sync.poll_interval <= timedelta(0):
        problems.append("sync.poll_interval must be longer than zero")
    if settings.sync.require_approval and not any(v.strip() for v in settings.sync.approved_values):
        problems.append(
            "sync.approved_values is empty while sync.require_approval = true: no PO could ever "
            'be pushed; list the approval values that mean approved (e.g. ["approved"])'
        )
    if settings.sync.item_type == "Inventory" and not settings.accounts.inventory_asset:
        problems.append("accounts.inventory_asset is required when sync.item_type = Inventory")
    hook = settings.alerts.webhook_url
    if hook and not _is_url(hook.reveal().strip()):
        problems.append("alerts.webhook_url must be an http(s) URL (not shown: it is a secret)")
    if not settings.alerts.timeout or not settings.alerts.give_up_after:
        problems.append("alerts.timeout and alerts.give_up_after must be longer than zero")
    for key in ("expense", "shipping", "tax", "discount", "other_costs"):
        if not getattr(settings.accounts, key).strip():
            problems.append(f"accounts.{key} must name a QBO account")
    problems.extend(_payments_problems(settings))
    problems.extend(coding.lookup_problems("classes", settings.classes.lookup()))
    problems.extend(coding.lookup_problems("locations", settings.locations.lookup()))
    problems.extend(coding.tax_problems(settings.tax.rules()))
    return dataclasses.replace(
        settings,
        qbo=dataclasses.replace(
            qbo, environment=environment, base_url=base_url.rstrip("/"), home_currency=currency
        ),
    )


def _payments_problems(settings: Settings) -> list[str]:
    """Payments link the bills the sync wrote from Luminous bills, from named accounts."""
    p = settings.payments
    if p.from_ != "luminous":
        return []
    problems = []
    if settings.bills.from_ != "bills":
        problems.append(
            'payments.from = "luminous" needs bills.from = "bills": a payment links the QBO '
            "bill the sync wrote for its Luminous bill"
        )
    known = {*PAYMENT_TYPES, DEFAULT_TYPE}
    if not any(name.strip() for _, name in p.accounts):
        problems.append(
            "payments.accounts must name the QBO account each payment_type is paid from, "
            'e.g. { bank_transfer = "Checking", credit_card = "Visa" } (or a "default")'
        )
    problems += [
        f"payments.accounts: {key!r} is not a payment_type ({', '.join(sorted(known))})"
        for key, _ in p.accounts
        if key.strip().lower() not in known
    ]
    return problems


def load_settings(
    path: str | None,
    env: Mapping[str, str],
    *,
    credentials_dir: str | None = None,
    require_secrets: bool = True,
) -> Settings:
    """Read, merge and validate; ConfigError listing every problem. `require_secrets=False`
    suits commands that never talk to the APIs (`reconciler status`, `retry`): neither secrets
    nor API settings are required then; values that are given are still checked."""
    loader = _Loader(
        env, credentials_dir or env.get("CREDENTIALS_DIRECTORY") or None, require_secrets
    )
    if path is not None:
        loader.read_toml(os.fspath(path))
    loader.read_env()
    typed = {name: loader.section(name, cls) for name, cls in typed_sections().items()}
    free = {
        name: parse(loader.chosen(name), loader.problem)
        for name, parse in free_form_sections().items()
    }
    settings = Settings(**typed, **free)
    settings = _cross_checks(settings, loader.problems)
    if loader.problems:
        raise ConfigError(loader.problems)
    return settings


def demo_settings(
    luminous_url: str,
    luminous_token: str,
    qbo_api_base: str,
    realm_id: str,
    discovery_url: str,
    state_path: str,
    token_store_path: str,
    *,
    client_id: str = "emu-client",
    client_secret: str = "emu-secret",  # noqa: S107 (the emulator's public demo credential)
) -> Settings:
    """The embedded configuration `reconciler demo` runs with against the two emulators."""
    return Settings(
        luminous=LuminousSettings(
            base_url=luminous_url.rstrip("/"),
            api_token=Secret(luminous_token),
            settle_lag=timedelta(0),  # the demo pushes what it has just seeded
        ),
        qbo=QBOSettings(
            environment=discovery_url,
            base_url=qbo_api_base.rstrip("/"),
            realm_id=realm_id,
            client_id=client_id,
            client_secret=Secret(client_secret),
            redirect_uri="http://127.0.0.1:8787/callback",
            token_store=token_store_path,
        ),
        state=StateSettings(path=state_path),
        accounts=AccountsSettings(ap="Accounts Payable (A/P)"),
        logging=LoggingSettings(format="console"),
    )
