"""Creates of many missing references at once: vendors and items, 30 to a group.

A backlog's first POs need most of its vendors and items, none of them in QBO yet. Created one
request each they would take the request budget for tens of seconds (350 references at 10 a
second); 30 to a `/batch` they take a dozen requests (`qbo.groups` sends a group alone when
the batch budget is spent). Vendors and items share groups: neither depends on the other.
When QBO's batch budget will bind (the documents waiting for these references need more
groups than the budget's 40 a minute leaves), the part-filled last group goes alone: the
documents behind it need every batch slot (a slot carries 30 POs; the tail's k creates alone
cost k requests, fewer than the 29 that slot saves). The caller knows the backlog and says so
(`tail_alone`); a backlog's later windows find a few new references each, which go alone for
the same reason. A small backlog's part-filled group goes as one batch (one request).

Only references `prefetch` has just found missing are created here, under the same requestid
a single create would carry. A create QBO refuses as a duplicate name (6240: someone made it
meanwhile, or a customer holds the name) is handed back for the single path, which knows the
naming policies; any other refusal is left for the document's own resolve to meet and record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from reconciler import errors
from reconciler.documents.request_ids import batch_request_id
from reconciler.qbo.wire import MAX_BATCH_ITEMS, BatchOp

GROUPS_IN_FLIGHT = 4


@dataclass(frozen=True)
class RefCreate:
    """One reference to create: its QBO entity, body and requestid, and what asked for it."""

    entity: str  # "Vendor" | "Item"
    body: dict[str, Any]
    request_id: str
    subject: Any  # the DesiredVendor or DesiredItem


@dataclass(frozen=True)
class Created:
    create: RefCreate
    entity: dict[str, Any] | None  # None: refused (see `duplicate`) or no answer
    duplicate: bool = False  # 6240: the single path settles it by policy


def create_all(
    send_group: Callable[..., Any], creates: Sequence[RefCreate], *, tail_alone: bool = False
) -> list[Created]:
    """Every create, in groups of up to 30, up to four groups at once; one outcome each.
    `tail_alone`: a part-filled last group goes alone (the batch budget binds). A Fatal
    (authorization) is raised; anything else is an outcome."""
    size = MAX_BATCH_ITEMS
    groups = [list(creates[i : i + size]) for i in range(0, len(creates), size)]
    if not groups:
        return []
    tail_alone = tail_alone and len(groups[-1]) < size
    with ThreadPoolExecutor(min(GROUPS_IN_FLIGHT, len(groups)), thread_name_prefix="refs") as pool:
        answers = [
            pool.submit(_send, send_group, group, tail_alone and n == len(groups) - 1)
            for n, group in enumerate(groups)
        ]
        return [outcome for answer in answers for outcome in answer.result()]


def _send(send_group: Callable[..., Any], group: list[RefCreate], alone: bool) -> list[Created]:
    ops = [BatchOp(str(n), "create", c.entity, c.body) for n, c in enumerate(group, 1)]
    ids = [c.request_id for c in group]
    try:
        answer = send_group(
            ops,
            request_id=batch_request_id(ids),
            item_request_ids=ids,
            resend_unclear=True,  # names are unique in QBO: a repeat is 6240, never a second
            alone=alone,
        )
    except errors.Fatal:
        raise
    except errors.ReconcilerError:
        return [Created(c, None) for c in group]
    outcomes = []
    for create, result in zip(group, answer.results, strict=True):
        if result.fault is not None:
            if isinstance(result.fault, errors.Fatal):
                raise result.fault
            duplicate = isinstance(result.fault, errors.DuplicateNameFault)
            outcomes.append(Created(create, None, duplicate=duplicate))
        else:
            outcomes.append(Created(create, result.entity))
    return outcomes
