"""Settings: TOML + environment + secrets, every problem reported at once, secrets never shown."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import MINIMAL_ENV

from reconciler.config.loader import (
    QBO_BASE_URLS,
    VALUE_TYPES,
    Secret,
    Settings,
    demo_settings,
    load_settings,
    parse_duration,
    parse_money,
)
from reconciler.config.settings import free_form_sections, toml_key, typed_sections
from reconciler.documents.po.mapping import FIELD_SOURCES
from reconciler.errors import ConfigError
from reconciler.model import ItemKind

EXAMPLE = Path(__file__).resolve().parents[2] / "reconciler.example.toml"
MINIMAL = MINIMAL_ENV
SECRETS = {k: v for k, v in MINIMAL.items() if k.endswith(("API_TOKEN", "CLIENT_SECRET"))}


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "reconciler.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def problems_of(path, env, **kw) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env, **kw)
    return info.value.problems


# --- happy paths -------------------------------------------------------------------------------


def test_example_file_loads_with_secrets_from_env():
    """The shipped example is valid as is, given the secrets."""
    settings = load_settings(str(EXAMPLE), SECRETS)
    assert settings.qbo.base_url == QBO_BASE_URLS["production"]
    assert settings.luminous.api_token.reveal() == "lum-token-123"
    assert settings.sync.on_cancel == "close"
    assert settings.luminous.overlap == timedelta(minutes=5)


def test_example_file_documents_every_key():
    """Every section of the registry, typed or free-form, and every typed key appears in the
    example, so users can find it; the free-form [fields] names every QBO field it takes."""
    text = EXAMPLE.read_text(encoding="utf-8")
    settings = Settings()
    assert len(typed_sections()) >= 7 and set(free_form_sections()) >= {"fields", "custom_fields"}
    for section in typed_sections():
        assert f"[{section}]" in text
        for spec in dataclasses.fields(getattr(settings, section)):
            key = toml_key(spec)
            assert re.search(rf"^#?\s*{key}\b", text, re.M), f"{section}.{key} not in the example"
    for section in free_form_sections():
        assert f"[{section}]" in text, f"free-form section [{section}] not in the example"
    for qbo_field in FIELD_SOURCES:
        assert re.search(rf"^{qbo_field} = ", text, re.M), f"[fields] {qbo_field} not in it"


def test_money_settings_are_decimals_never_floats():
    """The value-type registry has money: a decimal string or a whole number, never a float."""
    assert parse_money("12.50") == Decimal("12.50") and parse_money(3) == Decimal(3)
    for bad in (12.5, "twelve", "NaN", True):
        with pytest.raises(ValueError):
            parse_money(bad)
    assert set(VALUE_TYPES) >= {"bool", "int", "str", "Decimal", "timedelta", "secret"}


def test_defaults_with_only_env():
    """No file: defaults plus the environment give a working configuration."""
    settings = load_settings(None, MINIMAL)
    assert settings.qbo.minorversion == 75
    assert settings.qbo.requests_per_minute == 500
    assert settings.qbo.max_concurrent == 10
    assert settings.luminous.per_page == 100
    assert settings.luminous.settle_lag == timedelta(seconds=30)
    assert settings.luminous.full_sweep_interval == timedelta(hours=24)
    assert settings.daemon.health_host == "127.0.0.1"
    assert settings.daemon.health_port == 8787
    assert settings.poll_interval == timedelta(seconds=60)
    assert settings.logging.format == "json"


def test_sandbox_environment_derives_base_url():
    """environment = sandbox points at Intuit's sandbox host."""
    env = {**MINIMAL, "RECONCILER_QBO__ENVIRONMENT": "Sandbox"}
    settings = load_settings(None, env)
    assert settings.qbo.environment == "sandbox"
    assert settings.qbo.base_url == "https://sandbox-quickbooks.api.intuit.com/v3/company"


def test_env_overrides_file_and_is_coerced(tmp_path):
    """RECONCILER_SECTION__KEY wins over the file and takes the default's type."""
    path = write(tmp_path, "[sync]\nrequire_approval = true\n[luminous]\nper_page = 20\n")
    env = {
        **MINIMAL,
        "RECONCILER_SYNC__REQUIRE_APPROVAL": "false",
        "RECONCILER_LUMINOUS__PER_PAGE": "50",
        "RECONCILER_LUMINOUS__OVERLAP": "1h30m",
        "RECONCILER_SYNC__ON_CANCEL": "DELETE",
        "RECONCILER_DAEMON__HEALTH_PORT": "9000",
    }
    settings = load_settings(path, env)
    assert settings.sync.require_approval is False
    assert settings.luminous.per_page == 50
    assert settings.luminous.overlap == timedelta(minutes=90)
    assert settings.sync.on_cancel == "delete"
    assert settings.daemon.health_port == 9000


def test_unrelated_env_is_ignored():
    """RECONCILER_CONFIG and other programs' variables are not settings."""
    env = {**MINIMAL, "RECONCILER_CONFIG": "/etc/x.toml", "HOME": "/root", "PATH": "/bin"}
    assert load_settings(None, env).qbo.realm_id == "9130355"


def test_realm_id_as_a_bare_number_is_accepted(tmp_path):
    """realm_id = 9130355 without quotes is read as the string it is."""
    env = {k: v for k, v in MINIMAL.items() if k != "RECONCILER_QBO__REALM_ID"}
    path = write(tmp_path, "[qbo]\nrealm_id = 9130355\n")
    assert load_settings(path, env).qbo.realm_id == "9130355"


# --- secrets -----------------------------------------------------------------------------------


def test_secret_never_prints():
    """repr, str and format of a Secret, and of Settings holding it, never show the value."""
    secret = Secret("hunter2")
    assert repr(secret) == "'***'" and str(secret) == "***" and f"{secret}" == "***"
    assert f"{secret:>20}" == "***"
    assert secret.reveal() == "hunter2"
    settings = load_settings(None, MINIMAL)
    text = repr(settings) + str(settings)
    assert "lum-token-123" not in text and "qbo-secret-456" not in text
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def test_secret_from_file_env(tmp_path):
    """*_FILE reads the secret from a file, trailing newline stripped."""
    token = tmp_path / "token"
    token.write_text("from-file\n", encoding="utf-8")
    env = {k: v for k, v in MINIMAL.items() if k != "RECONCILER_LUMINOUS__API_TOKEN"}
    env["RECONCILER_LUMINOUS__API_TOKEN_FILE"] = str(token)
    assert load_settings(None, env).luminous.api_token.reveal() == "from-file"


def test_secret_from_systemd_credentials(tmp_path):
    """$CREDENTIALS_DIRECTORY/<section>_<key> supplies secrets (systemd LoadCredential)."""
    (tmp_path / "luminous_api_token").write_text("cred-token", encoding="utf-8")
    (tmp_path / "qbo_client_secret").write_text("cred-secret", encoding="utf-8")
    env = {k: v for k, v in MINIMAL.items() if k not in SECRETS}
    settings = load_settings(None, {**env, "CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert settings.luminous.api_token.reveal() == "cred-token"
    assert settings.qbo.client_secret.reveal() == "cred-secret"
    explicit = load_settings(None, env, credentials_dir=str(tmp_path))
    assert explicit.qbo.client_secret.reveal() == "cred-secret"


def test_secret_precedence_env_then_credential_then_file(tmp_path):
    """The environment beats a credential, which beats the TOML file."""
    (tmp_path / "qbo_client_secret").write_text("cred", encoding="utf-8")
    path = write(tmp_path, '[qbo]\nclient_secret = "toml"\n')
    env = {k: v for k, v in MINIMAL.items() if k != "RECONCILER_QBO__CLIENT_SECRET"}
    assert load_settings(path, env).qbo.client_secret.reveal() == "toml"
    with_cred = load_settings(path, env, credentials_dir=str(tmp_path))
    assert with_cred.qbo.client_secret.reveal() == "cred"
    env["RECONCILER_QBO__CLIENT_SECRET"] = "env"
    assert (
        load_settings(path, env, credentials_dir=str(tmp_path)).qbo.client_secret.reveal() == "env"
    )


def test_secret_value_and_file_together_is_a_problem(tmp_path):
    """Setting both KEY and KEY_FILE in the same place is ambiguous."""
    env = {**MINIMAL, "RECONCILER_LUMINOUS__API_TOKEN_FILE": str(tmp_path / "t")}
    problems = problems_of(None, env)
    assert any("not both" in p for p in problems)


def test_missing_secrets_name_every_way_to_set_them():
    """A missing secret says which variable, file variable and credential would supply it."""
    env = {k: v for k, v in MINIMAL.items() if k not in SECRETS}
    problems = problems_of(None, env)
    assert len(problems) == 2
    assert "RECONCILER_LUMINOUS__API_TOKEN_FILE" in problems[0]
    assert "luminous_api_token" in problems[0]
    assert "qbo_client_secret" in problems[1]
    assert load_settings(None, env, require_secrets=False).luminous.api_token is None


def test_unreadable_secret_file_is_a_problem(tmp_path):
    """A *_FILE pointing nowhere is reported, not ignored."""
    env = {k: v for k, v in MINIMAL.items() if k != "RECONCILER_LUMINOUS__API_TOKEN"}
    env["RECONCILER_LUMINOUS__API_TOKEN_FILE"] = str(tmp_path / "nope")
    (problem,) = problems_of(None, env)
    assert "cannot read secret file" in problem


# --- problems ----------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once(tmp_path):
    """One ConfigError lists all problems: typos, types, enums, URLs, limits, minorversion."""
    path = write(
        tmp_path,
        """
[luminous]
base_url = "ftp://nowhere"
per_pag = 10
per_page = 1000
[qbo]
minorversion = 70
max_concurrent = "ten"
[sync]
on_cancel = "remove"
backoff_base = "soon"
[logging]
level = "LOUD"
[logs]
x = 1
""",
    )
    env = {k: v for k, v in MINIMAL.items() if k != "RECONCILER_LUMINOUS__BASE_URL"}
    env["RECONCILER_DAEMON__HEALTH_PORT"] = "eighty"
    problems = problems_of(path, env)
    text = "\n".join(problems)
    expected = [
        "http(s) URL",
        "did you mean 'per_page'",
        "at most 100",
        "below 75",
        "whole number",
        "must be one of close, delete; got 'remove'",
        "duration",
        "must be one of DEBUG",
        "unknown section [logs] (did you mean 'logging'?)",
        "RECONCILER_DAEMON__HEALTH_PORT",
    ]
    for fragment in expected:
        assert fragment in text, fragment
    assert len(problems) == len(expected)


def test_invalid_toml_reports_the_line(tmp_path):
    """A TOML syntax error names the file and the line."""
    path = write(tmp_path, '[qbo]\nrealm_id = "1"\nclient_id = \n')
    problems = problems_of(path, MINIMAL)
    assert any("invalid TOML" in p and "line 3" in p for p in problems)


def test_missing_file_is_a_problem(tmp_path):
    """A --config path that does not exist is reported."""
    (problem,) = problems_of(str(tmp_path / "absent.toml"), MINIMAL)
    assert "not found" in problem


def test_required_plain_values():
    """Without base_url, realm and client id, each is named."""
    problems = problems_of(None, SECRETS)
    assert len(problems) == 3
    assert any("RECONCILER_QBO__REALM_ID" in p for p in problems)


def test_discovery_url_environment_needs_a_base_url():
    """An emulator's discovery URL cannot imply the API base."""
    env = {**MINIMAL, "RECONCILER_QBO__ENVIRONMENT": "http://127.0.0.1:9/.well-known/x"}
    (problem,) = problems_of(None, env)
    assert "qbo.base_url is required" in problem
    env["RECONCILER_QBO__BASE_URL"] = "http://127.0.0.1:9/v3/company/"
    assert load_settings(None, env).qbo.base_url == "http://127.0.0.1:9/v3/company"


def test_unknown_env_section_and_key_suggest_a_fix():
    """Typos in environment names get a did-you-mean too."""
    env = {**MINIMAL, "RECONCILER_SYNCH__X": "1", "RECONCILER_SYNC__ON_CANCELL": "close"}
    problems = problems_of(None, env)
    assert any("did you mean 'sync'" in p for p in problems)
    assert any("did you mean 'on_cancel'" in p for p in problems)


def test_file_suffix_only_for_secrets():
    """KEY_FILE on a plain key is refused with a reason."""
    env = {**MINIMAL, "RECONCILER_QBO__REALM_ID_FILE": "/x"}
    (problem,) = problems_of(None, env)
    assert "only secrets" in problem


def test_bad_home_currency_and_backoff_order():
    """Cross-field checks: ISO currency, cap not below base."""
    env = {
        **MINIMAL,
        "RECONCILER_QBO__HOME_CURRENCY": "dollars",
        "RECONCILER_SYNC__BACKOFF_BASE": "2h",
    }
    problems = problems_of(None, env)
    assert len(problems) == 2


# --- fields and custom fields ------------------------------------------------------------------


def test_fields_can_be_turned_off_and_resourced(tmp_path):
    """[fields] switches fields off and picks sources; mapping rules follow."""
    path = write(tmp_path, '[fields]\nPrivateNote = false\nMemo = "private_note"\n')
    env = {**MINIMAL, "RECONCILER_FIELDS__DUEDATE": "false"}
    rules = load_settings(path, env).mapping_rules()
    assert rules.source_for("PrivateNote") is None
    assert rules.source_for("Memo") == "private_note"
    assert rules.source_for("DueDate") is None
    assert rules.source_for("DocNumber") == "order_numbers"


def test_unknown_field_or_source_is_a_problem(tmp_path):
    """A QBO field we do not know, or a source it cannot take, is a config problem."""
    path = write(tmp_path, '[fields]\nMemmo = "public_note"\nTxnDate = "due"\nShipAddr = 3\n')
    problems = problems_of(path, MINIMAL)
    assert len(problems) == 3
    assert "did you mean 'Memo'" in problems[0]
    assert "created_at, order_date" in problems[1]


def test_custom_fields(tmp_path):
    """Custom fields take a source and a DefinitionId (position by default); at most three."""
    path = write(
        tmp_path,
        '[custom_fields]\n"Luminous PO" = "id"\n'
        '"Sales Rep" = { source = "rep", definition_id = "3" }\n',
    )
    settings = load_settings(path, MINIMAL)
    assert settings.custom_field_ids() == {"Luminous PO": "1", "Sales Rep": "3"}
    assert settings.mapping_rules().custom_fields == (("Luminous PO", "id"), ("Sales Rep", "rep"))
    path = write(tmp_path, '[custom_fields]\na = "id"\nb = "id"\nc = "id"\nd = "id"\ne = 5\n')
    problems = problems_of(path, MINIMAL)
    assert len(problems) == 2
    assert any("at most 3" in p for p in problems)


# --- derived objects ---------------------------------------------------------------------------


def test_mapping_rules_and_plan_policy_follow_settings():
    """Settings feed the pure modules' rule objects."""
    env = {
        **MINIMAL,
        "RECONCILER_SYNC__ITEM_TYPE": "inventory",
        "RECONCILER_SYNC__DOC_NUMBER_TOO_LONG": "truncate",
        "RECONCILER_SYNC__ON_DELETE": "delete",
        "RECONCILER_SYNC__BACKOFF_CAP": "2h",
        "RECONCILER_ACCOUNTS__AP": "Accounts Payable (A/P)",
        "RECONCILER_ACCOUNTS__SHIPPING": "Freight",
        "RECONCILER_QBO__HOME_CURRENCY": "cad",
    }
    settings = load_settings(None, env)
    rules = settings.mapping_rules()
    assert rules.item_kind is ItemKind.INVENTORY
    assert rules.doc_number_too_long == "truncate"
    assert rules.ap_account == "Accounts Payable (A/P)"
    assert rules.shipping_account == "Freight"
    assert rules.home_currency == "CAD"
    policy = settings.plan_policy()
    assert policy.on_delete == "delete"
    assert policy.backoff_cap == timedelta(hours=2)
    assert settings.item_account_names() == {
        "expense": "Cost of Goods Sold",
        "income": "Sales of Product Income",
        "asset": "Inventory Asset",
    }


def test_demo_settings_point_at_the_emulators(tmp_path):
    """The embedded demo configuration is complete and uses the given URLs and paths."""
    settings = demo_settings(
        "http://127.0.0.1:5001/external/api/v1",
        "demo-token",
        "http://127.0.0.1:5002/v3/company",
        "4620816365",
        "http://127.0.0.1:5002/.well-known/openid_configuration/",
        str(tmp_path / "state.db"),
        str(tmp_path / "tokens.json"),
    )
    assert settings.qbo.base_url == "http://127.0.0.1:5002/v3/company"
    assert settings.qbo.environment.endswith("openid_configuration/")
    assert settings.luminous.api_token.reveal() == "demo-token"
    assert settings.luminous.settle_lag == timedelta(0)
    assert settings.state.path.endswith("state.db")
    assert "demo-token" not in repr(settings)


# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (60, 60),
        (1.5, 1.5),
        ("90", 90),
        ("90s", 90),
        ("5m", 300),
        ("1h30m", 5400),
        ("1d", 86400),
        ("250ms", 0.25),
        (" 2 h ", 7200),
    ],
)
def test_parse_duration(text, seconds):
    """Seconds or unit strings become timedeltas."""
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "-5", "m5", True, None, "1h-3m"])
def test_parse_duration_rejects(text):
    """Anything else is a ValueError with a hint."""
    with pytest.raises(ValueError):
        parse_duration(text)


@given(st.integers(0, 10_000), st.integers(0, 59), st.integers(0, 59))
def test_duration_units_add_up(hours, minutes, seconds):
    """h, m and s parts add up like a clock."""
    text = f"{hours}h{minutes}m{seconds}s"
    assert parse_duration(text) == timedelta(hours=hours, minutes=minutes, seconds=seconds)


def test_doc_number_cannot_be_turned_off(tmp_path):
    """DocNumber is how the sync finds its POs in QBO: `false` is refused, a source is fine."""
    path = write(tmp_path, "[fields]\nDocNumber = false\n")
    assert any("DocNumber cannot be turned off" in p for p in problems_of(path, MINIMAL))
    path = write(tmp_path, '[fields]\nDocNumber = "id"\n')
    assert load_settings(path, MINIMAL).mapping_rules().source_for("DocNumber") == "id"


# --- classes, locations, tax -------------------------------------------------------------------


def test_classes_locations_and_tax_load_into_the_coding_rules(tmp_path):
    """[classes], [locations] and [tax] become `coding` rules; tax applies outside the US only,
    and [fields] can turn each off."""
    from reconciler.qbo.company import CompanyProfile

    path = write(
        tmp_path,
        '[classes]\nsource = "warehouse"\ndefault = "General"\n'
        '[classes.map]\n"Main Warehouse" = "East"\n'
        '[locations]\nsource = "custom_field"\nfield = "Region"\n'
        '[tax]\ncodes = { "20" = "20.0% S" }\nzero_rate = "0.0% Z"\ncalculation = "taxinclusive"\n',
    )
    settings = load_settings(path, MINIMAL)
    uk = CompanyProfile(country="GB")
    rules = settings.mapping_rules(uk).line_coding
    assert rules.classes.table == (("Main Warehouse", "East"),)
    assert rules.classes.default == "General"
    assert rules.locations.source == "custom_field" and rules.locations.field == "Region"
    assert rules.tax.codes == (("20", "20.0% S"),) and rules.global_tax == "TaxInclusive"
    assert settings.mapping_rules().line_coding.tax is None  # no company known: the US rule
    off = {**MINIMAL, "RECONCILER_FIELDS__CLASSREF": "false", "RECONCILER_FIELDS__TAXCODEREF": "0"}
    rules = load_settings(path, off).mapping_rules(uk).line_coding
    assert rules.classes is None and rules.tax is None and rules.global_tax == "NotApplicable"


def test_classes_and_tax_problems_are_reported_together(tmp_path):
    path = write(
        tmp_path,
        '[classes]\nsource = "product_attribute"\nsource2 = 1\n'
        '[locations]\nsource = "product_attribute"\n'
        '[tax]\ncodes = { "twenty" = "20.0% S" }\ncalculation = "gross"\n',
    )
    problems = problems_of(path, MINIMAL)
    assert any("unknown key classes.source2" in p for p in problems)
    assert any("locations.source" in p and "must be one of" in p for p in problems)
    assert any("tax.calculation" in p and "TaxExcluded, TaxInclusive" in p for p in problems)
    assert any("classes.field must name the product attribute" in p for p in problems)
    assert any("'twenty' is not a rate" in p for p in problems)


def test_bills_are_off_by_default_and_from_is_read_from_file_and_environment(tmp_path):
    """`[bills] from` (a Python keyword, so the field is `from_`) from the file and from
    RECONCILER_BILLS__FROM; an unknown source is one problem naming the choices."""
    assert load_settings(None, MINIMAL).bills.from_ == "off"
    path = write(tmp_path, '[bills]\nfrom = "receipts"\nunpushed_po = "unlinked"\n')
    settings = load_settings(path, MINIMAL)
    assert (settings.bills.from_, settings.bills.unpushed_po) == ("receipts", "unlinked")
    assert (
        load_settings(path, {**MINIMAL, "RECONCILER_BILLS__FROM": "bills"}).bills.from_ == "bills"
    )
    problems = problems_of(write(tmp_path, '[bills]\nfrom = "invoices"\n'), MINIMAL)
    assert any("bills.from" in p and "off, bills, receipts" in p for p in problems), problems
