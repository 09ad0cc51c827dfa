"""The lists one pass reads, in the order of `sync.kinds.KINDS`: POs, then (by `[bills]
from`) bills or receiving reports.

A `Source` is what the engine's read, retry and sweep phases need of one enabled kind: its
declaration, the Luminous client that reads its list by key (`pull.ChangeSource`), its writer,
and the `DocumentSync` that takes each record. Every kind goes through the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from reconciler.model import DocKind
from reconciler.sync.documents import DocumentSync
from reconciler.sync.kinds import Kind, PassParts
from reconciler.sync.recorder import Recorder
from reconciler.write.writer import DocumentWriter


@dataclass
class Source:
    """One list of documents for a pass."""

    declared: Kind
    client: Any  # pull.ChangeSource: the LuminousClient, or one of its DocumentReaders
    writer: DocumentWriter
    sync: DocumentSync
    parser: Callable[[Any], Any] | None = None  # the kind's parser as the settings set it

    @property
    def kind(self) -> DocKind:
        return self.declared.doc

    @property
    def checkpoint(self) -> str:
        return self.kind.checkpoint

    def parse(self, raw: Any) -> Any:
        return (self.parser or self.declared.parse)(raw)

    def before(self) -> None:
        self.sync.hooks.before()

    def after(self) -> None:
        self.sync.hooks.after()


def open_sources(
    kinds: Iterable[Kind], parts: PassParts, luminous: Any, recorder: Recorder
) -> list[Source]:
    """A source for each kind the settings turn on, in the order given."""
    sources = []
    for kind in kinds:
        if not kind.enabled(parts.settings):
            continue
        writer, hooks = kind.build(parts)
        sync = DocumentSync(
            kind.doc,
            hooks,
            parts.ledger,
            recorder,
            realm_id=parts.settings.qbo.realm_id,
            clock=parts.clock,
            on_event=parts.event,
        )
        reader = kind.reader(luminous, parts.settings)
        sources.append(Source(kind, reader, writer, sync, kind.parser(parts.settings)))
    return sources
