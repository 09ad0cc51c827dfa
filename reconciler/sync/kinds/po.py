"""Purchase orders: the first kind, read before the bills that pay for them.

Its hooks give the plan the company's mapping rules, and, when bills are on, learn the QBO
line Ids of an unchanged PO that never had them recorded (one read), so its bills can link.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler import errors
from reconciler.documents import actions
from reconciler.documents.plan import Decision
from reconciler.documents.po.mapping import MappingRules
from reconciler.documents.po.model import DesiredPO
from reconciler.documents.po.parse import parse_or_reject
from reconciler.documents.po.plan import POPlan
from reconciler.model import DocKind, LedgerEntry
from reconciler.sync.kinds.declaration import Kind, PassParts
from reconciler.write.po import POWriter

if TYPE_CHECKING:
    from reconciler.config.settings import Settings

PO = DocKind.PURCHASE_ORDER


class POHooks:
    """The `KindHooks` of purchase orders."""

    plan = POPlan()

    def __init__(self, parts: PassParts, writer: POWriter) -> None:
        self.policy = parts.settings.plan_policy()
        self._company = parts.company
        self._writer = writer
        self._event = parts.event
        self._bills_link = parts.settings.bills.from_ != "off"

    def context(self, record: Any) -> MappingRules:
        """The company's rules: its country decides the tax rule."""
        return self._company.rules()

    def decided(self, decision: Decision, doc_id: int, entry: LedgerEntry | None) -> None:
        """An unchanged PO that bills may link to: its QBO line Ids, learnt once."""
        if not self._bills_link or not isinstance(decision.action, actions.Noop):
            return
        if not isinstance(decision.desired, DesiredPO):
            return
        try:
            self._writer.learn_po_lines(decision.desired)
        except (errors.Retryable, errors.Parked, errors.BadInput) as exc:  # its bills wait
            self._event("po_lines_unknown", po_id=doc_id, reason=str(exc))

    def before(self) -> None:
        return None

    def after(self) -> None:
        return None


def build(parts: PassParts) -> tuple[POWriter, POHooks]:
    writer = POWriter(
        parts.qbo,
        parts.ledger,
        parts.refs,
        parts.lines,
        rules=parts.settings.mapping_rules(),
        first_connection=parts.first_connection(PO),
        company=parts.company,
        scratch=parts.scratch,
    )
    return writer, POHooks(parts, writer)


def parser(settings: Settings) -> Callable[[Any], Any]:
    """The PO parser, reading approval from the field `sync.approval_field` names."""
    field = settings.sync.approval_field.strip()
    return lambda raw: parse_or_reject(raw, approval_field=field)


PURCHASE_ORDERS = Kind(
    doc=PO,
    enabled=lambda settings: True,
    reader=lambda luminous, settings: luminous,
    parse=parse_or_reject,
    build=build,
    sweep_rereads=True,
    configure=parser,
)
