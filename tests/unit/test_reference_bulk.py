"""Missing references created 30 to a group (`resolve.bulk`): grouping, the tail, outcomes."""

from __future__ import annotations

import threading

import pytest

from reconciler import errors
from reconciler.qbo.wire import BatchItemResult, GroupAnswer
from reconciler.resolve.bulk import RefCreate, create_all


class FakeGroups:
    def __init__(self, faults=None, whole=None):
        self.calls = []
        self.faults = faults or {}
        self.whole = whole
        self.lock = threading.Lock()

    def __call__(self, ops, *, request_id, item_request_ids, resend_unclear, alone):
        with self.lock:
            self.calls.append(([op.body["DisplayName"] for op in ops], alone, item_request_ids))
        if self.whole is not None:
            raise self.whole
        return GroupAnswer(
            [
                BatchItemResult(op.bid, op.entity, fault=self.faults[op.body["DisplayName"]])
                if op.body["DisplayName"] in self.faults
                else BatchItemResult(op.bid, op.entity, entity={"Id": op.body["DisplayName"]})
                for op in ops
            ],
            as_batch=not alone,
        )


def creates(n):
    return [RefCreate("Vendor", {"DisplayName": f"V{i}"}, f"rid-{i}", f"V{i}") for i in range(n)]


def test_a_backlog_of_references_goes_in_full_groups_and_its_tail_alone():
    """The batch budget binds: the part-filled last group goes alone."""
    groups = FakeGroups()
    outcomes = create_all(groups, creates(65), tail_alone=True)
    calls = sorted(groups.calls, key=lambda c: c[2][0])
    assert [(len(names), alone) for names, alone, _ in calls] == [
        (30, False),
        (30, False),
        (5, True),
    ]
    assert calls[0][2] == [f"rid-{i}" for i in range(30)]  # each under a single's requestid
    assert [o.create.subject for o in outcomes] == [f"V{i}" for i in range(65)]
    assert all(o.entity == {"Id": o.create.subject} for o in outcomes)


def test_a_few_references_go_in_one_group():
    groups = FakeGroups()
    create_all(groups, creates(20))
    assert [(len(names), alone) for names, alone, _ in groups.calls] == [(20, False)]


def test_a_few_references_in_a_backlog_go_alone():
    """A later window of a large backlog: the POs behind these creates need every slot."""
    groups = FakeGroups()
    create_all(groups, creates(14), tail_alone=True)
    assert [(len(names), alone) for names, alone, _ in groups.calls] == [(14, True)]


def test_a_small_backlog_sends_its_part_filled_group_as_a_batch():
    """The budget does not bind: 35 creates are two batches, not a batch and 5 requests."""
    groups = FakeGroups()
    create_all(groups, creates(35))
    assert sorted((len(n), alone) for n, alone, _ in groups.calls) == [(5, False), (30, False)]


def test_a_duplicate_name_is_handed_back_and_other_refusals_are_left():
    groups = FakeGroups(
        faults={
            "V1": errors.DuplicateNameFault("Duplicate Name Exists Error", code="6240"),
            "V2": errors.QBOParkedFault("Business Validation Error", code="6000"),
        }
    )
    outcomes = {o.create.subject: o for o in create_all(groups, creates(3))}
    assert outcomes["V0"].entity is not None
    assert outcomes["V1"].entity is None and outcomes["V1"].duplicate
    assert outcomes["V2"].entity is None and not outcomes["V2"].duplicate


def test_a_group_without_an_answer_leaves_its_references_and_a_fatal_stops():
    lost = create_all(FakeGroups(whole=errors.UnclearOutcome("no answer")), creates(3))
    assert [o.entity for o in lost] == [None, None, None]
    with pytest.raises(errors.Fatal):
        create_all(
            FakeGroups(whole=errors.QBOFatalFault("AuthenticationFailed", code="3200")), creates(3)
        )
