"""The audit page: its numbers equal those counted from the table, bad tables are refused cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from reconciler.cli import main
from reporting.audit.audit_tables import build_table


def figures_of(page: str) -> dict[str, float]:
    return {name: float(value) for name, value in re.findall(r'data-figure="([a-z_]+)" data-value="([^"]+)"', page)}


def expected(table: pa.Table, positive: set[str] | None = None) -> dict[str, float]:
    rows = table.to_pylist()
    found = [r for r in rows if r["recon_status"] == "found"]
    done = [r for r in found if r["completed"]]
    most = max(r["totalAttempts"] or 0 for r in found)
    return {
        "rows": len(rows), "found": len(found),
        "not_found": sum(r["recon_status"] == "not_found" for r in rows),
        "invalid_input": sum(r["recon_status"] == "invalid_input" for r in rows),
        "error": sum(r["recon_status"] == "error" for r in rows),
        "completion_rate": len(done) / len(found), "on_list": len(found),
        "attempted": sum((r["totalAttempts"] or 0) > 0 for r in found),
        "reached_agent": sum(bool(r["lastAgent"]) for r in found), "completed": len(done),
        "positive": sum(positive is None or r["lastDisposition"] in positive for r in done),
        "most_attempts": most, "at_most_attempts": sum((r["totalAttempts"] or 0) == most for r in found),
        "never_attempted": sum((r["totalAttempts"] or 0) == 0 for r in found),
        "not_on_list": sum(r["recon_status"] == "not_found" for r in rows),
    }


@pytest.mark.parametrize("form", ["parquet", "csv"])
def test_every_figure_on_the_page_equals_the_count_from_the_table(tmp_path: Path, form: str) -> None:
    table = build_table(1234)
    source = tmp_path / f"status.{form}"
    if form == "parquet":
        pq.write_table(table, source)
    else:
        pacsv.write_csv(table, source)
    page = tmp_path / "audit.html"
    assert main(["report", str(source), "--html", str(page), "--positive", "Sale, Not interested"]) == 0
    text = page.read_text()
    shown = figures_of(text)
    for name, value in expected(table, {"Sale", "Not interested"}).items():
        assert shown[name] == pytest.approx(value), name
    counted: dict[tuple[str, str], int] = {}
    for row in table.to_pylist():
        if row["recon_status"] == "found":
            key = (str(bool(row["completed"])).lower(), row["lastDisposition"] or "(none)")
            counted[key] = counted.get(key, 0) + 1
    on_page = {(done, name): int(value) for name, done, value
               in re.findall(r'data-disposition="([^"]+)" data-completed="(\w+)" data-value="(\d+)"', text)}
    assert on_page == counted
    agents = dict(re.findall(r'data-agent="([^"]+)" data-value="(\d+)"', text))
    distinct = {row["lastAgent"] for row in table.to_pylist() if row["lastAgent"] and row["recon_status"] == "found"}
    assert len(distinct) > 20  # so that the rest is summed
    assert len(agents) == 21 and f"{len(distinct) - 20} other agents" in agents
    assert sum(int(v) for v in agents.values()) == shown["reached_agent"]
    assert "2026-12-05 02:15" in text


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    pq.write_table(build_table(50), tmp_path / "status.parquet")
    assert main(["report", str(tmp_path / "status.parquet"), "--html", str(tmp_path / "audit.html")]) == 0
    text = (tmp_path / "audit.html").read_text()
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)=["']?https?:""", text) and "@import" not in text
    references = re.findall(r"url\(([^)]*)\)", text)
    assert references and all(ref.startswith("#") for ref in references)  # clip paths inside the page only
    assert text.count("<svg") >= 5 and "<text" in text  # the charts' text stays text, for search and print


def test_exports_hold_the_rows_and_are_linked_from_the_page(tmp_path: Path) -> None:
    table = build_table(300)
    pq.write_table(table, tmp_path / "status.parquet")
    unmatched = pa.table({"account_id": ["Z1", "Z2", "Z3"], "completed": [False, True, False]})
    pacsv.write_csv(unmatched, tmp_path / "unmatched.csv")
    page = tmp_path / "audit.html"
    assert main(["report", str(tmp_path / "status.parquet"), "--html", str(page), "--unmatched",
                 str(tmp_path / "unmatched.csv"), "--exports", str(tmp_path / "exports")]) == 0
    text = page.read_text()
    rows = table.to_pylist()
    never = pacsv.read_csv(tmp_path / "exports" / "never-attempted.csv").column("account_id").to_pylist()
    assert never == [r["account_id"] for r in rows if r["recon_status"] == "found" and not r["totalAttempts"]]
    missing = pacsv.read_csv(tmp_path / "exports" / "not-found.csv").column("account_id").to_pylist()
    assert missing == [r["account_id"] for r in rows if r["recon_status"] == "not_found"]
    assert pacsv.read_csv(tmp_path / "exports" / "unmatched.csv").column("account_id").to_pylist() == ["Z1", "Z2", "Z3"]
    for name in ("never-attempted.csv", "not-found.csv", "unmatched.csv"):
        assert f'href="exports/{name}"' in text
    assert figures_of(text)["unmatched"] == 3


def _refused(tmp_path: Path, source: Path, capsys: pytest.CaptureFixture[str]) -> str:
    page = tmp_path / "audit.html"
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["report", str(source), "--html", str(page)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(source) in error
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no page, not even half of one
    return error


def test_a_table_that_is_not_a_reconciler_table_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "keys.csv"
    source.write_text("account_id,name\nA1,Ann\n")
    assert "not a reconciler output table" in _refused(tmp_path, source, capsys)


def test_a_table_without_status_columns_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "half.parquet"
    pq.write_table(build_table(5).drop_columns(["lastAgent", "totalAttempts"]), source)
    error = _refused(tmp_path, source, capsys)
    assert "lastAgent" in error and "totalAttempts" in error


def test_an_empty_table_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "empty.parquet"
    pq.write_table(build_table(5).slice(0, 0), source)
    assert "no rows" in _refused(tmp_path, source, capsys)


def test_a_missing_or_unreadable_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no such file" in _refused(tmp_path, tmp_path / "nowhere.parquet", capsys)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    assert "cannot be read" in _refused(tmp_path, broken, capsys)
