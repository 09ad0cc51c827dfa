"""What a document kind is to a pass: one declaration, the same shape for every kind.

A `Kind` names its Luminous list (`reader`) and parser, and builds, for one pass, its writer
and the hooks around the pure plan (`build`: its real differences: a bill's standings, a PO's
line Ids). The engine, the retries and the sweep work from the list of kinds (`sync.kinds`);
the QBO entity, the ledger's checkpoint name and how a person names one are the `DocKind`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.model import DocKind

if TYPE_CHECKING:
    from reconciler.config.settings import Settings
    from reconciler.resolve import References
    from reconciler.resolve.company import CompanyContext
    from reconciler.state import DocLines, Ledger
    from reconciler.state.scratch import PassScratch
    from reconciler.sync.documents import KindHooks
    from reconciler.write.writer import DocumentWriter


@dataclass(frozen=True)
class PassParts:
    """What one pass offers a kind to build its writer and hooks from."""

    settings: Settings
    qbo: Any  # QBOClient
    ledger: Ledger
    lines: DocLines
    refs: References
    company: CompanyContext
    scratch: PassScratch
    run_id: str
    clock: Callable[[], datetime]
    event: Callable[..., None]  # an info event of the pass's log, with its run id
    log: Any  # the pass's structured logger (warnings)
    stop_requested: Callable[[], bool]
    # QBO's current version of documents a write of ours moved past (a bill linked to a PO):
    # compared with our snapshot before the ledger takes the new SyncToken (`drift_check`)
    before_overwrite: Callable[[DocKind, Sequence[Any]], None] = lambda kind, held: None

    def first_connection(self, kind: DocKind) -> bool:
        """No document of this kind in the ledger (a new install, a lost state file): its
        writer indexes QBO's documents once instead of asking per group."""
        return self.ledger.count(kind=kind) == 0


@dataclass(frozen=True)
class Kind:
    """The declaration of one document kind."""

    doc: DocKind
    enabled: Callable[[Settings], bool]
    reader: Callable[[Any, Settings], Any]  # (LuminousClient, settings) -> its list's reader
    parse: Callable[[Any], Any]  # raw record -> its record, or a RejectedRecord
    build: Callable[[PassParts], tuple[DocumentWriter, KindHooks]]
    # The full sweep reads every document of this kind again (edits that did not move
    # `updated_at`); otherwise it only looks for the ones gone from Luminous.
    sweep_rereads: bool = False
    # The parser as the settings configure it (the field a PO's approval is read from);
    # None: `parse` as it is.
    configure: Callable[[Settings], Callable[[Any], Any]] | None = None

    def parser(self, settings: Settings) -> Callable[[Any], Any]:
        """raw record -> its record, or a RejectedRecord, with these settings."""
        return self.configure(settings) if self.configure is not None else self.parse
