"""A 10,000-PO backlog read in pages with flat memory (emulator in its own process, so the
memory traced is the client's alone; this also runs `serve`, the standalone entry point)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tracemalloc

import pytest
import requests

from reconciler.documents.po.model import SourcePO
from reconciler.documents.po.parse import parse_or_reject
from reconciler.luminous.client import LuminousClient
from reconciler.sync.pull import pull_changes

BACKLOG = 10_000
SEEDED = 12  # serve() also loads the default seed


def _start_emulator() -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler.sandbox.luminous.server",
            "--port=0",
            f"--generate={BACKLOG}",
            "--max-lines=1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    base_url = proc.stdout.readline().split(": ", 1)[1].strip()
    token = proc.stdout.readline().split(": ", 1)[1].strip()
    return proc, base_url, token


@pytest.mark.slow  # a scale run: 10,000 POs through the pull (the inner loop reads small pages)
def test_ten_thousand_po_backlog_streams_each_po_once_in_flat_memory():
    """Every PO of a 10,000 backlog comes out exactly once, and the traced peak while streaming
    is a small fraction of what holding the parsed POs would take."""
    proc, base_url, token = _start_emulator()
    try:
        client = LuminousClient(requests.Session(), base_url, token)

        tracemalloc.start()
        sample = pull_changes(client, None, already_handled=lambda *_: False, parse=parse_or_reject)
        held = list(itertools.islice(sample.records, 300))
        per_record = tracemalloc.get_traced_memory()[0] / len(held)
        sample.records.close()
        del held
        tracemalloc.stop()

        total = BACKLOG + SEEDED
        counts = bytearray(total + 1)
        tracemalloc.start()
        result = pull_changes(client, None, already_handled=lambda *_: False, parse=parse_or_reject)
        for record in result.records:
            assert isinstance(record, SourcePO)
            counts[record.id] += 1
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        assert counts[0] == 0 and set(counts[1:]) == {1}
        assert result.stats.read == total and result.complete
        holding_all = per_record * total
        assert peak < holding_all / 10, (peak, holding_all)
        assert client.last_read.requests < 2.5 * total / client.per_page  # paged, not per PO
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0  # SIGTERM is a clean stop
