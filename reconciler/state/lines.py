"""The QBO line Ids of the documents the sync wrote, and what it saw of their POs in QBO.

A PO's lines are learnt from QBO's answer to each PO write (no extra read): a bill line links
to a PO line by that line's Id, and a PO update sends every kept line with its Id (a line sent
without one is a new line to QBO, and a bill linked to the old one would block the update). A
bill's lines are kept the same way, so an edit keeps the lines (and links) QBO already has.

A cache of QBO like the rest of the file: lost, a PO's map comes back with its next write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from reconciler.documents.lines import QBOLine
from reconciler.model import DocKind
from reconciler.state.db import StateDB, instant, iso

_LINE_COLUMNS = (
    "kind",
    "doc_id",
    "line_key",
    "qbo_line_id",
    "detail_type",
    "target_id",
    "qty",
    "unit_price",
    "amount",
    "linked_txn_id",
    "linked_line_id",
    "class_id",
    "tax_code_id",
)


def _line(row: dict[str, Any]) -> QBOLine:
    return QBOLine(
        key=row["line_key"],
        qbo_line_id=row["qbo_line_id"],
        detail_type=row["detail_type"],
        target_id=row["target_id"],
        qty=_dec(row["qty"]),
        unit_price=_dec(row["unit_price"]),
        amount=_dec(row["amount"]),
        linked_txn_id=row["linked_txn_id"],
        linked_line_id=row["linked_line_id"],
        class_id=row["class_id"],
        tax_code_id=row["tax_code_id"],
    )


def _header_facts(entity: Mapping[str, Any] | None) -> dict[str, Any]:
    if entity is None:
        return {}
    ref = entity.get("DepartmentRef")
    department = ref.get("value") if isinstance(ref, Mapping) else None
    calculation = entity.get("GlobalTaxCalculation")
    return {
        "department_id": str(department) if department is not None else None,
        "tax_calculation": str(calculation) if calculation else None,
    }


def _dec(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class DocLines:
    """`doc_lines` (one row per line of a document in QBO) and `doc_facts` (per document: its
    QBO vendor, the POStatus last seen, when QBO was seen closing it)."""

    def __init__(self, db: StateDB) -> None:
        self._db = db
        # doc key -> (lines, vendor id, header) learnt from answers, not yet written
        self._staged: dict[tuple[DocKind, int], tuple[tuple[QBOLine, ...], str | None, Any]] = {}

    # --- lines --------------------------------------------------------------------------

    def record(
        self,
        kind: DocKind,
        doc_id: int,
        lines: Sequence[QBOLine],
        *,
        vendor_id: str | None,
        header: Mapping[str, Any] | None = None,
    ) -> None:
        """What QBO answered for this document's lines, in place of what was known; `header`:
        the answer itself, whose location and tax calculation the PO's bills take."""
        with self._db.atomic():
            self._write_all({(kind, doc_id): (tuple(lines), vendor_id, header)})

    def stage(
        self,
        kind: DocKind,
        doc_id: int,
        lines: Sequence[QBOLine],
        *,
        vendor_id: str | None,
        header: Mapping[str, Any] | None = None,
    ) -> None:
        """As `record`, but written with the next outcomes the ledger commits
        (`write_staged`): a commit of its own per document was a quarter of a backfill's CPU
        (the state file syncs every commit to disk)."""
        self._staged[(kind, doc_id)] = (tuple(lines), vendor_id, header)

    def flush(self) -> None:
        """The staged lines in a transaction of their own (what QBO answered stays true even
        when its outcome was not recorded)."""
        if self._staged:
            with self._db.atomic():
                self.write_staged()

    def write_staged(self) -> None:
        """The staged lines, inside the caller's transaction: three statements for them all
        (a pass's outcomes come thirty at a time)."""
        staged, self._staged = self._staged, {}
        if staged:
            self._write_all(staged)

    def _write_all(
        self, docs: Mapping[tuple[DocKind, int], tuple[Sequence[QBOLine], str | None, Any]]
    ) -> None:
        keys: list[list[Any]] = []
        line_rows: list[list[Any]] = []
        facts: dict[tuple[str, ...], list[list[Any]]] = {}  # (rows by the columns they set)
        for (kind, doc_id), (lines, vendor_id, header) in docs.items():
            key = [str(kind), doc_id]
            keys.append(key)
            line_rows.extend(_line_row(key, line) for line in lines)
            values = {"vendor_id": vendor_id, **_header_facts(header)}
            facts.setdefault(tuple(values), []).append([*key, *values.values()])
        self._db.executemany("delete from doc_lines where kind = ? and doc_id = ?", keys)
        self._db.executemany(_INSERT_LINE, line_rows)
        for names, rows in facts.items():
            self._db.executemany(_fact_sql(names), rows)

    def forget(self, kind: DocKind, doc_id: int) -> None:
        """The document is gone from QBO: its lines with it."""
        self._staged.pop((kind, doc_id), None)
        with self._db.atomic():
            self._db.execute(
                "delete from doc_lines where kind = ? and doc_id = ?", [str(kind), doc_id]
            )

    def of(self, kind: DocKind, doc_id: int) -> dict[str, QBOLine]:
        if (kind, doc_id) in self._staged:
            return {line.key: line for line in self._staged[(kind, doc_id)][0]}
        rows = self._db.rows(
            "select * from doc_lines where kind = ? and doc_id = ?", [str(kind), doc_id]
        )
        return {row["line_key"]: _line(row) for row in rows}

    def po_of_line(self, po_line_id: int) -> int | None:
        """The Luminous PO a Luminous PO line belongs to, when that PO's lines are known."""
        rows = self._db.rows(
            "select doc_id from doc_lines where kind = ? and line_key = ? limit 1",
            [str(DocKind.PURCHASE_ORDER), f"item:{int(po_line_id)}"],
        )
        return rows[0]["doc_id"] if rows else None

    # --- facts --------------------------------------------------------------------------

    def vendor_of(self, kind: DocKind, doc_id: int) -> str | None:
        fact = self.fact(kind, doc_id)
        return fact["vendor_id"] if fact else None

    def fact(self, kind: DocKind, doc_id: int) -> dict[str, Any] | None:
        rows = self._db.rows(
            "select * from doc_facts where kind = ? and doc_id = ?", [str(kind), doc_id]
        )
        if not rows:
            return None
        row = dict(rows[0])
        row["closed_seen_at"] = instant(row["closed_seen_at"])
        return row

    def note_status(
        self, kind: DocKind, doc_id: int, status: str | None, *, at: datetime
    ) -> str | None:
        """Record the POStatus QBO shows now; answers the one recorded before (None: never)."""
        before = self.fact(kind, doc_id)
        previous = before["qbo_status"] if before else None
        closed_at = before["closed_seen_at"] if before else None
        if status == "Closed" and previous != "Closed":
            closed_at = at
        elif status != "Closed":
            closed_at = None
        with self._db.atomic():
            self._upsert_fact(kind, doc_id, qbo_status=status, closed_seen_at=closed_at)
        return previous

    def wait_for(self, kind: DocKind, doc_id: int, po_ids: Iterable[int]) -> None:
        """This bill waits for these POs, or this payment for these bills (none: it waits
        for nothing any more)."""
        ids = sorted(set(po_ids))
        text = "," + ",".join(str(i) for i in ids) + "," if ids else None
        with self._db.atomic():
            self._db.execute(
                "insert into doc_facts (kind, doc_id, waits_for) values (?, ?, ?)"
                " on conflict(kind, doc_id) do update set waits_for = excluded.waits_for",
                [str(kind), doc_id, text],
            )

    def woken(self, kind: DocKind, on: DocKind = DocKind.PURCHASE_ORDER) -> list[int]:
        """Documents that wait for a document of kind `on` (a bill for its PO, a payment for
        its bill) whose ledger row was written after theirs: what made them wait may have
        changed. One query, however many wait."""
        rows = self._db.rows(
            "select f.doc_id from doc_facts f join ledger b"
            " on b.kind = f.kind and b.doc_id = f.doc_id"
            " where f.kind = ? and f.waits_for is not null and exists ("
            " select 1 from ledger p where p.kind = ?"
            " and instr(f.waits_for, ',' || p.doc_id || ',') > 0"
            " and p.recorded_at > b.recorded_at) order by f.doc_id",
            [str(kind), str(on)],
        )
        return [row["doc_id"] for row in rows]

    def _upsert_fact(self, kind: DocKind, doc_id: int, **values: Any) -> None:
        if "closed_seen_at" in values:
            values["closed_seen_at"] = iso(values["closed_seen_at"])
        self._db.execute(_fact_sql(tuple(values)), [str(kind), doc_id, *values.values()])


_INSERT_LINE = (
    f"insert or replace into doc_lines ({', '.join(_LINE_COLUMNS)})"  # noqa: S608
    f" values ({', '.join('?' * len(_LINE_COLUMNS))})"
)


def _line_row(key: list[Any], line: QBOLine) -> list[Any]:
    return [
        *key,
        line.key,
        line.qbo_line_id,
        line.detail_type,
        line.target_id,
        _text(line.qty),
        _text(line.unit_price),
        _text(line.amount),
        line.linked_txn_id,
        line.linked_line_id,
        line.class_id,
        line.tax_code_id,
    ]


def _fact_sql(names: Sequence[str]) -> str:
    """Upsert these `doc_facts` columns; a vendor already known is kept over a None."""
    return (
        f"insert into doc_facts (kind, doc_id, {', '.join(names)})"  # noqa: S608
        f" values (?, ?, {', '.join('?' * len(names))})"
        " on conflict(kind, doc_id) do update set "
        + ", ".join(
            f"{n} = coalesce(excluded.{n}, doc_facts.{n})"
            if n == "vendor_id"
            else f"{n} = excluded.{n}"
            for n in names
        )
    )
