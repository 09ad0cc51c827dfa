"""What `reconciler run --once --dry-run` prints: a listing for people, JSON for machines.

Both say the same: per document the action and why, the fields an update changes (old -> new),
the vendors and items that would be created, and totals. Everything printed goes through
`redact.scrub`.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.model import DocKind
from reconciler.preview.plan import ORDER, DocumentPlan, Preview
from reconciler.redact import scrub

_REASON_WIDTH = 400


def text(preview: Preview) -> str:
    lines = [
        f"Preview of the next pass for QBO company {preview.realm_id}: nothing was written "
        "(no QBO write, no change to the state file).",
    ]
    if preview.first_connection:
        lines.append(
            "First connection: the ledger is empty, so every document is looked up in QBO by "
            "number first; those found are adopted, not created again."
        )
    if preview.running_pid is not None:
        lines.append(
            f"Process {preview.running_pid} is running the sync on this state file now: what "
            "is listed may already be under way, or done, by it."
        )
    if preview.stopped:
        lines.append(f"The pass stopped early ({preview.outcome}): {preview.stopped}")
    lines += _references(preview)
    for kind in DocKind:
        docs = [d for d in preview.documents if d.kind is kind]
        if docs:
            lines += ["", f"{kind.plural} ({len(docs)}):"]
            lines += [line for d in _ordered(docs) for line in _document(d)]
    if not preview.documents:
        lines += ["", "No document needs anything from QBO."]
    lines += ["", "Totals: " + _totals(preview)]
    return scrub("\n".join(lines)) or ""


def as_json(preview: Preview) -> str:
    data: dict[str, Any] = {
        "dry_run": True,
        "run_id": preview.run_id,
        "realm_id": preview.realm_id,
        "first_connection": preview.first_connection,
        "outcome": preview.outcome,
        "stopped": preview.stopped,
        "running_pid": preview.running_pid,
        "documents": [_document_dict(d) for d in preview.documents],
        "references": [
            {
                "entity": r.entity,
                "operation": r.operation,
                "name": r.name,
                "qbo_id": r.qbo_id,
                "sku": r.sku,
            }
            for r in preview.references
        ],
        "totals": {
            **{a: preview.totals[a] for a in ORDER if preview.totals[a]},
            "unchanged": preview.unchanged,
        },
        "qbo_reads": preview.qbo_reads,
    }
    return scrub(json.dumps(data, indent=2, ensure_ascii=False)) or ""


def _document_dict(d: DocumentPlan) -> dict[str, Any]:
    return {
        "kind": str(d.kind),
        "doc_id": d.doc_id,
        "number": d.number,
        "vendor": d.vendor,
        "action": d.action,
        "qbo_id": d.qbo_id,
        "reason": d.reason,
        "error_code": d.error_code,
        "changes": [{"field": c.field, "old": c.theirs, "new": c.ours} for c in d.changes],
    }


def _references(preview: Preview) -> list[str]:
    lines: list[str] = []
    groups: dict[tuple[str, str], list[str]] = {}
    for r in preview.references:
        shown = r.name + (f" (SKU {r.sku})" if r.sku else "")
        shown += f" [QBO {r.qbo_id}]" if r.qbo_id else ""
        groups.setdefault((r.entity, r.operation), []).append(shown)
    for (entity, operation), names in groups.items():
        lines += ["", f"{entity}s to {operation} ({len(names)}):"]
        lines += [f"  {name}" for name in names]
    return lines


def _ordered(docs: list[DocumentPlan]) -> list[DocumentPlan]:
    rank = {a: i for i, a in enumerate(ORDER)}
    return sorted(docs, key=lambda d: rank.get(d.action, len(rank)))


def _document(d: DocumentPlan) -> list[str]:
    number = d.number or f"(Luminous id {d.doc_id})"
    vendor = f"  {d.vendor}" if d.vendor else ""
    if d.action == "create":
        detail = "new in QBO"
    elif d.qbo_id and d.action in ("adopt", "update", "close", "delete"):
        detail = f"QBO id {d.qbo_id}"
        if d.action == "adopt":
            detail += f", {len(d.changes)} field(s) to bring up to date" if d.changes else ", as is"
    else:
        reason = " ".join((d.reason or "").split())
        code = f"[{d.error_code}] " if d.error_code else ""
        detail = (code + reason)[:_REASON_WIDTH] or "-"
    out = [f"  {d.action:<10} {number}{vendor}: {detail}"]
    out += [f"      {c}" for c in d.changes]
    return out


def _totals(preview: Preview) -> str:
    parts = [f"{preview.totals[a]} {a}" for a in ORDER if preview.totals[a]]
    parts.append(f"{preview.unchanged} unchanged")
    return ", ".join(parts) + f"; {preview.qbo_reads} QBO read(s), 0 writes"
