"""History as BI readers see it: each root (status tables, change feeds) reads as one typed table.

Two nights over real HTTP, with the README's layout: status under ``status/run={run_id}/``, the
change feed under ``changes/run_date={date}/``. A plain ``pandas.read_parquet`` of a root, and
DuckDB's hive read of it, each give one table; pandas gives nullable integers and booleans.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli

pytestmark = pytest.mark.anyio


async def test_each_history_root_reads_as_one_typed_table_in_pandas_and_duckdb(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    for root in ("status", "changes"):
        (tmp_path / root).mkdir()
    async with simulator() as sim:
        for night in range(2):
            args = run_args(sim.base_url, SAMPLES / "keys.csv", tmp_path / "status" / "run={run_id}" / "status.parquet",
                            "--rate", "inf", "--strategy", "incremental", "--state", str(tmp_path / "list.state"),
                            "--changes", str(tmp_path / "changes" / "run_date={date}" / "changes.parquet"))
            done = await run_cli(args, credentials())
            assert done.code == 0, done.stderr
            sim.move_on(attempts=200, complete=30, seed=night)

    status = pd.read_parquet(tmp_path / "status")
    assert len(status) == 2 * 2002 and status["recon_run_id"].nunique() == 2
    assert status["totalAttempts"].dtype == "Int64" and status["lastCallDuration"].dtype == "Int64"
    assert status["completed"].dtype == "boolean" and status["recon_http_status"].dtype == "Int32"
    assert status["completed"].isna().any(), "rows not found have no status: the nulls must stay nulls"
    assert str(status["account_id"].dtype) in ("str", "string", "object")
    assert (status["account_id"] == "038672").any(), "keys stay text, leading zeros kept"

    feed = pd.read_parquet(tmp_path / "changes")
    assert feed["recon_run_id"].nunique() == 2  # the day's feed: both runs of the date
    assert feed["totalAttempts"].dtype == "Int64" and feed["previous_completed"].dtype == "boolean"

    with duckdb.connect() as db:
        rows, runs, nulls = db.execute(
            "SELECT count(*), count(DISTINCT recon_run_id), count(*) FILTER (WHERE completed IS NULL) "
            "FROM read_parquet(?, hive_partitioning = true)", [str(tmp_path / "status" / "**" / "*.parquet")]
        ).fetchone()  # type: ignore[misc]
        assert (rows, runs) == (2 * 2002, 2)
        assert nulls == int(status["completed"].isna().sum())
        feed_rows = db.execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
                               [str(tmp_path / "changes" / "**" / "*.parquet")]).fetchone()
        assert feed_rows == (len(feed),)
