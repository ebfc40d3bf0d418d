"""The README's quick start, executed: the demo runs a real reconciliation and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_reconciles_the_sample_keys_through_the_simulator() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "sample_inputs" / "demo.py")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Exit codes: [0, 0]" in done.stdout
    assert done.stderr.count("reconciler: run finished") == 2
    table = pq.read_table(ROOT / "out" / "keys-status.parquet")
    assert table.num_rows == 2002
    assert set(table.column("recon_status").to_pylist()) == {"found", "not_found", "invalid_input"}
