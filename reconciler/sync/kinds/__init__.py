"""The document kinds a pass takes, in order: POs first, so a bill's PO is usually in QBO by
the time the bill is read. Each is one declaration (`declaration.Kind`)."""

from reconciler.sync.kinds.bill import BILLS, RECEIPTS
from reconciler.sync.kinds.credit import VENDOR_CREDITS
from reconciler.sync.kinds.declaration import Kind, PassParts
from reconciler.sync.kinds.payment import PAYMENTS
from reconciler.sync.kinds.po import PURCHASE_ORDERS

# Vendor credits and payments after the bills they are applied to or pay.
KINDS: tuple[Kind, ...] = (PURCHASE_ORDERS, BILLS, RECEIPTS, VENDOR_CREDITS, PAYMENTS)

__all__ = ["KINDS", "Kind", "PassParts"]
