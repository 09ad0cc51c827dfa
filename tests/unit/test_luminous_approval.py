"""Approval fails closed: with approval required, a PO whose approval cannot be read is never
pushed, and its reason names the missing field and the setting that names it.

Source: ../shared/luminous-api.md, "Purchase orders", approval: "POs can need approval (Pending
Approval / Approved in the app), but the PO JSON in the reference shows no approval field and no
approval filter. The field name is unknown (approval_status assumed). When the configuration
requires approval and a PO carries no approval field, it must NOT be pushed: fail closed with a
reason that says what is missing".
"""

from __future__ import annotations

import dataclasses

import pytest
from po_samples import make_po
from support import MINIMAL_ENV
from support import policy as make_policy
from support import rules as make_rules

from reconciler.config.loader import Settings, load_settings
from reconciler.documents.actions import Create, Hold
from reconciler.documents.plan import decide
from reconciler.documents.po.parse import parse_po
from reconciler.documents.po.plan import POPlan
from reconciler.errors import ConfigError
from reconciler.model import LedgerEntry, SyncStatus
from reconciler.sync.kinds.po import PURCHASE_ORDERS

# The PO of Luminous's reference, as far as approval goes: no approval field at all.
DOCUMENTED = {
    "id": 123,
    "order_numbers": ["PO-123"],
    "order_status": "active",
    "created_at": "2023-11-07T05:31:56Z",
    "updated_at": "2023-11-07T05:31:56Z",
    "supplier": {"id": 123, "status": 123, "name": "Nutricost"},
    "items": [{"id": 1, "quantity": 123, "unit_price": 123, "product": {"id": 1, "name": "W"}}],
}


def decided(po, entry=None, **policy):
    return decide(
        po,
        entry,
        POPlan(),
        make_rules(),
        policy=make_policy(**policy),
        realm_id="r1",
        now=po.updated_at,
    )


def test_the_documented_po_is_not_pushed_when_approval_is_required():
    """Default settings (approval required) and the reference's PO: failed, not sent, and the
    reason says which field is missing and which settings decide."""
    po = parse_po(DOCUMENTED)
    assert po.approval_missing and po.approval_status is None
    action = decided(po).action
    assert isinstance(action, Hold) and action.status is SyncStatus.FAILED
    for named in ("'approval_status'", "sync.approval_field", "sync.require_approval"):
        assert named in action.reason
    assert "has no 'approval_status' field" in action.reason
    assert action.code == "approval_unreadable"  # the row's error: code and this reason


def test_an_empty_approval_field_is_not_approval():
    po = parse_po({**DOCUMENTED, "approval_status": "  "})
    assert not po.approval_missing
    action = decided(po).action
    assert isinstance(action, Hold) and action.status is SyncStatus.FAILED
    assert "has an empty 'approval_status' field" in action.reason


def test_without_approval_required_the_documented_po_is_pushed():
    assert isinstance(decided(parse_po(DOCUMENTED), require_approval=False).action, Create)


@pytest.mark.parametrize(
    ("field", "value", "approved", "pushed"),
    [
        ("approval", "Approved", ("approved",), True),
        ("approval", "Pending Approval", ("approved",), False),
        ("is_approved", True, ("true",), True),
        ("is_approved", False, ("true",), False),
        ("approval_state", 2, ("2",), True),
        ("approval_state", "Approved-By-Manager", ("approved_by_manager",), True),
    ],
)
def test_the_field_and_its_approved_values_are_settings(field, value, approved, pushed):
    """Read from the configured field, compared without case, spaces or hyphens."""
    po = parse_po({**DOCUMENTED, field: value}, approval_field=field)
    action = decided(po, approval_field=field, approved_values=approved).action
    assert isinstance(action, Create) is pushed
    if not pushed:
        assert isinstance(action, Hold) and action.status is SyncStatus.SKIPPED


def test_a_value_under_another_name_does_not_count():
    """The reference's JSON with `approval_status` when `approval` is configured: missing."""
    po = parse_po({**DOCUMENTED, "approval_status": "approved"}, approval_field="approval")
    action = decided(po, approval_field="approval").action
    assert isinstance(action, Hold) and "has no 'approval' field" in action.reason


def test_a_po_already_in_qbo_follows_its_changes():
    """Approval gates the first push only; once in QBO a PO follows every change."""
    entry = LedgerEntry(doc_id=123, status=SyncStatus.SYNCED, qbo_id="9", content_hash="x")
    action = decided(parse_po(DOCUMENTED), entry).action
    assert not isinstance(action, Hold)


def test_the_kinds_parser_reads_the_configured_field():
    settings = Settings()
    settings = dataclasses.replace(
        settings, sync=dataclasses.replace(settings.sync, approval_field="approval")
    )
    parse = PURCHASE_ORDERS.parser(settings)
    assert parse({**DOCUMENTED, "approval": "Approved"}).approval_status == "approved"
    assert parse({**DOCUMENTED, "approval_status": "approved"}).approval_missing


def test_default_settings_and_the_policy_carry_them():
    policy = Settings().plan_policy()
    assert policy.require_approval is True
    assert (policy.approval_field, policy.approved_values) == ("approval_status", ("approved",))


def test_no_approved_value_with_approval_required_is_a_config_problem(tmp_path):
    path = tmp_path / "reconciler.toml"
    path.write_text("[sync]\napproved_values = []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), MINIMAL_ENV)
    assert any("sync.approved_values is empty" in p for p in info.value.problems)


def test_a_sample_po_approved_in_luminous_is_pushed():
    assert isinstance(decided(make_po()).action, Create)
