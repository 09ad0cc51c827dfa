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

`[fields]` turns QBO fields on and off and picks their source (`Memo = "public_note"`,
`PrivateNote = false`); `[custom_fields]` maps a QBO custom field name to a source, optionally
with its DefinitionId (`"Sales Rep" = { source = "rep", definition_id = "2" }`; without one the
position in the table, 1 to 3, is used, which is QBO's order for purchase-form custom fields).
From the environment: `RECONCILER_CUSTOM_FIELDS__<QBO name>=<source>` (the name keeps its case).
"""

from __future__ import annotations

import dataclasses
import difflib
import hmac
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from reconciler.errors import ConfigError
from reconciler.mapping import (
    DEFAULT_FIELDS,
    FIELD_SOURCES,
    ISO_4217,
    MappingRules,
)
from reconciler.model import ItemKind
from reconciler.plan import PlanPolicy

QBO_BASE_URLS = {
    "production": "https://quickbooks.api.intuit.com/v3/company",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com/v3/company",
}
MIN_MINORVERSION = 75
ENV_PREFIX = "RECONCILER_"
MAX_CUSTOM_FIELDS = 3


class Secret:
    """A secret string that prints as '***'; `.reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


def _opt(default: Any = None, **meta: Any) -> Any:
    """A settings field with validation metadata (choices, min, max, url, required)."""
    return field(default=default, metadata=meta)


# --- sections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LuminousSettings:
    base_url: str = _opt("", url=True, required=True)
    api_token: Secret | None = field(default=None, metadata={"required": True})
    per_page: int = _opt(100, min=1, max=100)
    overlap: timedelta = timedelta(minutes=5)
    settle_lag: timedelta = timedelta(seconds=30)
    full_sweep_interval: timedelta = timedelta(hours=24)
    timeout: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class QBOSettings:
    environment: str = "production"  # "production" | "sandbox" | an OpenID discovery URL
    base_url: str = ""  # derived from environment unless set
    realm_id: str = _opt("", required=True)
    client_id: str = _opt("", required=True)
    client_secret: Secret | None = field(default=None, metadata={"required": True})
    redirect_uri: str = _opt("http://localhost:8080/callback", url=True)
    minorversion: int = 75
    requests_per_minute: int = _opt(500, min=1, max=500)
    max_concurrent: int = _opt(10, min=1, max=10)
    token_store: str = "reconciler-tokens.json"  # noqa: S105 (a path, not a password)
    token_key: Secret | None = None
    home_currency: str = "USD"
    timeout: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class StateSettings:
    path: str = "reconciler.db"


@dataclass(frozen=True)
class SyncSettings:
    poll_interval: timedelta = timedelta(seconds=60)
    require_approval: bool = True
    on_cancel: str = _opt("close", choices=("close", "delete"))
    on_delete: str = _opt("close", choices=("close", "delete"))
    closed_never_synced: str = _opt("skip", choices=("skip", "create"))
    doc_number_index: int = _opt(0, min=0)
    doc_number_too_long: str = _opt("reject", choices=("reject", "truncate"))
    vendor_name_collision: str = _opt("suffix", choices=("suffix", "fail"))
    vendor_name_suffix: str = " (Supplier)"
    inactive_vendor: str = _opt("reactivate", choices=("reactivate", "fail"))
    missing_item: str = _opt("create", choices=("create", "account_line"))
    item_type: str = _opt("NonInventory", choices=("NonInventory", "Inventory", "Service"))
    max_attempts: int = _opt(8, min=1)
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class AccountsSettings:
    """Account NAMES as in QBO; the integrator resolves them to ids at run time."""

    ap: str = ""  # empty: the company's only accounts-payable account
    expense: str = "Cost of Goods Sold"  # items' expense/COGS; lines of unknown items
    inventory_asset: str = "Inventory Asset"
    income: str = "Sales of Product Income"
    shipping: str = "Cost of Goods Sold"
    tax: str = "Cost of Goods Sold"
    discount: str = "Cost of Goods Sold"
    other_costs: str = "Cost of Goods Sold"


@dataclass(frozen=True)
class DaemonSettings:
    health_host: str = _opt("127.0.0.1", required=True)
    health_port: int = _opt(8787, min=0, max=65535)


@dataclass(frozen=True)
class LoggingSettings:
    level: str = _opt("INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    format: str = _opt("json", choices=("json", "console"))


@dataclass(frozen=True)
class CustomFieldSetting:
    name: str  # the QBO custom field name
    source: str  # a PO attribute (mapping.CUSTOM_FIELD_ATTRIBUTES) or a Luminous custom field
    definition_id: str


@dataclass(frozen=True)
class Settings:
    luminous: LuminousSettings = LuminousSettings()
    qbo: QBOSettings = QBOSettings()
    state: StateSettings = StateSettings()
    sync: SyncSettings = SyncSettings()
    accounts: AccountsSettings = AccountsSettings()
    daemon: DaemonSettings = DaemonSettings()
    logging: LoggingSettings = LoggingSettings()
    fields: tuple[tuple[str, str | None], ...] = DEFAULT_FIELDS  # (QBO field, source or None)
    custom_fields: tuple[CustomFieldSetting, ...] = ()

    @property
    def poll_interval(self) -> timedelta:
        return self.sync.poll_interval

    def mapping_rules(self) -> MappingRules:
        a = self.accounts
        return MappingRules(
            fields=tuple((name, source) for name, source in self.fields if source is not None),
            doc_number_index=self.sync.doc_number_index,
            doc_number_too_long=self.sync.doc_number_too_long,
            on_cancel=self.sync.on_cancel,
            item_kind=ItemKind(self.sync.item_type),
            home_currency=self.qbo.home_currency,
            ap_account=a.ap or None,
            shipping_account=a.shipping,
            tax_account=a.tax,
            discount_account=a.discount,
            other_costs_account=a.other_costs,
            custom_fields=tuple((c.name, c.source) for c in self.custom_fields),
        )

    def plan_policy(self) -> PlanPolicy:
        s = self.sync
        return PlanPolicy(
            on_delete=s.on_delete,
            closed_never_synced=s.closed_never_synced,
            require_approval=s.require_approval,
            max_attempts=s.max_attempts,
            backoff_base=s.backoff_base,
            backoff_cap=s.backoff_cap,
        )

    def item_account_names(self) -> dict[str, str | None]:
        """Account names a new item needs, by role (expense, income, asset)."""
        inventory = self.sync.item_type == ItemKind.INVENTORY.value
        return {
            "expense": self.accounts.expense,
            "income": self.accounts.income or None,
            "asset": (self.accounts.inventory_asset or None) if inventory else None,
        }

    def custom_field_ids(self) -> dict[str, str]:
        """QBO custom field name -> DefinitionId."""
        return {c.name: c.definition_id for c in self.custom_fields}


SECTIONS: dict[str, type] = {
    "luminous": LuminousSettings,
    "qbo": QBOSettings,
    "state": StateSettings,
    "sync": SyncSettings,
    "accounts": AccountsSettings,
    "daemon": DaemonSettings,
    "logging": LoggingSettings,
}
ALL_SECTIONS = (*SECTIONS, "fields", "custom_fields")


# --- coercion ----------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


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
    return timedelta(seconds=seconds)


def _coerce(kind: str, value: object, from_env: bool) -> object:
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if from_env and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {value!r}")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_env and isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        raise ValueError(f"expected a whole number, got {value!r}")
    if kind == "duration":
        return parse_duration(value)
    if kind in ("str", "secret"):
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool) and kind == "str":
            return str(value)  # realm_id = 9130355 written without quotes
        raise ValueError(f"expected a string, got {value!r}")
    raise AssertionError(kind)


def _kind(tp: object) -> str:
    text = str(tp)
    if "Secret" in text:
        return "secret"
    if tp is bool:
        return "bool"
    if tp is int:
        return "int"
    if tp is timedelta:
        return "duration"
    return "str"


def _is_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word.lower(), [o.lower() for o in options], n=1, cutoff=0.5)
    if not close:
        return ""
    original = next(o for o in options if o.lower() == close[0])
    return f" (did you mean {original!r}?)"


# --- loading -----------------------------------------------------------------------------------

_TOML, _CREDENTIAL, _ENV = 0, 1, 2


@dataclass
class _Value:
    value: object
    where: str
    rank: int
    from_env: bool = False
    is_file: bool = False


class _Loader:
    def __init__(self, env: Mapping[str, str], credentials_dir: str | None, require_secrets: bool):
        self.env = env
        self.credentials_dir = credentials_dir
        self.require_secrets = require_secrets
        self.problems: list[str] = []
        self.raw: dict[str, dict[str, list[_Value]]] = {s: {} for s in ALL_SECTIONS}

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def add(self, section: str, key: str, value: _Value) -> None:
        self.raw[section].setdefault(key, []).append(value)

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
            if section not in ALL_SECTIONS:
                hint = _did_you_mean(section, ALL_SECTIONS)
                self.problem(f"{path}: unknown section [{section}]{hint}")
                continue
            if not isinstance(table, dict):
                self.problem(f"{path}: {section} must be a table ([{section}])")
                continue
            for key, value in table.items():
                self.add(section, key, _Value(value, f"{path}: {section}.{key}", _TOML))

    def read_env(self) -> None:
        for name in sorted(self.env):
            if not name.startswith(ENV_PREFIX) or "__" not in name:
                continue  # RECONCILER_CONFIG and friends belong to the command line
            section, _, key = name[len(ENV_PREFIX) :].partition("__")
            section = section.lower()
            if section not in ALL_SECTIONS:
                hint = _did_you_mean(section, ALL_SECTIONS)
                self.problem(f"{name}: unknown section {section!r}{hint}")
                continue
            if section != "custom_fields":
                key = key.lower()
            self.add(section, key, _Value(self.env[name], name, _ENV, from_env=True))

    # sections

    def section(self, name: str, cls: type) -> Any:
        hints = get_type_hints(cls)
        known = {f.name: f for f in dataclasses.fields(cls)}
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
            hint = _did_you_mean(key, list(known))
            self.problem(f"{given[key][-1].where}: unknown key {name}.{key}{hint}")
        kwargs: dict[str, Any] = {}
        reported: set[str] = set()
        for key, spec in known.items():
            kind = _kind(hints[key])
            if kind == "secret":
                value = self.secret(name, key, spec)
                if value is not None:
                    kwargs[key] = value
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
            kwargs[key] = value
        for key, spec in known.items():
            required = spec.metadata.get("required") and _kind(hints[key]) != "secret"
            # Commands that never talk to the APIs (`status`, `retry`) need only state.path.
            required = required and key not in reported and self.require_secrets
            if required and not str(kwargs.get(key, spec.default)).strip():
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
        found: list[_Value] = [
            *given.get(key, []),
            *(dataclasses.replace(v, is_file=True) for v in given.get(key + "_file", [])),
        ]
        credential_name = f"{section}_{key}"
        if self.credentials_dir:
            path = Path(self.credentials_dir) / credential_name
            if path.is_file():
                found.append(
                    _Value(str(path), f"credential {credential_name}", _CREDENTIAL, True, True)
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

    def fields(self) -> tuple[tuple[str, str | None], ...]:
        chosen: dict[str, str | None] = dict(DEFAULT_FIELDS)
        by_lower = {name.lower(): name for name in FIELD_SOURCES}
        for key, values in self.raw["fields"].items():
            entry = max(values, key=lambda v: v.rank)
            qbo_field = by_lower.get(key.lower())
            if qbo_field is None:
                hint = _did_you_mean(key, list(FIELD_SOURCES))
                self.problem(f"{entry.where}: unknown QBO field {key!r}{hint}")
                continue
            value = entry.value
            if (
                entry.from_env
                and isinstance(value, str)
                and value.strip().lower() in _TRUE | _FALSE
            ):
                value = value.strip().lower() in _TRUE
            if value is False:
                chosen[qbo_field] = None
            elif value is True:
                chosen[qbo_field] = dict(DEFAULT_FIELDS)[qbo_field]
            elif isinstance(value, str) and value in FIELD_SOURCES[qbo_field]:
                chosen[qbo_field] = value
            else:
                options = ", ".join(sorted(FIELD_SOURCES[qbo_field]))
                self.problem(
                    f"{entry.where}: {qbo_field} takes false or a source ({options}); got {value!r}"
                )
        return tuple(chosen.items())

    def custom_fields(self) -> tuple[CustomFieldSetting, ...]:
        result = []
        for position, (name, values) in enumerate(self.raw["custom_fields"].items(), start=1):
            entry = max(values, key=lambda v: v.rank)
            value = entry.value
            source, definition_id = None, str(position)
            if isinstance(value, str):
                source = value
            elif isinstance(value, dict):
                source = value.get("source")
                definition_id = str(value.get("definition_id", definition_id))
                extra = set(value) - {"source", "definition_id"}
                if extra:
                    self.problem(f"{entry.where}: unknown key(s) {', '.join(sorted(extra))}")
            if not isinstance(source, str) or not source.strip() or not name.strip():
                self.problem(
                    f"{entry.where}: a custom field needs a name and a source, e.g. "
                    f'"Sales Rep" = "rep"; got {value!r}'
                )
                continue
            result.append(CustomFieldSetting(name.strip(), source.strip(), definition_id))
        if len(result) > MAX_CUSTOM_FIELDS:
            self.problem(
                f"custom_fields: QBO has at most {MAX_CUSTOM_FIELDS} purchase-form custom fields; "
                f"{len(result)} are configured"
            )
        return tuple(result)


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
    if settings.sync.item_type == "Inventory" and not settings.accounts.inventory_asset:
        problems.append("accounts.inventory_asset is required when sync.item_type = Inventory")
    for key in ("expense", "shipping", "tax", "discount", "other_costs"):
        if not getattr(settings.accounts, key).strip():
            problems.append(f"accounts.{key} must name a QBO account")
    return dataclasses.replace(
        settings,
        qbo=dataclasses.replace(
            qbo, environment=environment, base_url=base_url.rstrip("/"), home_currency=currency
        ),
    )


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
    sections = {name: loader.section(name, cls) for name, cls in SECTIONS.items()}
    settings = Settings(**sections, fields=loader.fields(), custom_fields=loader.custom_fields())
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
