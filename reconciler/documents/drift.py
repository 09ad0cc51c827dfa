"""Pure: what someone else did in QBO to a document the sync wrote (drift).

Each write the sync makes leaves a snapshot of the document as QBO answered it: its SyncToken
and the fields the configuration syncs (`synced_fields`; no extra read). A drift check asks
QBO's change data capture (CDC) what changed since the last check, and `assess`es each changed
document the ledger owns against its snapshot:

- the same SyncToken, or an older one (we wrote since), is our own write: nothing at all;
- a newer one whose synced fields all match (a field we do not sync changed): the cached
  SyncToken is refreshed, so the next update does not fail with 5010; nothing is reported;
- a newer one whose synced fields differ is drift, each field named ours -> QBO's (by
  `qbo.compare`, the comparer adoption and dry runs use), amounts as Decimal;
- `status: Deleted` for a document the sync did not delete is drift too;
- POStatus Closed, or a Bill in LinkedTxn, is how a PO ends its life in QBO: recorded as billed
  or closed, never as an error, never undone.

`settle` says what the ledger row becomes under the policy: `report` keeps QBO's version;
`restore` marks the row (no content hash, a retry requested) so the next pass's retries plan
an update (or, for a deleted document, a create) through the normal write pipeline.

A kind of document takes part by its row in `ENTITIES`: vendor credits and payments are one
line each (a BillPayment voided or deleted in QBO by someone else is drift like any edit).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.documents.po.mapping import MappingRules
from reconciler.model import DocKind, Drift, LedgerEntry, Lifecycle, Outcome, SyncStatus
from reconciler.qbo import compare
from reconciler.qbo.cdc import instant as _instant
from reconciler.redact import scrub

POLICIES = ("report", "restore")
REPORTED = (Drift.EDITED, Drift.DELETED)  # what goes to the pass report and the alert
DELETED_CODE = "deleted_in_qbo"
WORDS = {  # how a person reads each state: status table, status page
    Drift.EDITED: "changed in QBO",
    Drift.DELETED: "deleted in QBO",
    Drift.BILLED: "billed in QBO",
    Drift.CLOSED: "closed in QBO",
}
_NUMERIC = ("Amount", "Qty", "UnitPrice", "TotalAmt")


def _po_closure(held: Mapping[str, Any]) -> tuple[Drift, str] | None:
    """A PO billed (bills linked: QBO closes it once every line is billed) or closed."""
    links = held.get("LinkedTxn") if isinstance(held.get("LinkedTxn"), list) else []
    bills = [str(link.get("TxnId")) for link in links if link.get("TxnType") == "Bill"]
    closed = held.get("POStatus") == "Closed"
    if bills:
        how = "closed by" if closed else "billed in part by"
        return Drift.BILLED, f"{how} bill {', '.join(bills)} in QBO"
    return (Drift.CLOSED, "closed in QBO") if closed else None


@dataclass(frozen=True)
class DriftEntity:
    """How one kind of document is checked: its QBO entity, the fields every body of it
    names, whether `[fields]` adds more, and how QBO shows it ended (billed, closed)."""

    entity: str
    always: tuple[str, ...]
    field_map: bool = False
    closure: Callable[[Mapping[str, Any]], tuple[Drift, str] | None] | None = None


ENTITIES: dict[DocKind, DriftEntity] = {
    DocKind.PURCHASE_ORDER: DriftEntity(
        "PurchaseOrder",
        ("VendorRef", "Line", "POStatus", "DocNumber", "APAccountRef", "TotalAmt"),
        field_map=True,
        closure=_po_closure,
    ),
    DocKind.VENDOR_CREDIT: DriftEntity(
        "VendorCredit", ("VendorRef", "Line", "DocNumber", "APAccountRef", "TotalAmt")
    ),
    DocKind.PAYMENT: DriftEntity("BillPayment", ("VendorRef", "Line", "DocNumber", "TotalAmt")),
}
KIND_OF_ENTITY = {spec.entity: kind for kind, spec in ENTITIES.items()}


def synced_fields(kind: DocKind, rules: MappingRules) -> tuple[str, ...]:
    """The QBO fields the configuration writes for this kind: what a snapshot keeps."""
    spec = ENTITIES[kind]
    names = list(spec.always)
    if spec.field_map:
        names += [name for name, _ in rules.fields]
        if rules.custom_fields:
            names.append("CustomField")
    return tuple(dict.fromkeys(names))


def snapshot_fields(rules: MappingRules) -> dict[DocKind, tuple[str, ...]]:
    return {kind: synced_fields(kind, rules) for kind in ENTITIES}


# --- what we last wrote ------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDiff:
    """One synced field that differs: what the sync last wrote, and what QBO holds now."""

    field: str
    ours: str | Decimal
    theirs: str | Decimal

    def __str__(self) -> str:
        return f"{self.field}: {_shown(self.ours)} -> {_shown(self.theirs)}"

    def as_list(self) -> list[str]:
        return [self.field, str(self.ours), str(self.theirs)]


def field_diff(name: str, ours: str, theirs: str) -> FieldDiff:
    """Amounts, quantities and prices as Decimals; everything else as QBO's text."""
    if name.endswith(_NUMERIC):
        return FieldDiff(name, _decimal(ours), _decimal(theirs))
    return FieldDiff(name, ours, theirs)


@dataclass(frozen=True)
class Snapshot:
    """A document as QBO answered our last write of it, and what drift checks saw since."""

    qbo_id: str
    sync_token: str | None
    fields: Mapping[str, Any] | None  # None: not known (deleted, or written before drift)
    updated_at: datetime | None = None  # QBO's MetaData.LastUpdatedTime of that write
    state: Drift | None = None  # billed or closed, as that answer showed it
    note: str = ""
    deleted: bool = False
    seen_token: str | None = None  # the newest SyncToken a check saw
    diffs: tuple[FieldDiff, ...] = ()  # the differences last reported


def snapshot(kind: DocKind, answer: Mapping[str, Any], fields: Sequence[str]) -> Snapshot | None:
    """The snapshot of QBO's answer to our write: every synced field (absent ones as None, so
    a value added in QBO later shows), lines cut to what `compare` reads."""
    if answer.get("Id") is None:
        return None
    qbo_id = str(answer["Id"])
    if answer.get("status") == "Deleted":
        return Snapshot(qbo_id, None, None, deleted=True)
    kept = {name: answer.get(name) for name in fields}
    if isinstance(kept.get("Line"), list):
        kept["Line"] = [_line(line) for line in kept["Line"] if _keeps(line)]
    closure = ENTITIES[kind].closure
    ended = closure(answer) if closure else None
    return Snapshot(
        qbo_id,
        str(answer.get("SyncToken")) if answer.get("SyncToken") is not None else None,
        kept,
        _instant((answer.get("MetaData") or {}).get("LastUpdatedTime")),
        ended[0] if ended else None,
        ended[1] if ended else "",
    )


def stored_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Fields as a snapshot keeps them: JSON values (Decimals as text), redacted. QBO's copy is
    put in the same form before it is compared, so neither shows as a difference."""
    return json.loads(scrub(json.dumps(fields, default=str, ensure_ascii=False)))


def held_form(kind: DocKind, held: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """A CDC object ready for `assess`: its synced fields in stored form, the rest as QBO
    sent it (SyncToken, status, LinkedTxn)."""
    view = snapshot(kind, held, fields)
    if view is None or view.fields is None:
        return dict(held)
    return {**held, **stored_form(view.fields)}


def _keeps(line: Any) -> bool:
    return isinstance(line, Mapping) and line.get("DetailType") != "SubTotalLineDetail"


def _line(line: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: line[k] for k in ("DetailType", "Amount", "Description") if k in line}
    kind = line.get("DetailType")
    detail = line.get(kind) if isinstance(kind, str) else None
    if isinstance(detail, Mapping):
        kept[kind] = {k: detail[k] for k in compare.LINE_DETAIL_FIELDS if k in detail}
    return kept


# --- one changed document -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sighting:
    """A document we own, changed in QBO by someone else since we last looked."""

    token: str | None  # QBO's SyncToken now; None once deleted
    change: Drift | None  # None: only fields we do not sync changed
    diffs: tuple[FieldDiff, ...] = ()
    note: str = ""
    ended: bool = False  # billed or closed in QBO: never restored


def assess(
    kind: DocKind, entry: LedgerEntry, snap: Snapshot | None, held: Mapping[str, Any]
) -> Sighting | None:
    """What QBO's current `held` (a CDC object) says happened; None when it is our own write
    or a version already seen."""
    if not is_news(entry, snap, held):
        return None
    if held.get("status") == "Deleted":
        return Sighting(None, Drift.DELETED, note="deleted in QBO by someone else")
    token = str(held.get("SyncToken") or "")
    closure = ENTITIES[kind].closure
    ended = closure(held) if closure else None
    if snap is None or snap.fields is None:
        if ended:
            return Sighting(token, ended[0], note=ended[1], ended=True)
        note = "changed in QBO; which fields is not known (last written before drift checks)"
        return Sighting(token, Drift.EDITED, note=note)
    found = [field_diff(d.field, d.ours, d.theirs) for d in compare.differences(snap.fields, held)]
    if ended:
        found = [d for d in found if d.field != "POStatus"]
    if found:
        return Sighting(token, Drift.EDITED, tuple(found), *((ended[1], True) if ended else ()))
    if ended:
        return Sighting(token, ended[0], note=ended[1], ended=True)
    return Sighting(token, None)


def is_news(entry: LedgerEntry, snap: Snapshot | None, held: Mapping[str, Any]) -> bool:
    """Whether a CDC object (raw or held form) can tell `assess` anything: only its status and
    SyncToken are read, so a check passes over its own writes before `held_form`'s work."""
    if entry.status is SyncStatus.PENDING:
        return False  # a write of ours is out: its answer decides
    if entry.lifecycle is Lifecycle.DELETED:
        return False  # we deleted it, or a check already recorded it
    if held.get("status") == "Deleted":
        return True
    # News is a version newer than the ones assessed (our snapshot's, what checks saw since),
    # and not older than the ledger's token. The ledger's token alone does not make a version
    # assessed: a bill linked to a PO moves it on past a version nobody compared, perhaps
    # someone else's edit (issue 32 case 9).
    token = str(held.get("SyncToken") or "")
    assessed = [t for t in ((snap.sync_token, snap.seen_token) if snap else ()) if t]
    if not assessed and entry.sync_token:
        assessed = [entry.sync_token]
    ledger = str(entry.sync_token or "")
    stale = ledger.isdigit() and token.isdigit() and int(ledger) > int(token)
    return _newer(token, assessed) and not stale


def _newer(token: str, known: Sequence[str]) -> bool:
    """SyncTokens count up; a token that is not a number is new unless already known."""
    if not known:
        return True
    if token.isdigit() and all(t.isdigit() for t in known):
        return int(token) > max(int(t) for t in known)
    return token not in known


# --- what it does to the ledger row -------------------------------------------------------------


@dataclass(frozen=True)
class DriftFinding:
    """One document someone else changed in QBO: what the pass report, the log, the status
    views and the alert carry."""

    kind: DocKind
    doc_id: int
    number: str | None
    qbo_id: str | None
    change: Drift
    diffs: tuple[FieldDiff, ...]
    policy: str
    restoring: bool  # the next pass writes the sync's version back
    note: str = ""
    sync_token: str | None = None

    @property
    def reported(self) -> bool:
        """Edits and deletions are drift; billed and closed are a PO's normal end."""
        return self.change in REPORTED

    def summary(self) -> str:
        if self.change is Drift.DELETED:
            what = "deleted in QBO by someone else"
        elif self.change is Drift.EDITED:
            fields = "; ".join(str(d) for d in self.diffs)
            what = "changed in QBO by someone else" + (f": {fields}" if fields else "")
            what += f" ({self.note})" if self.note else ""
        else:
            return f"{self.note} (recorded; not an error)"
        if self.restoring:
            redo = "recreates it" if self.change is Drift.DELETED else "writes the sync's back"
            return f"{what}; the next pass {redo} (drift = restore)"
        if self.change is Drift.EDITED and self.policy == "restore":
            return f"{what}; not restored: it is billed or closed in QBO"
        return f"{what}; QBO's version kept (drift = report)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "doc_id": self.doc_id,
            "number": self.number,
            "qbo_id": self.qbo_id,
            "change": str(self.change),
            "fields": [d.as_list() for d in self.diffs],
            "policy": self.policy,
            "restoring": self.restoring,
            "note": self.note,
            "sync_token": self.sync_token,
        }


@dataclass(frozen=True)
class Settled:
    """The row after a sighting, the finding to report (None: nothing new), its history line."""

    entry: LedgerEntry
    finding: DriftFinding | None
    outcome: Outcome | None  # the history line; None for a quiet token refresh
    seen_token: str | None


def settle(entry: LedgerEntry, seen: Sighting, previous: Snapshot | None, policy: str) -> Settled:
    """What the ledger row becomes, under `policy` ("report" | "restore")."""
    token = seen.token if seen.token is not None else entry.sync_token
    row = replace(entry, sync_token=token)
    same = previous is not None and previous.diffs == seen.diffs and previous.note == seen.note
    if seen.change is None or (seen.change is entry.drift and same):
        resolved = entry.drift is not None and seen.change is None
        row = replace(row, drift=None if resolved else entry.drift)
        message = "QBO matches what the sync last wrote again" if resolved else None
        return Settled(row, None, _history(row, message), seen.token)
    restoring = policy == "restore" and seen.change in REPORTED and not seen.ended
    finding = DriftFinding(
        entry.kind,
        entry.doc_id,
        entry.number,
        entry.qbo_id,
        seen.change,
        seen.diffs,
        policy,
        restoring,
        seen.note,
        seen.token,
    )
    row = replace(row, drift=seen.change)
    if seen.change is Drift.DELETED:
        how = "`reconciler retry` recreates it" if not restoring else "recreated on the next pass"
        row = replace(
            row,
            status=SyncStatus.SKIPPED,
            lifecycle=Lifecycle.DELETED,
            last_error_code=DELETED_CODE,
            last_error_message=f"deleted in QBO by someone else; {how}",
            next_retry_at=None,
        )
    if restoring:
        row = replace(row, content_hash=None, force_retry=True)
    return Settled(row, finding, _history(row, finding.summary()), seen.token)


def _history(row: LedgerEntry, message: str | None) -> Outcome | None:
    if message is None:
        return None
    return Outcome(
        row.doc_id,
        row.status,
        "drift",
        number=row.number,
        qbo_id=row.qbo_id,
        message=message,
        kind=row.kind,
    )


# --- small pieces -------------------------------------------------------------------------------


def _decimal(text: str) -> str | Decimal:
    try:
        return Decimal(text) if text else text
    except InvalidOperation:
        return text


def _shown(value: str | Decimal) -> str:
    return str(value) if str(value) else "(empty)"
