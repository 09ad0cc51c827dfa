"""`reconciler status`'s filters, the status page's by the same names (kept apart from
`status_command`, which imports the state file's modules: building the parser imports none)."""

from __future__ import annotations

import argparse

from reconciler.model import DocKind

KINDS = tuple(str(kind) for kind in DocKind)  # every kind the sync declares


def add_filters(status: argparse.ArgumentParser) -> None:
    status.add_argument("--kind", choices=KINDS, help="one kind only")
    status.add_argument("--vendor", help="vendors whose name has these words (any case)")
    status.add_argument("--code", help="one error code's documents (e.g. po_not_pushed)")
    status.add_argument("--since", metavar="YYYY-MM-DD", help="recorded on or after this day")
    status.add_argument("--until", metavar="YYYY-MM-DD", help="recorded on or before this day")
    status.add_argument("--csv", action="store_true", help="every matching row as CSV")
