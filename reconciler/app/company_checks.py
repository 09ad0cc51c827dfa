"""`reconciler doctor`'s company checks: what the QBO company is (country, edition, tracking),
whether the configuration fits it, and every configured class, location and tax code.

Each check is a (name, ok, detail, fix) tuple for `doctor.Check`. The names are looked up with
one `IN (...)` query per kind and nothing is changed in QBO (an inactive class is reported, not
made active). The profile read here refreshes the one the passes keep in the state file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from reconciler import errors
from reconciler.config.loader import Settings
from reconciler.documents import coding
from reconciler.qbo import query as q
from reconciler.qbo.company import CompanyProfile, profile_from
from reconciler.resolve.company import CompanyContext
from reconciler.resolve.named import CLASS, LOCATION, TAX_CODE, NamedKind, NamedRefResolver

CheckRow = tuple[str, bool, str, str]


def company_checks(
    settings: Settings, client: Any, store: Any, info: Mapping[str, Any], *, clock: Any
) -> Iterator[CheckRow]:
    """The company line, then one line per configured name (skipped when the first fails)."""
    try:
        prefs = next(iter(client.query(q.select("Preferences"))), {})
    except errors.ReconcilerError as exc:
        yield ("quickbooks company", False, str(exc), "run doctor again later")
        return
    profile = profile_from(info, prefs)
    CompanyContext(client, store, settings, clock=clock).remember(profile)
    rules = settings.coding_rules(profile)
    problems = coding.company_problems(rules, profile)
    yield ("quickbooks company", not problems, profile.describe(), "; ".join(problems))
    if problems:
        return
    wanted: list[tuple[NamedKind, str, tuple[str, ...]]] = [
        (CLASS, settings.classes.on_inactive, rules.classes.names() if rules.classes else ()),
        (
            LOCATION,
            settings.locations.on_inactive,
            rules.locations.names() if rules.locations else (),
        ),
        (TAX_CODE, "fail", rules.tax.names() if rules.tax else ()),
    ]
    for kind, on_inactive, names in wanted:
        if names:
            yield from _name_checks(client, store, settings, kind, on_inactive, names, profile)
    if rules.tax is None and settings.tax.rules().names():
        yield ("tax", True, f"[tax] is not used: {_tax_rule(profile)}", "")


def _name_checks(
    client: Any,
    store: Any,
    settings: Settings,
    kind: NamedKind,
    on_inactive: str,
    names: tuple[str, ...],
    profile: CompanyProfile,
) -> Iterator[CheckRow]:
    resolver = NamedRefResolver(client, store.refs, kind, realm_id=settings.qbo.realm_id)
    try:
        found = resolver.find(names)
    except errors.ReconcilerError as exc:
        yield (f"{kind.word}s", False, str(exc), "run doctor again later")
        return
    for name in names:
        row = found.get(name.casefold())
        problem = resolver.problem(name, row)
        label = f"{kind.word} {name!r}"
        if problem is None:
            yield (label, True, f"is {kind.entity} {row['Id']}", "")  # type: ignore[index]
        elif row is not None and not row.get("Active", True) and kind.writable:
            yield _inactive(label, kind, on_inactive, profile)
        else:
            if row is None:
                fix = f"create it in QuickBooks or change {kind.section}"
            elif row.get("Active", True):
                fix = f"map {kind.section} to a code with a purchase rate"
            else:
                fix = f"make it active in QuickBooks or change {kind.section}"
            yield (label, False, problem.removeprefix(f"{label} "), fix)


def _inactive(label: str, kind: NamedKind, on_inactive: str, profile: CompanyProfile) -> CheckRow:
    section = kind.section.strip("[]")
    if on_inactive == "reactivate":
        note = " (it counts against Plus's 40 classes and locations)"
        detail = "is inactive: the sync makes it active again" + (
            note if profile.edition == "Plus" else ""
        )
        return (label, True, detail, "")
    return (
        label,
        False,
        f"is inactive in QuickBooks ({section}.on_inactive = fail)",
        f"make it active in QuickBooks, or set {section}.on_inactive = reactivate",
    )


def _tax_rule(profile: CompanyProfile) -> str:
    if profile.is_us:
        return "a US company keeps the US rule (tax as a line on accounts.tax)"
    return "[fields] TaxCodeRef = false: purchases go out of scope of tax"
