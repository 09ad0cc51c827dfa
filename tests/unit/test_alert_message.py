"""The alert message: Slack's shape, escaped, capped, and never carrying a secret."""

from reconciler import logs
from reconciler.alerts import message as alert_message
from reconciler.model import DocKind
from reconciler.state.run_lines import RunLine


def _line(doc_id: int, *, vendor="Acme", message="QBO refused it", code="6000") -> RunLine:
    return RunLine(
        DocKind.PURCHASE_ORDER,
        doc_id,
        f"PO-{doc_id}",
        vendor,
        "update",
        "failed",
        "12",
        code,
        message,
        "synced",
    )


def test_nothing_to_say_is_no_message():
    assert alert_message.build(failures=[], drift=[], realm_id="1", run_id="r") is None


def test_counts_then_the_first_few_with_their_reasons():
    failures = [_line(n) for n in range(1, 9)]
    message = alert_message.build(
        failures=failures,
        drift=[],
        realm_id="9130",
        run_id="r1",
        failed_in_ledger=11,
        max_listed=3,
    )
    text = message["text"]
    assert text.startswith("*reconciler, QBO company 9130: 8 document(s) newly failed*")
    assert "• PO PO-1 (Acme): [6000] QBO refused it" in text
    assert "PO-3 " in text and "PO-4 " not in text and "… and 5 more" in text
    assert "11 failed in all" in text
    section = message["blocks"][1]["text"]
    assert section["type"] == "mrkdwn" and section["text"].count("•") == 3


def test_text_from_the_sources_is_escaped_and_cut():
    line = _line(1, vendor="<!channel> <@U123> & Co", message="x" * 500)
    text = alert_message.build(failures=[line], drift=[], realm_id="1", run_id="r")["text"]
    assert "&lt;!channel&gt; &lt;@U123&gt; &amp; Co" in text and "<!" not in text
    listed = next(row for row in text.splitlines() if row.startswith("•"))
    assert listed.count("x") < alert_message.MAX_LINE and listed.endswith("…")  # cut, then escaped


def test_no_secret_reaches_the_message():
    logs.register_secrets(["hunter2-client-secret"])
    line = _line(1, message="echoed Authorization: Bearer abc.def.ghi and hunter2-client-secret")
    body = str(alert_message.build(failures=[line], drift=[], realm_id="1", run_id="r"))
    assert "abc.def.ghi" not in body and "hunter2-client-secret" not in body
    assert "Bearer ***" in body


def test_drift_findings_of_any_shape():
    class Finding:
        def __str__(self) -> str:
            return "something odd"

    drift = [{"summary": "Memo edited in QBO", "kind": DocKind.BILL, "number": "B-1"}, Finding()]
    text = alert_message.build(failures=[], drift=drift, realm_id="1", run_id="r")["text"]
    assert "• bill B-1: Memo edited in QBO" in text and "• something odd" in text
