"""Nightly runs over real HTTP: the incremental table equals a fresh scan's after any calling activity.

The simulator moves its campaign on between runs (``RunningSimulator.move_on``, as ``reconciler
simulate activity`` does): call attempts, completions, records added and deleted. Each night the
incremental run's table is compared, every column but the recon_* lookup columns, with what a fresh
``--strategy scan`` writes against the same server state.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli

from reconciler.simulator import FaultConfig, RunningSimulator

pytestmark = pytest.mark.anyio

LOOKUP_COLUMNS = ["recon_status", "recon_http_status", "recon_error", "recon_attempts", "recon_checked_at",
                  "recon_run_id", "recon_run_date"]
SAMPLE_KEYS = (SAMPLES / "keys.csv").read_text(encoding="utf-8")


def with_added_keys(path: Path, added: list[dict[str, str]]) -> Path:
    """The sample keys file, plus rows for the records the list gained (as tonight's CRM export would)."""
    width = len(SAMPLE_KEYS.splitlines()[0].split(","))
    path.write_text(SAMPLE_KEYS + "".join(key["account_id"] + "," * (width - 1) + "\n" for key in added),
                    encoding="utf-8")
    return path


def status_columns(path: Path) -> pa.Table:
    return pq.read_table(path).drop_columns(LOOKUP_COLUMNS)


def assert_same_but_lookup(incremental: Path, scan: Path) -> None:
    got, want = status_columns(incremental), status_columns(scan)
    assert got.schema == want.schema
    assert got.num_rows == want.num_rows
    if not got.equals(want):
        rows = zip(got.to_pylist(), want.to_pylist(), strict=True)
        differing = next(n for n, (a, b) in enumerate(rows) if a != b)
        pytest.fail(f"row {differing}: incremental {got.slice(differing, 1).to_pylist()} != "
                    f"scan {want.slice(differing, 1).to_pylist()}")


def endpoint_counts(sim: RunningSimulator) -> dict[str, int]:
    by_endpoint = sim.stats()["by_endpoint"]
    assert isinstance(by_endpoint, dict)
    return {name: int(count) for name, count in by_endpoint.items()}


async def reconcile(sim: RunningSimulator, keys: Path, output: Path, *extra: str, dialect: str) -> None:
    done = await run_cli(run_args(sim.base_url, keys, output, "--rate", "inf", *extra, dialect=dialect),
                         credentials(dialect))
    assert done.code == 0, done.stderr


@pytest.mark.parametrize("dialect", ["classic", "v2"])
async def test_after_each_day_of_calling_the_incremental_table_equals_a_fresh_scan(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    state, keys = tmp_path / "list.state", tmp_path / "keys.csv"
    nightly = ["--strategy", "incremental", "--state", str(state)]
    days = [dict(attempts=400, complete=80, add=6, seed=1), dict(attempts=250, complete=40, add=3, seed=2),
            dict(attempts=1, seed=3), dict()]  # a quiet day too
    added: list[dict[str, str]] = []
    async with simulator(faults=FaultConfig(seed=7, fail_503=0.05)) as sim:
        with_added_keys(keys, added)
        await reconcile(sim, keys, tmp_path / "night-0.parquet", *nightly, dialect=dialect)
        for night, day in enumerate(days, start=1):
            did = sim.move_on(**day)  # type: ignore[arg-type]
            added += did["added"]  # type: ignore[arg-type]
            with_added_keys(keys, added)
            sim.reset_stats()
            output = tmp_path / f"night-{night}.parquet"
            await reconcile(sim, keys, output, *nightly, "--changes", str(tmp_path / f"changes-{night}.parquet"),
                            dialect=dialect)
            asked = endpoint_counts(sim)
            await reconcile(sim, keys, tmp_path / f"scan-{night}.parquet", "--strategy", "scan", dialect=dialect)

            assert_same_but_lookup(output, tmp_path / f"scan-{night}.parquet")
            assert asked["getAll"] == 0, asked  # no night after the first reads the whole list
            assert asked["getChanged"] >= 1 and asked["getCompleted"] >= 1, asked
    completed_now = {r["account_id"] for r in status_columns(tmp_path / "night-1.parquet").to_pylist()
                     if r["completed"]}
    completed_before = {r["account_id"] for r in status_columns(tmp_path / "night-0.parquet").to_pylist()
                        if r["completed"]}
    feed = pq.read_table(tmp_path / "changes-1.parquet").to_pylist()
    assert {r["account_id"] for r in feed if r["change_type"] == "completed"} == completed_now - completed_before
    assert {r["account_id"] for r in feed if r["change_type"] == "new"} == {k["account_id"] for k in added[:6]}
