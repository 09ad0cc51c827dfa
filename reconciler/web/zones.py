"""The time zone the page and `reconciler status` show times in.

`[status_page] timezone` when set (an IANA name, "America/Chicago"); else the QBO company's
own (`CompanyInfo.DefaultTimeZone`, kept with the company's profile in the state file once a
pass has read it) when it names a zone this machine knows; else UTC. Times stay UTC inside;
only what is shown changes (the page shows UTC on hover).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

COMPANY_KEY = "qbo_company"  # `resolve.company.CACHE_KEY`: the profile kept in `meta`


def zone_named(name: str) -> tzinfo | None:
    """The zone of an IANA name, or None when the name (or this machine) has none."""
    if not name or name.upper() == "UTC":
        return UTC if name else None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def company_zone(meta: Callable[[str], str | None]) -> tzinfo | None:
    """The QBO company's zone from its kept profile (None: not known)."""
    try:
        record = json.loads(meta(COMPANY_KEY) or "")
        name = record["profile"].get("timezone")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return zone_named(name) if isinstance(name, str) else None


def display_zone(configured: str, meta: Callable[[str], str | None]) -> tzinfo:
    """The configured zone, else the company's, else UTC."""
    return zone_named(configured) or company_zone(meta) or UTC
