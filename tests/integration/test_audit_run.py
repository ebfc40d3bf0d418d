"""``reconciler run --audit``: the page of the table just written, against the real simulator."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, TENANT, SimulatorFactory, credentials, run_args, run_cli

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
    # The campaign's figures count records (each key once), with the input rows beside them.
    completed = [row for row in table if row["recon_status"] == "found" and row["completed"]]
    assert shown["completed"] == len({row["account_id"] for row in completed}) < len(completed)
    assert shown["completed_rows"] == len(completed)
    unmatched = pacsv.read_csv(tmp_path / "unmatched.csv").num_rows
    assert unmatched > 0 and shown["unmatched"] == unmatched
    # Records: the run's --key counts each key once, as the summary's "distinct keys" does.
    distinct = int(re.search(r"rows\s+[\d,]+\s+\(([\d,]+) distinct keys\)", done.stderr).group(1).replace(",", ""))
    keyed = {row["account_id"] for row in table if row["recon_status"] != "invalid_input"}
    assert shown["keys"] == len(keyed) == distinct
    assert shown["found_keys"] == len({row["account_id"] for row in table if row["recon_status"] == "found"})
    # The page names what the run was: its tenant, list and campaign, its run id and date.
    run_id, run_date = table[0]["recon_run_id"], table[0]["recon_run_date"]
    title = f"Campaign audit: campaign Campaign_1, list records.csv, tenant {TENANT}; run {run_id} of {run_date}"
    assert f"<title>{title}</title>" in page.read_text() and f"<h1>{title}</h1>" in page.read_text()
