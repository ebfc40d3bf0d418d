"""The end-of-run summary: its layout, and figures equal to the table it describes."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
from fakes import WHEN, FakeSource, status

from reconciler.config import Credentials, ReconcileConfig, Target
from reconciler.lookup import LookupResult, LookupStatus
from reconciler.reporting.stats import RunStats, ScanFigures, SyncFigures, ThrottleFigures
from reconciler.reporting.summary import format_summary
from reconciler.wiring.pipeline import run

STATS = RunStats(output_path=Path("out/status.parquet"), rows=2002, distinct_keys=1949,
                 by_status={"found": 1969, "not_found": 30, "invalid_input": 3},
                 top_dispositions=[("No answer", 323), ("Not interested", 269), ("Answering machine", 263),
                                   ("Sale", 185), ("Try again later", 176), ("Busy", 100)],
                 requests_sent=1952, retries=3, duration_seconds=97.6, completed_rows=752)


def parse(summary: str) -> dict[str, object]:
    """The figures of a summary, read the way a person reads it."""
    figures: dict[str, object] = {}
    dispositions: dict[str, int] = {}
    in_dispositions = False
    for line in summary.splitlines()[1:]:
        if line == "  top dispositions":
            in_dispositions = True
        elif in_dispositions and (match := re.fullmatch(r"    (.+?) +([\d,]+)", line)):
            dispositions[match[1]] = int(match[2].replace(",", ""))
        elif match := re.fullmatch(r"  (rows|found|not_found|invalid_input|error|completed) +([\d,]+).*", line):
            in_dispositions = False
            figures[match[1]] = int(match[2].replace(",", ""))
        else:
            in_dispositions = False
    figures["top dispositions"] = dispositions
    return figures


def test_the_layout() -> None:
    assert format_summary(STATS).splitlines() == [
        "reconciler: run finished in 1m37s; every row resolved",
        "  rows                2,002  (1,949 distinct keys)",
        "  found               1,969    98.4%",
        "  not_found              30     1.5%",
        "  invalid_input           3     0.1%",
        "  error                   0     0.0%",
        "  completed             752    38.2% of found",
        "  top dispositions",
        "    No answer           323",
        "    Not interested      269",
        "    Answering machine   263",
        "    Sale                185",
        "    Try again later     176",
        "  strategy            query (one request per distinct key)",
        "  requests            1,952 sent, 3 retries, 20.0/s",
        "  output              out/status.parquet",
    ]


def test_errors_are_in_the_headline_and_optional_lines_appear_when_they_apply() -> None:
    stats = replace(STATS, by_status={"found": 1900, "error": 102}, resumed=True, strategy="scan", list_size=3000,
                    bad_rows_skipped=12, bad_row_lines=tuple(range(2, 14)), warnings=4, unmatched_records=1081,
                    top_dispositions=[("A disposition name longer than the labels", 7)],
                    journal_kept=Path("out/status.parquet.reconciler-journal"))
    lines = format_summary(stats).splitlines()
    assert lines[0] == "reconciler: resumed run finished in 1m37s; 102 rows ended in error, see recon_error (exit 1)"
    # A long disposition name widens the label column for every line, so the counts stay aligned.
    assert f"  {'error':<44}  102     5.1%" in lines
    assert f"    {'A disposition name longer than the labels':<42}    7" in lines
    assert f"  {'rows':<44}2,002  (1,949 distinct keys)" in lines
    assert any(line.startswith("  strategy ") and line.endswith("scan (the list read in pages of 1,000, "
                                                                 "a list of 3,000 records)") for line in lines)
    assert any(line.endswith("12 (lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...)") for line in lines)
    assert any(line.endswith("4 values could not be read and were left null") for line in lines)
    assert any(line.endswith("1,081 records of the list no input key asked for") for line in lines)
    assert lines[-1].endswith("out/status.parquet.reconciler-journal kept: add --retry-errors to the same command "
                              "to ask again for the error rows only")


def strategy_line(stats: RunStats) -> str:
    return next(line for line in format_summary(stats).splitlines() if line.startswith("  strategy "))


def test_pages_out_of_order_and_records_read_twice_are_said_only_when_met() -> None:
    clean = replace(STATS, strategy="scan", scan=ScanFigures())
    assert strategy_line(clean).endswith("scan (the list read in pages of 1,000)")
    shuffled = replace(STATS, strategy="scan", scan=ScanFigures(records_read_twice=12, pages_out_of_order=3,
                                                                keys_asked=40, keys_found_by_asking=1))
    assert strategy_line(shuffled).endswith(
        "scan (the list read in pages of 1,000; 3 pages out of index order; 12 records read twice; "
        "40 keys it did not find asked one by one, 1 found)")
    v3_twice = replace(STATS, strategy="scan", scan=ScanFigures(records_read_twice=1))
    assert strategy_line(v3_twice).endswith("scan (the list read in pages of 1,000; 1 record read twice)")
    full = replace(STATS, strategy="incremental", asked_one_by_one=31,
                   sync=SyncFigures(full_read=True, reason="the state holds no full read yet", pages=3, changed=0,
                                    pages_out_of_order=1))
    assert strategy_line(full).endswith("incremental (the whole list read again: the state holds no full read yet; "
                                        "1 page out of index order; 31 keys asked one by one)")


def test_a_throttled_run_says_how_much_and_an_unthrottled_one_says_nothing() -> None:
    assert not any("throttled" in line for line in format_summary(STATS).splitlines())
    throttled = replace(STATS, throttle=ThrottleFigures(overload_answers=40, rate_cuts=3, lowest_rate=2.5,
                                                        retry_after_pauses=2, retry_after_seconds=61.0))
    lines = format_summary(throttled).splitlines()
    requests = next(i for i, line in enumerate(lines) if line.startswith("  requests "))
    assert lines[requests + 1] == ("  throttled           rate cut 3 times (lowest 2.5/s); "
                                   "2 Retry-After pauses, 1m01s in all")
    cut_only = replace(STATS, throttle=ThrottleFigures(overload_answers=25, rate_cuts=1, lowest_rate=10.0))
    assert "  throttled           rate cut once (lowest 10.0/s)" in format_summary(cut_only).splitlines()
    paused = replace(STATS, throttle=ThrottleFigures(overload_answers=1, retry_after_pauses=1, retry_after_seconds=5))
    assert "  throttled           1 Retry-After pause, 5.0 s in all" in format_summary(paused).splitlines()


def test_counts_share_one_right_aligned_column() -> None:
    lines = format_summary(STATS).splitlines()
    counted = lines[1:7] + lines[8:13]  # rows to completed, then the dispositions
    ends = {re.match(r"  .+?\d(?=\s|$)", line).end() for line in counted}  # type: ignore[union-attr]
    assert len(ends) == 1


def test_nothing_found_means_no_completion_line() -> None:
    stats = replace(STATS, by_status={"not_found": 2002}, completed_rows=0, top_dispositions=[])
    summary = format_summary(stats)
    assert "completed" not in summary and "top dispositions" not in summary


def test_the_summary_of_a_run_equals_the_counts_of_its_table(tmp_path: Path) -> None:
    lines = ["account_id,note"] + [f"{i % 37:03d},n{i}" for i in range(300)] + [" ,blank", ",empty"]
    (tmp_path / "keys.csv").write_text("\n".join(lines) + "\n")
    dispositions = ["Sale", "No answer", "Busy", None, "Callback", "Fax", "Wrong number"]
    records = {(f"{i:03d}",): ({"account_id": f"{i:03d}"},
                               status(completed=i % 3 == 0, last_disposition=dispositions[i % 7], last_date=WHEN))
               for i in range(30)}
    failing = {"031", "032"}

    def fail(key: dict[str, str]) -> LookupResult | None:
        if key["account_id"] in failing:
            return LookupResult(status=LookupStatus.ERROR, attempts=8, http_status=503, error="HTTP 503")
        return None

    fake = FakeSource(records=records, key_columns=("account_id",), fail=fail)  # type: ignore[arg-type]
    config = ReconcileConfig(input_path=tmp_path / "keys.csv", output_path=tmp_path / "out.parquet",
                             target=Target(base_url="http://127.0.0.1:9", tenant="t", list_name="l", campaign="c"),
                             credentials=Credentials(login="u", secret="pw"), key_columns=("account_id",),
                             strategy="query")
    figures = parse(format_summary(run(config, source_factory=fake.factory())))

    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    statuses = Counter(table["recon_status"])
    assert figures["rows"] == len(table["recon_status"]) == 302
    for name in ("found", "not_found", "invalid_input", "error"):
        assert figures[name] == statuses[name], name
    assert figures["completed"] == sum(1 for value in table["completed"] if value)
    counted = Counter(value for value in table["lastDisposition"] if value is not None)
    assert figures["top dispositions"] == dict(counted.most_common(5))


def test_one_error_row_is_said_in_the_singular() -> None:
    stats = replace(STATS, by_status={"found": 2001, "error": 1})
    assert format_summary(stats).splitlines()[0] == \
        "reconciler: run finished in 1m37s; 1 row ended in error, see recon_error (exit 1)"
