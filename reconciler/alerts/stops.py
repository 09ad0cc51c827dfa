"""Pure: when syncing stops, say so once, with the cause and the fix; say so when it resumes.

Two tracks, each an `Episode` at most (kept in the state file between passes and restarts,
so a daemon stopped by a fatal error announces its recovery after the restart):

- `sync`: passes that did not finish. A crashed pass or a fatal stop is announced at once; an
  interrupted one (aborted: Luminous unreachable, a 429 storm, no token; or held, waiting out
  a service's `Retry-After`) once `threshold` passes in a row did not finish. The first pass
  that finishes afterwards announces that syncing resumed, with how long it was stopped.
- `tokens`: a rotated QuickBooks token pair that could not be saved (it lives in memory only
  until it is): announced at once, and again when it has been saved.

A new kind of trouble in the same track (interrupted, then fatal) is announced on its own.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from reconciler.alerts.message import clean, headline_message

SYNC, TOKENS = "sync", "tokens"
ANNOUNCED_AT_ONCE = frozenset({"crashed", "fatal", "tokens"})
TITLES = {
    "interrupted": "syncing is interrupted",
    "crashed": "a pass crashed",
    "fatal": "syncing has stopped",
    "tokens": "new QuickBooks tokens could not be saved",
}


@dataclass(frozen=True)
class Trouble:
    """What kept a pass (or the token store) from doing its job."""

    kind: str  # interrupted, crashed, fatal, tokens
    reason: str
    fix: str


@dataclass(frozen=True)
class Episode:
    kind: str
    reason: str
    fix: str
    since: str  # ISO time of the first pass in trouble
    passes: int
    announced: bool


def step(
    episode: Episode | None, trouble: Trouble | None, *, now: datetime, threshold: int
) -> tuple[Episode | None, str | None]:
    """The track's next episode, and what to announce now: "stop", "resumed" or None."""
    if trouble is None:
        return None, ("resumed" if episode is not None and episode.announced else None)
    if episode is None or episode.kind != trouble.kind:
        since = episode.since if episode is not None else now.isoformat()
        episode = Episode(trouble.kind, trouble.reason, trouble.fix, since, 1, False)
    else:
        episode = replace(
            episode, reason=trouble.reason, fix=trouble.fix, passes=episode.passes + 1
        )
    due = episode.kind in ANNOUNCED_AT_ONCE or episode.passes >= threshold
    if due and not episode.announced:
        return replace(episode, announced=True), "stop"
    return episode, None


def stop_message(episode: Episode, *, realm_id: str, track: str) -> dict[str, Any]:
    title = TITLES.get(episode.kind, episode.kind)
    detail = [
        f"*Cause:* {clean(episode.reason, 600)}",
        f"*Fix:* {clean(episode.fix, 400)}",
    ]
    if episode.kind == "interrupted":
        detail.append(f"{episode.passes} pass(es) in a row did not finish, since {episode.since}")
    if track == TOKENS:
        detail.append(
            "The new tokens are held in memory and saved before every pass until it works: "
            "do not stop the daemon before this clears, or `reconciler auth connect` is needed."
        )
    return headline_message(f"reconciler, QBO company {clean(realm_id, 40)}: {title}", detail)


def resumed_message(
    episode: Episode, *, realm_id: str, track: str, now: datetime
) -> dict[str, Any]:
    if track == TOKENS:
        title, detail = "the QuickBooks tokens are saved", [f"(they were not: {episode.reason})"]
    else:
        stopped = _since(episode.since, now)
        title = "syncing has resumed"
        detail = [f"after {stopped} without a finished pass; the cause was: {episode.reason}"]
    detail = [clean(line, 700) for line in detail]
    return headline_message(f"reconciler, QBO company {clean(realm_id, 40)}: {title}", detail)


def _since(since: str, now: datetime) -> str:
    try:
        seconds = int((now - datetime.fromisoformat(since)).total_seconds())
    except ValueError:
        return "a while"
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}h {rest // 60}m" if hours else f"{rest // 60}m {rest % 60}s"


def dumps(episodes: dict[str, Episode]) -> str:
    return json.dumps({track: asdict(e) for track, e in episodes.items()})


def loads(raw: str | None) -> dict[str, Episode]:
    try:
        data = json.loads(raw) if raw else {}
        return {track: Episode(**fields) for track, fields in data.items()}
    except (TypeError, ValueError):
        return {}  # a damaged record: start afresh (at worst one "resumed" is not said)
