"""The day's change feed: rows other runs of the same date published are kept; a rerun replaces its own."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reconciler.errors import InputError
from reconciler.output.changes import changes_schema
from reconciler.output.feed import check_day_feed, earlier_runs_of_the_day
from reconciler.output.history import RunIdentity
from reconciler.output.writer import TableWriter, output_format_for

SCHEMA = changes_schema(pa.schema([("account_id", pa.string())]))
MORNING = RunIdentity("20261207T020000Z-aaaaaa", date(2026, 12, 7))
EVENING = RunIdentity("20261207T200000Z-bbbbbb", date(2026, 12, 7))
YESTERDAY = RunIdentity("20261206T020000Z-cccccc", date(2026, 12, 6))


def feed_rows(run: RunIdentity, *keys: str) -> pa.RecordBatch:
    rows = [{"account_id": key, "change_type": "attempted", "previous_recon_status": "found", "recon_status": "found",
             "previous_totalAttempts": 1, "totalAttempts": 2, "previous_lastDisposition": None,
             "lastDisposition": "", "previous_lastDate": 1_700_000_000_123, "lastDate": 1_700_000_100_456,
             "completed": False, "previous_run_id": "earlier", "recon_run_id": run.run_id,
             "recon_run_date": run.run_date} for key in keys]
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        f.with_type(pa.int64()) if pa.types.is_timestamp(f.type) else f for f in SCHEMA]))
    columns = [table.column(f.name).cast(f.type) for f in SCHEMA]
    return pa.Table.from_arrays(columns, schema=SCHEMA).to_batches()[0]


def publish(path: Path, *batches: pa.RecordBatch) -> None:
    fmt, gzipped = output_format_for(path, None)
    with TableWriter(path, SCHEMA, fmt, gzipped=gzipped) as writer:
        for batch in batches:
            writer.write(batch)


@pytest.mark.parametrize("name", ["changes.parquet", "changes.csv", "changes.csv.gz"])
def test_the_rows_of_other_runs_of_the_same_date_are_carried_with_their_values(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    publish(path, feed_rows(YESTERDAY, "1"), feed_rows(MORNING, "2", "3"))

    carried = pa.Table.from_batches(list(earlier_runs_of_the_day(path, SCHEMA, EVENING)), schema=SCHEMA)

    assert carried.equals(pa.Table.from_batches([feed_rows(MORNING, "2", "3")]))


def test_a_rerun_of_the_same_run_replaces_its_own_rows(tmp_path: Path) -> None:
    path = tmp_path / "changes.parquet"
    publish(path, feed_rows(MORNING, "2"), feed_rows(EVENING, "3"))

    carried = list(earlier_runs_of_the_day(path, SCHEMA, EVENING))

    assert [row["account_id"] for batch in carried for row in batch.to_pylist()] == ["2"]


def test_no_file_carries_nothing(tmp_path: Path) -> None:
    assert list(earlier_runs_of_the_day(tmp_path / "changes.parquet", SCHEMA, EVENING)) == []
    check_day_feed(tmp_path / "changes.parquet", SCHEMA, EVENING)


def test_a_feed_of_today_with_other_columns_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "changes.parquet"
    other = pa.table({"crm_id": ["1"], "recon_run_id": [MORNING.run_id], "recon_run_date": [MORNING.run_date]})
    pq.write_table(other, path)

    with pytest.raises(InputError, match="holds rows of 2026-12-07 from another run, with other columns"):
        check_day_feed(path, SCHEMA, EVENING)


def test_a_feed_of_another_date_with_other_columns_is_simply_replaced(tmp_path: Path) -> None:
    path = tmp_path / "changes.parquet"
    pq.write_table(pa.table({"crm_id": ["1"], "recon_run_id": [YESTERDAY.run_id],
                             "recon_run_date": [YESTERDAY.run_date]}), path)

    check_day_feed(path, SCHEMA, EVENING)
    assert list(earlier_runs_of_the_day(path, SCHEMA, EVENING)) == []


def test_a_feed_that_is_no_table_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "changes.parquet"
    path.write_bytes(b"not parquet at all")

    with pytest.raises(InputError, match="the existing change feed cannot be read"):
        check_day_feed(path, SCHEMA, EVENING)
