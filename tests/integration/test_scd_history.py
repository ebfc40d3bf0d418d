"""The shipped SCD views over three real nights: DuckDB over the Parquet history, PostgreSQL over the table.

Three nights through the real CLI against the simulator, the campaign moving on between them; each
night is written twice, as Parquet partitions and into a PostgreSQL table (two states, one list). The
runs fall on one UTC date, so each night's rows are moved to a date of their own (two days ago,
yesterday, today) before the next night, as nights on three dates would have them. The third night's
input lacks one key, which so leaves the table. Both views must give the periods that a plain Python
reading of the three nights gives.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli
from postgres_server import PASSWORD, Database

from reconciler.output.scd import scd_view

pytestmark = pytest.mark.anyio

TRACKED = ("recon_status", "completed", "lastDisposition", "lastDate", "lastPhone", "lastCallDuration", "lastAgent",
           "totalAttempts", "globalInteractionID", "completedTime")
LEAVER = "102529"  # not in the third night's input
PERIOD = ("account_id", *TRACKED, "valid_from", "valid_to", "current")


def without_leaver(path: Path) -> Path:
    keys = pacsv.read_csv(SAMPLES / "keys.csv", convert_options=pacsv.ConvertOptions(
        column_types={name: pa.string() for name in ("account_id", "crm_owner", "segment", "note")}))
    kept = keys.filter(pc.invert(pc.fill_null(pc.equal(keys["account_id"], LEAVER), False)))
    assert kept.num_rows < keys.num_rows
    pacsv.write_csv(kept, path)
    return path


async def three_nights(tmp_path: Path, sim: Any, postgres: Database) -> list[date]:
    (tmp_path / "status").mkdir()
    days = [date.today() - timedelta(days=2 - night) for night in range(3)]
    moved: set[Path] = set()
    for night, day in enumerate(days):
        keys = SAMPLES / "keys.csv" if night < 2 else without_leaver(tmp_path / "keys-night-3.csv")
        common = ("--rate", "inf", "--strategy", "incremental")
        to_table = run_args(sim.base_url, keys, tmp_path, *common, "--state", str(tmp_path / "pg.state"),
                            "--journal", str(tmp_path / "pg.journal"))
        to_table[to_table.index("--output") + 1] = postgres.url("recon_status")
        to_files = run_args(sim.base_url, keys, tmp_path / "status" / "run={run_id}" / "status.parquet", *common,
                            "--state", str(tmp_path / "files.state"))
        for args in (to_table, to_files):
            done = await run_cli(args, {**credentials(), "PGPASSWORD": PASSWORD})
            assert done.code == 0, done.stderr
        # Tonight's partition is the one the earlier nights did not write (not the last by name: the test
        # moves each night to a date of its own, and an id says when the run really started).
        [tonight] = set((tmp_path / "status").glob("run=*/status.parquet")) - moved
        move_to(day, postgres, tonight)
        moved.add(tonight)
        sim.move_on(attempts=400, complete=60, seed=night)
    return days


def move_to(day: date, postgres: Database, partition: Path) -> None:
    """Tonight's rows, in both histories, as the night of ``day``."""
    postgres.query("UPDATE recon_status SET recon_run_date = %s WHERE recon_run_date = current_date", day)
    table = pq.read_table(partition)
    dates = pa.array([day] * table.num_rows, pa.date32())
    pq.write_table(table.set_column(table.schema.get_field_index("recon_run_date"), "recon_run_date", dates),
                   partition)


def python_periods(root: Path) -> list[tuple[Any, ...]]:
    """The periods, read from the three nights' files one row at a time: the views' oracle."""
    nights = sorted((pq.read_table(path).to_pylist() for path in root.glob("run=*/status.parquet")),
                    key=lambda rows: rows[0]["recon_run_date"])  # the night each was moved to
    seen: dict[str, int] = {}
    observed: dict[str, list[tuple[int, tuple[Any, ...]]]] = {}
    for index, rows in enumerate(nights):
        for row in rows:
            if row["recon_status"] == "invalid_input":
                continue
            key = row["account_id"]
            seen[key] = index
            status = tuple(row[name] for name in TRACKED)
            if row["recon_status"] in ("found", "not_found") and observed.setdefault(key, [])[-1:] != [(index, status)]:
                observed[key].append((index, status))
    day = [rows[0]["recon_run_date"] for rows in nights]
    periods = []
    for key, answers in observed.items():
        starts = [(index, status) for n, (index, status) in enumerate(answers) if n == 0 or answers[n - 1][1] != status]
        for n, (index, status) in enumerate(starts):
            if n + 1 < len(starts):
                valid_to = day[starts[n + 1][0]]
            else:
                valid_to = None if seen[key] == len(nights) - 1 else day[seen[key] + 1]
            periods.append((key, *status, day[index], valid_to, valid_to is None))
    return periods


def canonical(row: tuple[Any, ...]) -> str:
    return repr(tuple(value.astimezone(UTC) if isinstance(value, datetime) else value for value in row))


async def test_the_scd_views_give_one_row_per_key_and_period_of_unchanged_status_in_duckdb_and_postgresql(
        tmp_path: Path, simulator: SimulatorFactory, postgres: Database) -> None:
    async with simulator() as sim:
        days = await three_nights(tmp_path, sim, postgres)

    columns = ", ".join(f'"{name}"' for name in PERIOD)
    source = f"read_parquet('{tmp_path}/status/**/*.parquet', hive_partitioning = true, union_by_name = true)"
    with duckdb.connect() as db:
        db.execute(scd_view("duckdb", ["account_id"], source=source))
        from_duckdb = [tuple(row) for row in db.execute(f"SELECT {columns} FROM recon_status_history").fetchall()]
    postgres.query(scd_view("postgres", ["account_id"]))
    from_postgres = postgres.query(f"SELECT {columns} FROM recon_status_history")
    expected = python_periods(tmp_path / "status")

    assert sorted(map(canonical, from_duckdb)) == sorted(map(canonical, expected))
    assert sorted(map(canonical, from_postgres)) == sorted(map(canonical, expected))

    by_key: dict[str, list[tuple[Any, ...]]] = {}
    for period in sorted(expected, key=lambda period: period[-3]):
        by_key.setdefault(period[0], []).append(period)
    changed = [periods for periods in by_key.values() if len(periods) > 1]
    assert len(changed) > 20, "the campaign moved on: keys must have more than one period"
    for periods in changed:  # periods follow each other without a gap, the last one current
        assert [p[-2] for p in periods[:-1]] == [p[-3] for p in periods[1:]]
        assert periods[0][-3] == days[0] and [p[-1] for p in periods] == [False] * (len(periods) - 1) + [True]
    assert any(len(periods) == 1 and periods[0][-3:] == (days[0], None, True) for periods in by_key.values())
    assert by_key[LEAVER][-1][-2:] == (days[2], False), "a key gone from the table ends its period that night"
    assert sum(period[-1] for period in expected) == len(by_key) - 1, "every key but the leaver has one current"
