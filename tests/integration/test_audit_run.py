"""``reconciler run --audit``: the page of the table just written, against the real simulator."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_run_with_audit_writes_the_page_of_its_table(tmp_path: Path, simulator: SimulatorFactory) -> None:
    output, page = tmp_path / "status.parquet", tmp_path / "audit.html"
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, SAMPLES / "keys.csv", output, "--strategy", "scan",
                                      "--unmatched", str(tmp_path / "unmatched.csv"), "--audit", str(page),
                                      "--rate", "inf"), credentials())
    assert done.code == 0, done.stderr
    table = pq.read_table(output).to_pylist()
    shown = {name: int(float(value)) for name, value
             in re.findall(r'data-figure="([a-z_]+)" data-value="([^"]+)"', page.read_text())}
    assert shown["rows"] == len(table)
    assert shown["found"] == sum(row["recon_status"] == "found" for row in table)
    assert shown["completed"] == sum(bool(row["completed"]) for row in table if row["recon_status"] == "found")
    unmatched = pacsv.read_csv(tmp_path / "unmatched.csv").num_rows
    assert unmatched > 0 and shown["unmatched"] == unmatched
