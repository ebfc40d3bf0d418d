"""``reconciler report`` on a folder: one Hive partition, or a root of several, read as one table;
a change feed is refused, not drawn as if it were a status table."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from reconciler.cli import main
from reporting.audit.audit_tables import build_table
from reporting.audit.test_audit_page import figures_of

NIGHTS = {"2026-12-06": 120, "2026-12-07": 90}


def _night(rows: int, day: str, *, extra_column: bool = False) -> pa.Table:
    table = build_table(rows)
    run_id = f"{day.replace('-', '')}T021500Z-0000{rows:02d}"
    table = table.set_column(table.schema.get_field_index("recon_run_id"), "recon_run_id", pa.array([run_id] * rows))
    table = table.append_column("recon_run_date", pa.array([date.fromisoformat(day)] * rows, pa.date32()))
    if extra_column:  # an entry field the list gained on the second night
        table = table.append_column("zip", pa.array(["12345"] * rows))
    return table


def _history(root: Path, form: str = "parquet") -> dict[str, pa.Table]:
    written = {}
    for index, (day, rows) in enumerate(NIGHTS.items()):
        folder = root / f"run_date={day}"
        folder.mkdir(parents=True)
        table = written[day] = _night(rows, day, extra_column=index == 1)
        if form == "parquet":
            pq.write_table(table, folder / "status.parquet")
        else:
            pacsv.write_csv(table, folder / "status.csv")
        (folder / ".status.parquet.reconciler-journal").write_bytes(b"SQLite format 3\0 not a table")
    return written


def _report(source: Path, page: Path, *flags: str) -> dict[str, float]:
    assert main(["report", str(source), "--html", str(page), *flags]) == 0
    return figures_of(page.read_text())


@pytest.mark.parametrize("form", ["parquet", "csv"])
def test_a_root_of_partitions_is_read_as_one_table(tmp_path: Path, form: str) -> None:
    written = _history(tmp_path / "status", form)
    shown = _report(tmp_path / "status", tmp_path / "audit.html", "--key", "account_id")
    rows = [row for table in written.values() for row in table.to_pylist()]
    assert shown["rows"] == len(rows) == sum(NIGHTS.values())
    assert shown["found"] == sum(row["recon_status"] == "found" for row in rows)
    # Two nights ask the same keys (A00000 ...): each is one record of the list.
    assert shown["keys"] == len({row["account_id"] for row in rows if row["recon_status"] != "invalid_input"})
    text = (tmp_path / "audit.html").read_text()
    assert "; 2 runs of 2026-12-06 to 2026-12-07</title>" in text and "<b>Table</b> status/" in text


def test_one_partition_folder_is_its_night_alone(tmp_path: Path) -> None:
    written = _history(tmp_path / "status")
    shown = _report(tmp_path / "status" / "run_date=2026-12-07", tmp_path / "audit.html")
    assert shown["rows"] == written["2026-12-07"].num_rows
    assert "run 20261207T021500Z-000090 of 2026-12-07</title>" in (tmp_path / "audit.html").read_text()


def test_exports_of_a_root_hold_every_partition_s_rows(tmp_path: Path) -> None:
    written = _history(tmp_path / "status")
    _report(tmp_path / "status", tmp_path / "audit.html", "--exports", str(tmp_path / "exports"))
    exported = pacsv.read_csv(tmp_path / "exports" / "not-found.csv",
                              convert_options=pacsv.ConvertOptions(column_types={"account_id": pa.string()}))
    assert sorted(exported.column("account_id").to_pylist()) == sorted(
        row["account_id"] for table in written.values() for row in table.to_pylist()
        if row["recon_status"] == "not_found")
    assert {str(day) for day in exported.column("run_date").to_pylist()} == set(NIGHTS)  # the partition field


def _refused(tmp_path: Path, source: Path, capsys: pytest.CaptureFixture[str]) -> str:
    page = tmp_path / "audit.html"
    assert main(["report", str(source), "--html", str(page)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(source) in error
    assert not page.exists()
    return error


def _change_feed(rows: int) -> pa.Table:
    status = build_table(rows)
    return pa.table({"account_id": status.column("account_id"), "change_type": ["attempted"] * rows,
                     "previous_recon_status": status.column("recon_status"),
                     **{name: status.column(name) for name in ("recon_status", "completed", "lastDisposition",
                                                               "lastDate", "lastAgent", "totalAttempts")}})


def test_a_change_feed_is_refused_naming_what_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = tmp_path / "changes.parquet"
    pq.write_table(_change_feed(20), feed)
    error = _refused(tmp_path, feed, capsys)
    assert "is a change feed (it has a change_type column), not a status table" in error
    folder = tmp_path / "changes" / "run_date=2026-12-07"
    folder.mkdir(parents=True)
    pacsv.write_csv(_change_feed(20), folder / "changes.csv")
    assert "is a change feed" in _refused(tmp_path, tmp_path / "changes", capsys)


def test_a_root_mixing_status_tables_and_a_change_feed_is_refused(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _history(tmp_path / "mixed")
    pq.write_table(_change_feed(5), tmp_path / "mixed" / "run_date=2026-12-07" / "changes.parquet")
    assert "is a change feed" in _refused(tmp_path, tmp_path / "mixed", capsys)


def test_folders_without_one_kind_of_table_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty" / "run_date=2026-12-07").mkdir(parents=True)
    assert "holds no .parquet, .csv or .csv.gz table" in _refused(tmp_path, tmp_path / "empty", capsys)
    _history(tmp_path / "both")
    pacsv.write_csv(build_table(5), tmp_path / "both" / "run_date=2026-12-07" / "status.csv")
    assert "holds both CSV and Parquet tables" in _refused(tmp_path, tmp_path / "both", capsys)
    assert "no such file or folder" in _refused(tmp_path, tmp_path / "status" / "run_date=2026-12-08", capsys)
