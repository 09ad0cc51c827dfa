"""The runs table: one row per pass, with how it ended and its report."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from reconciler.redact import scrub
from reconciler.state.db import StateDB, iso


class Runs:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def start(self, run_id: str, started_at: datetime) -> None:
        with self._db.atomic():
            self._db.execute(
                "insert into runs (run_id, started_at) values (?, ?)", [run_id, iso(started_at)]
            )

    def finish(
        self, run_id: str, finished_at: datetime, outcome: str, report: dict[str, Any]
    ) -> None:
        with self._db.atomic():
            self._db.execute(
                "update runs set finished_at = ?, outcome = ?, report = ? where run_id = ?",
                [
                    iso(finished_at),
                    outcome,
                    scrub(json.dumps(report, default=str, sort_keys=True)),
                    run_id,
                ],
            )

    def last(self, limit: int = 5) -> list[dict[str, Any]]:
        return self._db.rows("select * from runs order by started_at desc limit ?", [limit])
