"""The QBO company a pass writes to (`qbo.company.CompanyProfile`), read at the start of the
pass and kept in the state file; and the mapping rules that follow from it.

Reads cost money (qbo-api.md "Limits"), so the profile costs two reads (CompanyInfo and
Preferences) at most once per `REFRESH`, not per pass: it is kept in `meta` as `qbo_company`
with the time it was read. A profile that cannot be refreshed (QBO unreachable) is used as it
is, stale; with none at all the pass cannot know the tax rule and stops like any transient
failure. A cached profile that refuses the configuration (classes configured, the company had
none) is read again before the pass is stopped: the company may have been upgraded since.
`reconciler doctor` always reads it afresh.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from reconciler import errors
from reconciler.documents import coding
from reconciler.documents.po.mapping import MappingRules
from reconciler.qbo import query as q
from reconciler.qbo.company import CompanyProfile, profile_from

if TYPE_CHECKING:
    from reconciler.config.loader import Settings

CACHE_KEY = "qbo_company"
REFRESH = timedelta(hours=24)


def read_profile(client: Any, realm_id: str) -> tuple[CompanyProfile, dict[str, Any]]:
    """The profile from QBO (two reads) and the CompanyInfo it came with."""
    info = client.read("CompanyInfo", realm_id).entity or {}
    prefs = next(iter(client.query(q.select("Preferences"))), {})
    return profile_from(info, prefs), info


class CompanyContext:
    """The profile of this pass's company, and its mapping rules."""

    def __init__(
        self,
        client: Any,
        store: Any,
        settings: Settings,
        *,
        clock: Callable[[], datetime],
        on_event: Callable[..., None] | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._settings = settings
        self._clock = clock
        self._event = on_event or (lambda *a, **k: None)
        self.profile: CompanyProfile | None = None
        self._rules: MappingRules | None = None
        self._loading: Future[CompanyProfile] | None = None

    def load(self, *, fresh: bool = False) -> CompanyProfile:
        """The profile, from the state file while it is recent, else from QBO; ConfigError when
        the configuration asks what this company cannot do."""
        cached, read_at = self._cached()
        recent = read_at is not None and self._clock() - read_at < REFRESH
        if cached is not None and recent and not fresh:
            profile, from_cache = cached, True
        else:
            profile, from_cache = self._refresh(cached), False
        problems = coding.company_problems(self._settings.coding_rules(profile), profile)
        if problems and from_cache:
            return self.load(fresh=True)
        if problems:
            raise errors.ConfigError(problems)
        self.profile = profile
        self._rules = self._settings.mapping_rules(profile)
        return profile

    def load_meanwhile(self) -> None:
        """`load` on a thread of its own (the pass asks Luminous meanwhile); `loaded` waits
        for it and raises what it raised."""
        pool = ThreadPoolExecutor(1, thread_name_prefix="company")
        self._loading = pool.submit(self.load)
        pool.shutdown(wait=False)

    def loaded(self) -> None:
        """Wait for `load_meanwhile` and raise what it raised (from any thread, as often as
        asked: a writer's warm-up waits for it too)."""
        if self._loading is not None:
            self._loading.result()

    def rules(self) -> MappingRules:
        """The mapping rules for this company; only once `load` has told which it is."""
        if self._rules is None:
            raise RuntimeError("the QBO company is not known yet: call load() first")
        return self._rules

    def _refresh(self, cached: CompanyProfile | None) -> CompanyProfile:
        try:
            profile, _ = read_profile(self._client, self._settings.qbo.realm_id)
        except errors.Retryable as exc:
            if cached is None:
                raise
            self._event("qbo_company_stale", reason=str(exc))
            return cached
        self.remember(profile)
        return profile

    def remember(self, profile: CompanyProfile) -> None:
        record = {
            "realm_id": self._settings.qbo.realm_id,
            "read_at": self._clock().isoformat(),
            "profile": json.loads(profile.as_json()),
        }
        self._store.set_meta(CACHE_KEY, json.dumps(record, sort_keys=True))
        self._event("qbo_company_read", company=profile.describe())

    def _cached(self) -> tuple[CompanyProfile | None, datetime | None]:
        try:
            record = json.loads(self._store.get_meta(CACHE_KEY) or "")
            if record.get("realm_id") != self._settings.qbo.realm_id:
                return None, None
            if "multicurrency" not in record["profile"]:
                return None, None  # kept before currencies were read: read it again
            profile = CompanyProfile.from_json(json.dumps(record["profile"]))
            read_at = datetime.fromisoformat(record["read_at"])
            return profile, read_at if read_at.tzinfo is not None else None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None, None
