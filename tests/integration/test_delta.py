"""Delta Lake outputs (``delta:PATH``) through the real CLI, read back as BI tools read them.

DuckDB reads the table with its ``delta`` extension's ``delta_scan``, loaded from the
``duckdb-ext-delta`` package (the dev extra pins DuckDB to that extension's version), since DuckDB
would otherwise download it on first use.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import deltalake
import duckdb
import polars
import pyarrow as pa
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli

pytestmark = pytest.mark.anyio


def nightly(sim_url: str, tmp_path: Path, *extra: str) -> list[str]:
    return run_args(sim_url, SAMPLES / "keys.csv", Path(f"delta:{tmp_path / 'status'}"), "--rate", "inf",
                    "--strategy", "incremental", "--state", str(tmp_path / "list.state"),
                    "--changes", f"delta:{tmp_path / 'changes'}", *extra)


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def test_each_run_is_one_commit_and_a_rerun_of_the_date_replaces_its_rows(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    async with simulator() as sim:
        first = await run_cli(nightly(sim.base_url, tmp_path), credentials())
        assert first.code == 0, first.stderr
        sim.move_on(attempts=200, complete=30, seed=1)
        second = await run_cli(nightly(sim.base_url, tmp_path), credentials())
        assert second.code == 0, second.stderr

    status = deltalake.DeltaTable(str(tmp_path / "status"))
    assert status.version() == 1, "one commit per run"
    assert status.metadata().partition_columns == ["recon_run_date"]
    rows = status.to_pyarrow_table()
    assert rows.num_rows == 2002, "the rerun of the date replaced its rows, never added to them"
    assert len(set(rows.column("recon_run_id").to_pylist())) == 1
    night_one = deltalake.DeltaTable(str(tmp_path / "status"), version=0).to_pyarrow_table()
    assert night_one.num_rows == 2002 and night_one.column("recon_run_id") != rows.column("recon_run_id")
    assert rows.schema.field("account_id").type in (pa.string(), pa.large_string(), pa.string_view())
    assert "038672" in rows.column("account_id").to_pylist(), "keys stay text"

    feed = deltalake.DeltaTable(str(tmp_path / "changes")).to_pyarrow_table()
    runs = set(feed.column("recon_run_id").to_pylist())
    assert len(runs) == 2, "the date's feed keeps every run's rows"

    by_polars = polars.read_delta(str(tmp_path / "status"))
    assert by_polars.height == 2002 and by_polars["totalAttempts"].dtype == polars.Int64
    with duckdb.connect(config={"allow_unsigned_extensions": "true"}) as db:
        db.execute(f"LOAD '{delta_extension()}'")
        counted = db.execute("SELECT count(*), count(DISTINCT recon_run_id), min(recon_run_date) "
                             "FROM delta_scan(?)", [str(tmp_path / "status")]).fetchone()
    assert counted == (2002, 1, rows.column("recon_run_date")[0].as_py())


def delta_extension() -> str:
    """DuckDB's delta extension as the duckdb-ext-delta package ships it, for the installed DuckDB."""
    files = importlib.metadata.files("duckdb-ext-delta") or []
    wanted = f"/v{duckdb.__version__}/"
    found = [file for file in files if file.name == "delta.duckdb_extension" and wanted in f"/{file}"]
    assert found, f"duckdb-ext-delta ships no extension for DuckDB {duckdb.__version__}: keep the two pinned together"
    return str(found[0].locate())


async def test_a_table_with_other_columns_is_refused_before_any_request(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    other = pa.table({"customer": ["1"], "recon_run_date": pa.array([None], pa.date32())})
    deltalake.write_deltalake(str(tmp_path / "status"), other)
    async with simulator() as sim:
        done = await run_cli(nightly(sim.base_url, tmp_path), credentials())
        asked = sim.stats()["requests_total"]

    assert done.code == 2
    error = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(error) == 1 and "has other columns" in error[0] and f"delta:{tmp_path / 'status'}" in error[0]
    assert asked == 0
    assert deltalake.DeltaTable(str(tmp_path / "status")).version() == 0
    assert names_in(tmp_path) == ["status"], "no journal, no state"


async def test_unmatched_as_a_delta_table_is_refused(tmp_path: Path, simulator: SimulatorFactory) -> None:
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, SAMPLES / "keys.csv", tmp_path / "out.parquet", "--strategy",
                                      "scan", "--unmatched", f"delta:{tmp_path / 'unmatched'}"), credentials())
    assert done.code == 2 and "--unmatched" in done.stderr and not (tmp_path / "unmatched").exists()
