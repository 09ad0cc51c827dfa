"""Every documented `order_status` is a state with a configured effect, never a failure.

Source: ../shared/luminous-api.md, "Purchase orders": "the reference's filter list names
"active", "inactive" and "deleted"; the update example sets "completed". Every one of these is
a real state: map each by configuration (inactive and deleted are not errors; a synced PO that
becomes inactive or deleted must follow in QBO); a value never seen is a per-PO "unknown
status" outcome, never a crash". (Luminous's reference: docs.joinluminous.com, GET
/purchase-orders, PUT /purchase-orders/{id}.)
"""

from __future__ import annotations

import pytest
from po_samples import make_po
from support import MINIMAL_ENV, policy
from support import rules as make_rules

from reconciler.config.loader import Settings, load_settings
from reconciler.documents.actions import Close, Delete, Hold, Update
from reconciler.documents.plan import decide
from reconciler.documents.po.mapping import desired_po
from reconciler.documents.po.model import SourceStatus
from reconciler.documents.po.parse import parse_or_reject, parse_po
from reconciler.documents.po.plan import POPlan
from reconciler.errors import ConfigError
from reconciler.model import LedgerEntry, Lifecycle, RejectedRecord, SyncStatus

DOCUMENTED = ("active", "inactive", "deleted", "completed")


def raw(**changes):
    record = {
        "id": 7,
        "order_numbers": ["PO-7"],
        "order_status": "active",
        "supplier": {"id": 1, "name": "Nutricost"},
        "items": [{"id": 1, "quantity": 1, "unit_price": 2, "product": {"id": 1, "name": "W"}}],
        "created_at": "2023-11-07T05:31:56Z",
        "updated_at": "2023-11-07T05:31:56Z",
    }
    record.update(changes)
    return record


@pytest.mark.parametrize("word", [*DOCUMENTED, "Inactive", " DELETED "])
def test_every_documented_status_is_read(word):
    """The four documented words (any case, spaces trimmed) are states the parser knows."""
    assert parse_po(raw(order_status=word)).status == SourceStatus(word.strip().lower())


@pytest.mark.parametrize("word", ["archived", "on_hold", "void"])
def test_an_undocumented_status_stays_a_per_po_unknown_status(word):
    """A value never seen fails that PO alone, with the value in the reason."""
    out = parse_or_reject(raw(order_status=word))
    assert isinstance(out, RejectedRecord)
    assert out.doc_id == 7 and out.reason == f"unknown status {word!r}"


@pytest.mark.parametrize(
    ("status", "setting", "choice", "lifecycle"),
    [
        (SourceStatus.INACTIVE, "on_inactive", "close", Lifecycle.CLOSED),
        (SourceStatus.INACTIVE, "on_inactive", "delete", Lifecycle.DELETED),
        (SourceStatus.DELETED, "on_deleted", "close", Lifecycle.CLOSED),
        (SourceStatus.DELETED, "on_deleted", "delete", Lifecycle.DELETED),
        (SourceStatus.COMPLETED, "on_deleted", "delete", Lifecycle.CLOSED),
        (SourceStatus.ACTIVE, "on_inactive", "delete", Lifecycle.OPEN),
    ],
)
def test_inactive_and_deleted_follow_their_setting(status, setting, choice, lifecycle):
    desired = desired_po(make_po(status=status), make_rules(**{setting: choice}))
    assert desired.lifecycle is lifecycle


def test_both_settings_default_to_close():
    """Close keeps QBO's copy and its history and reopens when the PO is active again; a
    delete cannot be undone. So both default to close, as on_cancel and on_delete do."""
    sync = Settings().sync
    assert (sync.on_inactive, sync.on_deleted) == ("close", "close")
    for status in (SourceStatus.INACTIVE, SourceStatus.DELETED):
        assert desired_po(make_po(status=status), make_rules()).lifecycle is Lifecycle.CLOSED


def test_the_settings_take_only_close_or_delete(tmp_path):
    path = tmp_path / "reconciler.toml"
    path.write_text('[sync]\non_inactive = "archive"\non_deleted = "delete"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), MINIMAL_ENV)
    assert any("on_inactive" in p and "archive" in p for p in info.value.problems)
    path.write_text('[sync]\non_inactive = "delete"\non_deleted = "delete"\n', encoding="utf-8")
    loaded = load_settings(str(path), MINIMAL_ENV)
    assert (loaded.sync.on_inactive, loaded.sync.on_deleted) == ("delete", "delete")


def synced(lifecycle=Lifecycle.OPEN) -> LedgerEntry:
    return LedgerEntry(
        doc_id=42,
        status=SyncStatus.SYNCED,
        qbo_id="q1",
        sync_token="0",
        content_hash="old",
        lifecycle=lifecycle,
        number="PO-1001",
    )


def plan(po, entry, **rules):
    return decide(
        po,
        entry,
        POPlan(),
        make_rules(**rules),
        policy=policy(),
        realm_id="r1",
        now=make_po().updated_at,
    ).action


def test_a_synced_po_that_becomes_inactive_or_deleted_follows_in_qbo():
    """Closed (or deleted) in QBO by the setting; back to active, it is reopened (an update)."""
    inactive = make_po(status=SourceStatus.INACTIVE)
    assert isinstance(plan(inactive, synced()), Close)
    assert isinstance(plan(inactive, synced(), on_inactive="delete"), Delete)
    deleted = make_po(status=SourceStatus.DELETED)
    assert isinstance(plan(deleted, synced()), Close)
    assert isinstance(plan(deleted, synced(), on_deleted="delete"), Delete)
    assert isinstance(plan(make_po(), synced(Lifecycle.CLOSED)), Update)


def test_never_pushed_inactive_or_deleted_pos_are_not_created():
    """A PO first seen inactive or deleted is history, like one first seen closed."""
    for status, rules in (
        (SourceStatus.INACTIVE, {}),
        (SourceStatus.DELETED, {"on_deleted": "delete"}),
    ):
        action = plan(make_po(status=status), None, **rules)
        assert isinstance(action, Hold) and action.status is SyncStatus.SKIPPED
        assert action.reason.startswith("not in QBO")
