"""How one write settles: the single request, its resends, the rows it ends in.

`WriteSender` sends one `Write` alone (through its kind's `DocumentWriter`) and keeps
going until it settles: a vanished reference (610/2500) is resolved afresh and sent once more,
a stale SyncToken (5010) is re-read and sent up to `STALE_RETRIES` more times, always under a
new requestid (QBO would replay the first answer to the old one). The version re-read after a
5010 is someone else's write: `on_stale` (the drift check) compares it with our snapshot before
ours goes over it, so their edit is reported, never masked. What each answer means comes
from `outcomes.fate_of`; the rows it ends in come from the `outcomes` builders.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from reconciler import errors
from reconciler.crashpoints import crash_point
from reconciler.documents import identity, outcomes, plan, request_ids
from reconciler.documents.outcomes import Fate, Record, fate_of
from reconciler.model import DocKey, DocKind, LedgerEntry
from reconciler.write.writer import DocumentWriter, Write

STALE_RETRIES = 3


class Recorder(Protocol):
    """Where the pipeline writes the ledger (the engine adds the checkpoint and the report)."""

    def begin(
        self,
        entries: Sequence[LedgerEntry],
        verbs: Sequence[str],
        *,
        bodies: Sequence[Mapping[str, Any] | None] = (),
    ) -> list[LedgerEntry]: ...
    def record(self, records: Sequence[Record]) -> None: ...


@dataclass
class GroupSettled:
    """How one group's answer settles its writes: recorded now, sent again alone (a reference
    to resolve again, a SyncToken to read again), or a fatal fault that stops the pass."""

    settled: list[Record]
    again: list[tuple[Write, LedgerEntry, str, BaseException]]
    fatal: BaseException | None = None


class WriteSender:
    """Sends single writes until they settle, and builds the rows they end in."""

    def __init__(
        self,
        writers: Mapping[DocKind, DocumentWriter],
        *,
        policy: plan.PlanPolicy,
        clock: Callable[[], datetime],
        rng: random.Random,
        on_stale: Callable[[DocKind, Mapping[str, Any]], None] = lambda kind, current: None,
    ) -> None:
        self._writers = writers
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._on_stale = on_stale

    def writer(self, write: Write) -> DocumentWriter:
        return self._writers[write.kind]

    def attempt(
        self,
        write: Write,
        begun: LedgerEntry,
        payload: dict[str, Any] | None,
        request_id: str,
        error: BaseException | None = None,
    ) -> Record:
        """Send (unless `error` says how the first send ended) until the write settles; the
        body is built here when none is given."""
        writer = self.writer(write)
        refs_left, stale_left = 1, STALE_RETRIES
        while True:
            if error is None:
                try:
                    if payload is None and write.desired is not None:
                        payload = writer.payload(write.desired)
                    entity, tid = writer.send(write, begun, payload, request_id)
                except Exception as exc:
                    error = exc
                else:
                    crash_point("qbo_answered")
                    return self.synced(write, begun, entity, request_id, tid)
            fate = fate_of(error, is_update=write.is_update)
            if fate is Fate.FATAL:
                raise error
            try:
                if fate is Fate.RESEND_REFS and refs_left and write.desired is not None:
                    refs_left -= 1
                    writer.forget_refs(write.desired)
                    request_id = request_ids.derive_request_id(request_id, "refs")
                    payload, error = writer.payload(write.desired), None
                    continue
                if fate is Fate.RESEND_STALE and stale_left:
                    stale_left -= 1
                    current = writer.current(begun)
                    self._on_stale(write.kind, current)
                    token = str(current["SyncToken"])
                    begun = replace(begun, sync_token=token)
                    request_id = request_ids.derive_request_id(request_id, "stale", token)
                    error = None
                    continue
            except Exception as exc:
                error = exc
                continue
            return self.after_error(fate, write, begun, error)

    def identify(
        self, ready: list[tuple[Write, LedgerEntry, dict[str, Any]]]
    ) -> tuple[list[tuple[Write, LedgerEntry, dict[str, Any]]], list[Record]]:
        """QBO decides whether each create exists (`identity`): creates stay creates, a match
        is adopted (an update when it differs, else recorded at once), a conflict fails. One
        look-up for the whole group. Returns what still goes to QBO, and what settled here."""
        creates = [(w, payload) for w, _, payload in ready if w.is_create]
        if not creates:
            return ready, []
        by_kind: dict[DocKind, list[tuple[Write, dict[str, Any]]]] = {}
        for create in creates:  # a retry phase may mix POs and bills in one group
            by_kind.setdefault(create[0].kind, []).append(create)
        found: dict[DocKey, identity.Identity] = {}
        for kind, group in by_kind.items():
            answers = self._writers[kind].identify(group)
            found.update((w.key, a) for (w, _), a in zip(group, answers, strict=True))
        to_send, settled = [], []
        for write, pending, payload in ready:
            if not write.is_create:
                to_send.append((write, pending, payload))
                continue
            answer = found[write.key]
            if isinstance(answer, identity.Conflict):
                error = errors.DuplicateDocNumberFault(answer.reason, code="6140")
                settled.append(self.after_error(Fate.PARK, write, pending, error))
            elif isinstance(answer, identity.Adopt):
                adopting = replace(write, adopting=answer.entity)
                begun = self.pending(adopting)
                if self.writer(write).differs(payload, answer.entity):
                    to_send.append((adopting, begun, payload))
                else:
                    rid = begun.request_id
                    settled.append(
                        self.synced(adopting, begun, answer.entity, rid, None, sent=False)
                    )
            else:
                to_send.append((write, pending, payload))
        return to_send, settled

    def settle_group(
        self,
        writes: Sequence[Write],
        begun: Sequence[LedgerEntry],
        wire_ids: Sequence[str],
        results: Sequence[Any],
    ) -> GroupSettled:
        """Each item of a group's answer as the single path would take it."""
        group = GroupSettled([], [])
        for write, row, wire_id, result in zip(writes, begun, wire_ids, results, strict=True):
            fate = fate_of(result.fault, is_update=write.is_update)
            if fate is Fate.SYNCED:
                tid = result.intuit_tid
                group.settled.append(self.synced(write, row, result.entity, wire_id, tid))
            elif fate is Fate.FATAL:
                group.fatal = group.fatal or result.fault  # it stays pending for the next pass
            elif fate in (Fate.RESEND_REFS, Fate.RESEND_STALE):
                group.again.append((write, row, wire_id, result.fault))
            else:
                group.settled.append(self.after_error(fate, write, row, result.fault))
        return group

    def pending(self, write: Write) -> LedgerEntry:
        request_id = write.action.request_id
        row = outcomes.pending(
            write.base, write.content_hash, write.updated_at, request_id, write.number
        )
        if write.adopting is None:
            return row
        qbo_id, token = str(write.adopting.get("Id")), str(write.adopting.get("SyncToken"))
        adopt_id = request_ids.derive_request_id(request_id, "adopt", qbo_id, token)
        return replace(row, qbo_id=qbo_id, sync_token=token, request_id=adopt_id)

    def synced(
        self,
        write: Write,
        begun: LedgerEntry,
        entity: Mapping[str, Any] | None,
        request_id: str,
        tid: str | None,
        *,
        sent: bool = True,
    ) -> Record:
        writer = self.writer(write)
        problem = writer.confirmed(write, entity)
        record = outcomes.synced(
            begun,
            writer.lifecycle_after(write),
            entity,
            verb=write.verb,
            request_id=request_id,
            intuit_tid=tid,
            sent=sent,
        )
        if problem:
            record = outcomes.landed_wrong(record, problem)
        elif note := getattr(write.desired, "note", None):  # decided of an absent field
            record = replace(record, outcome=replace(record.outcome, message=note))
        if write.adopting is not None:
            record = replace(record, entry=replace(record.entry, adopted=True))
        return replace(record, started=write.started)

    def after_error(
        self, fate: Fate, write: Write, begun: LedgerEntry, error: BaseException
    ) -> Record:
        record = outcomes.after_error(
            fate,
            begun,
            write.verb,
            error,
            now=self._clock(),
            jitter=self._rng.random(),
            policy=self._policy,
        )
        return replace(record, started=write.started)

    def failed(self, write: Write, pending: LedgerEntry, error: BaseException) -> Record:
        """Building the body failed: nothing was sent."""
        fate = fate_of(error, is_update=write.is_update)
        if fate is Fate.FATAL:
            raise error
        return self.after_error(fate, write, pending, error)
