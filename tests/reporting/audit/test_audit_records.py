"""Input rows and records: a key asked by several rows is one record; the page shows both, labelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from reconciler.cli import main
from reconciler.reporting.audit import tables
from reconciler.reporting.audit.distinct import DistinctKeys, key_digests
from reporting.audit.audit_tables import build_table
from reporting.audit.test_audit_page import expected, figures_of


def _repeating(rows: int) -> pa.Table:
    """build_table's rows, and again the first third of them (the same keys, the same answers), shuffled."""
    table = build_table(rows)
    doubled = pa.concat_tables([table, table.slice(0, rows // 3)])
    return doubled.take(np.random.default_rng(7).permutation(doubled.num_rows))


def _first_of_each_key(table: pa.Table) -> pa.Table:
    seen: set[str] = set()
    keep = []
    for index, row in enumerate(table.to_pylist()):
        if row["recon_status"] != "invalid_input" and row["account_id"] not in seen:
            seen.add(row["account_id"])
            keep.append(index)
    return table.take(keep)


@pytest.mark.parametrize("form", ["parquet", "csv"])
def test_records_count_each_key_once_and_input_rows_every_row(tmp_path: Path, form: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "BATCH_ROWS", 97)  # a key's rows fall in different batches
    table = _repeating(1200)
    source = tmp_path / f"status.{form}"
    pq.write_table(table, source) if form == "parquet" else pacsv.write_csv(table, source)
    page = tmp_path / "audit.html"
    assert main(["report", str(source), "--html", str(page), "--key", "account_id"]) == 0
    text = page.read_text()
    shown = figures_of(text)
    rows, records = table.to_pylist(), _first_of_each_key(table)
    assert shown["rows"] == len(rows) == 1600
    assert shown["found"] == sum(r["recon_status"] == "found" for r in rows)
    assert shown["keys"] == records.num_rows == len({r["account_id"] for r in rows
                                                     if r["recon_status"] != "invalid_input"})
    for status in ("found", "not_found", "error"):
        assert shown[f"{status}_keys"] == sum(r["recon_status"] == status for r in records.to_pylist())
    by_record, by_row = expected(records), expected(table)
    for step in ("on_list", "attempted", "reached_agent", "completed", "positive"):
        assert shown[step] == by_record[step], step  # the funnel in records ...
        assert shown[f"{step}_rows"] == by_row[step], step  # ... and in input rows beside them
    for name in ("completion_rate", "never_attempted", "most_attempts", "at_most_attempts", "not_on_list"):
        assert shown[name] == pytest.approx(by_record[name]), name
    assert shown["keys"] < shown["rows"] and shown["on_list"] < shown["on_list_rows"]  # the table repeats keys
    assert "Records (distinct keys of account_id" in text and "Input rows (one a row of the table)" in text
    assert "<th class=\"n\">records</th><th class=\"n\">of found</th><th class=\"n\">input rows</th>" in text


def test_without_the_key_the_page_counts_input_rows_and_says_records_are_not_known(tmp_path: Path) -> None:
    pq.write_table(_repeating(300), tmp_path / "status.parquet")
    page = tmp_path / "audit.html"
    assert main(["report", str(tmp_path / "status.parquet"), "--html", str(page)]) == 0
    text = page.read_text()
    assert "Records (distinct keys): <span data-figure-unknown=\"keys\">not known</span>" in text
    assert "give --key or --run-report" in text and "Completion funnel (input rows)" in text
    assert 'data-figure="keys"' not in text and 'data-figure="on_list_rows"' not in text


def test_a_composite_key_counts_pairs(tmp_path: Path) -> None:
    table = build_table(40).append_column("region", pa.array(["north", "south"] * 20))
    table = pa.concat_tables([table, table.set_column(table.schema.get_field_index("region"), "region",
                                                      pa.array(["east"] * 40))])
    pq.write_table(table, tmp_path / "status.parquet")
    page = tmp_path / "audit.html"
    assert main(["report", str(tmp_path / "status.parquet"), "--html", str(page),
                 "--key", "account_id", "--key", "region"]) == 0
    keyed = [r for r in table.to_pylist() if r["recon_status"] != "invalid_input"]
    assert figures_of(page.read_text())["keys"] == len({(r["account_id"], r["region"]) for r in keyed}) == 2 * len(
        {r["account_id"] for r in keyed})


def test_a_key_column_the_table_lacks_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pq.write_table(build_table(10), tmp_path / "status.parquet")
    assert main(["report", str(tmp_path / "status.parquet"), "--html", str(tmp_path / "audit.html"),
                 "--key", "customer"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "status.parquet: has no key column customer" in error
    assert not (tmp_path / "audit.html").exists()


def test_distinct_keys_agree_with_a_set_across_batches_and_merges() -> None:
    rng = np.random.default_rng(3)
    seen, exact, total = DistinctKeys(), set(), 0
    for _ in range(60):  # enough batches for runs to be merged several times
        values = [f"{v:06d}" for v in rng.integers(0, 20_000, rng.integers(1, 800))]
        first = seen.first_seen(*key_digests([pa.array(values)]))
        expected_first = []
        for value in values:
            expected_first.append(value not in exact)
            exact.add(value)
        assert first.tolist() == expected_first
        total += int(first.sum())
    assert total == len(exact) == len(seen)


def test_an_integer_key_is_the_same_key_as_its_text() -> None:
    assert all((a == b).all() for a, b in zip(key_digests([pa.array([1, 20])]), key_digests([pa.array(["1", "20"])]),
                                              strict=True))
