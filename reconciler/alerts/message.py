"""Pure: the one chat message a pass sends when documents newly fail or drift is found.

The shape is Slack's incoming-webhook message: `text` (what a notification shows, and all that
tools which take only `text` read, so it carries everything) and `blocks` (Slack's layout of the
same). Mattermost, Rocket.Chat and other Slack-compatible webhooks accept it.

- Counts first, then the first `max_listed` documents with their reasons.
- Text from Luminous or QBO (vendor names, reasons) is escaped for Slack's mrkdwn (`&`, `<`,
  `>`: a supplier named `<!channel>` must not ping a channel) and cut to a line's length.
- Nothing secret: every string goes through `redact.scrub` (registered secrets and secret
  shapes), the webhook URL itself included, since it is registered as a secret.

Drift findings (`PassReport.drift`, filled by the drift check when it runs): a list whose items
have `summary` (one line a person reads) and may have `kind`, `number` and `qbo_id`; anything
else is shown by its `str()`. Mappings with those keys work too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.redact import scrub

MAX_LINE = 200  # characters of one document's line
SLACK_SECTION_LIMIT = 3000


def escape(text: str) -> str:
    """Slack mrkdwn's three control characters (api.slack.com "Formatting text")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clean(value: Any, limit: int = MAX_LINE) -> str:
    """One line of text from a source or an error: secrets scrubbed, escaped, cut."""
    text = " ".join(str(scrub(str(value)) or "").split())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


_clean = clean


def headline_message(headline: str, lines: Sequence[str]) -> dict[str, Any]:
    """A message of a bold headline and a few lines (already cleaned), as `build` shapes it."""
    body = "\n".join(lines)
    text = "\n".join([f"*{headline}*", body]) if body else f"*{headline}*"
    blocks = [_section(f"*{headline}*")] + ([_section(body)] if body else [])
    return {"text": text, "blocks": blocks}


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def failure_line(line: Any) -> str:
    """One newly failed document (a `state.run_lines.RunLine`)."""
    kind = _field(line, "kind")
    label = getattr(kind, "label", None) or str(kind or "document")
    number = _field(line, "number") or f"Luminous id {_field(line, 'doc_id')}"
    vendor = _field(line, "vendor")
    code = _field(line, "error_code")
    reason = _field(line, "message") or "no reason recorded"
    head = f"{label} {number}" + (f" ({vendor})" if vendor else "")
    return _clean(f"{head}: " + (f"[{code}] " if code else "") + str(reason))


def drift_line(finding: Any) -> str:
    summary = _field(finding, "summary")
    if summary is None:
        return _clean(finding)
    kind = _field(finding, "kind")
    label = getattr(kind, "label", None) or (str(kind) if kind else "")
    number, qbo_id = _field(finding, "number"), _field(finding, "qbo_id")
    head = " ".join(str(p) for p in (label, number) if p)
    head += f" (QBO {qbo_id})" if qbo_id else ""
    return _clean(f"{head}: {summary}" if head else summary)


def build(
    *,
    failures: Sequence[Any],
    drift: Sequence[Any],
    realm_id: str,
    run_id: str,
    failed_in_ledger: int | None = None,
    max_listed: int = 5,
) -> dict[str, Any] | None:
    """The message, or None when there is nothing to say."""
    if not failures and not drift:
        return None
    counts = []
    if failures:
        counts.append(f"{len(failures)} document(s) newly failed")
    if drift:
        counts.append(f"{len(drift)} drift finding(s)")
    headline = f"reconciler, QBO company {_clean(realm_id, 40)}: " + " and ".join(counts)
    sections: list[str] = []
    if failures:
        sections.append(_listing("Newly failed", [failure_line(f) for f in failures], max_listed))
    if drift:
        sections.append(_listing("Drift", [drift_line(d) for d in drift], max_listed))
    footer = f"pass {_clean(run_id, 60)}"
    if failed_in_ledger is not None:
        footer += f"; {failed_in_ledger} failed in all: `reconciler status --failed`"
    text = "\n".join([f"*{headline}*", *sections, footer])
    blocks: list[dict[str, Any]] = [_section(f"*{headline}*")]
    blocks += [_section(s) for s in sections]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    return {"text": text, "blocks": blocks}


def _listing(title: str, lines: list[str], max_listed: int) -> str:
    shown = [f"• {line}" for line in lines[:max_listed]]
    if len(lines) > max_listed:
        shown.append(f"… and {len(lines) - max_listed} more")
    return f"*{title}*\n" + "\n".join(shown)


def _section(text: str) -> dict[str, Any]:
    if len(text) > SLACK_SECTION_LIMIT:
        text = text[: SLACK_SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
