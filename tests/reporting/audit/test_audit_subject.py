"""Which campaign the page is about: its title and heading name tenant, list, campaign and run, from
flags or from the run's JSON report, and say plainly what is not known."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reconciler.cli import main
from reporting.audit.audit_tables import build_table

RUN_ID = "20261205T021500Z-3f9a1c"  # build_table's recon_run_id


def _table(tmp_path: Path, rows: int = 60, *, run_date: date | None = date(2026, 12, 5)) -> Path:
    table = build_table(rows)
    if run_date is not None:
        table = table.append_column("recon_run_date", pa.array([run_date] * rows, pa.date32()))
    path = tmp_path / "status.parquet"
    pq.write_table(table, path)
    return path


def _page(tmp_path: Path, *flags: str, table: Path | None = None) -> tuple[str, str]:
    """(the title, the h1) of the page ``reconciler report`` writes with ``flags``."""
    page = tmp_path / "audit.html"
    assert main(["report", str(table or _table(tmp_path)), "--html", str(page), *flags]) == 0
    text = page.read_text()
    title = re.search(r"<title>(.*?)</title>", text, re.S)
    h1 = re.search(r"<h1>(.*?)</h1>", text, re.S)
    assert title and h1
    return title.group(1), h1.group(1)


def _report(tmp_path: Path, *, run_id: str | None = RUN_ID, keys: list[str] | None = None,
            configuration: bool = True) -> Path:
    path = tmp_path / "report.json"
    content = {"report_version": 2, "configuration": {
        "tenant": "acme.brightpattern.com", "list": "List_1.txt", "campaign": "Outbound_Q4",
        "key_columns": ["account_id"] if keys is None else keys, "secret": "<redacted>"} if configuration else None,
        "figures": {"run_id": run_id, "run_date": "2026-12-05"}}
    path.write_text(json.dumps(content))
    return path


def test_the_title_and_heading_name_tenant_list_campaign_run_and_date(tmp_path: Path) -> None:
    title, h1 = _page(tmp_path, "--tenant", "acme.brightpattern.com", "--list", "List_1.txt",
                      "--campaign", "Outbound_Q4")
    expected = f"Campaign audit: campaign Outbound_Q4, list List_1.txt, tenant acme.brightpattern.com; " \
               f"run {RUN_ID} of 2026-12-05"
    assert title == expected and h1 == expected


def test_what_is_not_given_is_said_to_be_not_known(tmp_path: Path) -> None:
    title, h1 = _page(tmp_path, "--campaign", "Outbound_Q4")
    assert title == h1 == f"Campaign audit: campaign Outbound_Q4; list and tenant not known; run {RUN_ID} of 2026-12-05"
    title, _ = _page(tmp_path, table=_table(tmp_path, run_date=None))
    assert title == f"Campaign audit: campaign, list and tenant not known; run {RUN_ID}"
    text = (tmp_path / "audit.html").read_text()
    assert 'data-context="tenant" data-unknown="true">not known</span> (give --tenant or --run-report)' in text


def test_the_run_report_names_the_campaign_and_the_key(tmp_path: Path) -> None:
    title, h1 = _page(tmp_path, "--run-report", str(_report(tmp_path)))
    assert title == h1 == (f"Campaign audit: campaign Outbound_Q4, list List_1.txt, tenant acme.brightpattern.com; "
                           f"run {RUN_ID} of 2026-12-05")
    assert 'data-figure="keys"' in (tmp_path / "audit.html").read_text()  # its key counts records


def test_a_flag_wins_over_the_run_report(tmp_path: Path) -> None:
    title, _ = _page(tmp_path, "--run-report", str(_report(tmp_path)), "--campaign", "Outbound_Q1")
    assert title.startswith("Campaign audit: campaign Outbound_Q1, list List_1.txt,")


def test_a_run_report_without_keys_means_the_first_column_is_the_key(tmp_path: Path) -> None:
    _page(tmp_path, "--run-report", str(_report(tmp_path, keys=[])))
    assert "distinct keys of account_id" in (tmp_path / "audit.html").read_text()


@pytest.mark.parametrize(("report", "words"), [
    ({"run_id": "20261207T021500Z-aaaaaa"}, "is the report of run 20261207T021500Z-aaaaaa, but"),
    ({"configuration": False}, "is not a run report with a configuration"),
])
def test_a_run_report_of_another_run_or_without_settings_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], report: dict[str, object], words: str) -> None:
    path = _report(tmp_path, **report)  # type: ignore[arg-type]
    page = tmp_path / "audit.html"
    assert main(["report", str(_table(tmp_path)), "--html", str(page), "--run-report", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(path) in error and words in error
    assert not page.exists()


def test_a_missing_or_broken_run_report_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table, page = _table(tmp_path), tmp_path / "audit.html"
    assert main(["report", str(table), "--html", str(page), "--run-report", str(tmp_path / "none.json")]) == 2
    assert "none.json: no such run report" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{not json")
    assert main(["report", str(table), "--html", str(page), "--run-report", str(tmp_path / "broken.json")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "cannot be read as a run report" in error
    assert not page.exists()
