"""The README's quick start, executed: the demo runs a real reconciliation and exits 0."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_reconciles_the_sample_keys_through_the_simulator() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "sample_inputs" / "demo.py")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Exit codes: [0, 0, 0, 0, 0]" in done.stdout  # four runs, then the fleet
    assert done.stderr.count("reconciler: run finished") == 4
    table = pq.read_table(ROOT / "out" / "keys-status.parquet")
    assert table.num_rows == 2002
    assert set(table.column("recon_status").to_pylist()) == {"found", "not_found", "invalid_input"}

    # The two nights: the second asks only what changed, and writes its change feed beside its table.
    requests = re.search(r"Requests: night 1 \(full read\) .*\((.*)\); night 2 .* \((.*)\)", done.stdout)
    assert requests is not None, done.stdout
    assert "getAll" in requests[1] and "getChanged" not in requests[1]
    assert "getChanged" in requests[2] and "getCompleted" in requests[2] and "query" not in requests[2]
    # The sample input holds 30 keys that are not on the list: asking them would cost more than the 4 pages
    # of a full read, so night 2 reads the list whole after its changes (the cheaper plan), and says why.
    assert "4 getAll" in requests[2], requests[2]
    assert "would cost more requests than reading the list whole" in done.stderr
    assert "120 call attempts" in done.stdout and "(25 completed their record)" in done.stdout
    nightly = ROOT / "out" / "nightly"
    night_2 = json.loads((nightly / "reports" / "night-2.json").read_text(encoding="utf-8"))["figures"]
    feed = pq.read_table(nightly / "changes").to_pylist()  # the day's feed, both nights
    tonight = {row["change_type"] for row in feed if row["recon_run_id"] == night_2["run_id"]}
    assert {"attempted", "completed"} <= tonight
    history = pq.read_table(nightly / "status", columns=["recon_run_id", "recon_status"])
    assert len(set(history.column("recon_run_id").to_pylist())) == 2
    assert history.num_rows == 2 * 2002  # status rows alone: no change feed or report mixed in
    line = re.search(r"History in out/nightly/status/: ([\d,]+) status rows over (\d+) runs", done.stdout)
    assert line is not None and line[1] == "4,004" and line[2] == "2", done.stdout

    # The fleet over two tenants: every list of every running campaign, discovered, each complete.
    fleet = json.loads((ROOT / "out" / "fleet" / "report.json").read_text(encoding="utf-8"))
    assert fleet["exit_code"] == 0 and fleet["counts"]["complete"] == 3
    assert {record["target"] for record in fleet["targets"]} == {
        "demo.brightpattern.com/Campaign_1/records.csv", "second.brightpattern.com/Outbound_Q4/List_East.csv",
        "second.brightpattern.com/Outbound_Q4/List_West.csv"}
    assert "reconciler: fleet finished" in done.stderr
