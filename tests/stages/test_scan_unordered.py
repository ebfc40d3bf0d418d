"""Pages in any order, with holes: paged on past their highest index, stored once by key, unfound keys asked."""

from __future__ import annotations

from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fakes import config

from reconciler.errors import PageUnreadable, TargetNotFound
from reconciler.lookup import CursorPage, ListedRecord
from reconciler.reporting.stats import RunStats, ScanFigures
from reconciler.stages.scan import PAGE_SIZE
from reconciler.wiring.pipeline import run
from stages.shuffled import ShuffledList, key_of

from .test_scan_cursor import CursorList

HOW_ASKED = ["recon_http_status", "recon_error", "recon_attempts", "recon_checked_at", "recon_source",
             "recon_run_id"]
HOLES = (888, 890, 917)  # the recorded page lacked these


def write_keys(tmp_path: Path, keys: list[str]) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n" + "".join(f"{k}\n" for k in keys))


def scan(tmp_path: Path, source: ShuffledList | CursorList, output: str = "out.parquet") -> tuple[RunStats, pa.Table]:
    stats = run(config(tmp_path, output_name=output, key_columns=("account_id",), strategy="scan"),
                source_factory=source.factory())
    return stats, pq.read_table(tmp_path / output)


def statuses(table: pa.Table) -> dict[str, str]:
    return dict(zip(table.column("account_id").to_pylist(), table.column("recon_status").to_pylist(), strict=True))


def test_a_shuffled_page_ending_on_a_low_index_is_paged_on_from_past_its_highest(tmp_path: Path) -> None:
    keys = [key_of(i) for i in range(0, 2500, 7)]
    write_keys(tmp_path, keys)
    first = anyio.run(ShuffledList(2500, shuffled={0}).fetch_page, 0, PAGE_SIZE)
    assert first[-1].index == 0 and max(r.index for r in first) == 999  # ends on its lowest index
    source = ShuffledList(2500, shuffled={0})
    stats, table = scan(tmp_path, source)

    assert source.pages == [0, 1000, 2000]  # not from 1 (past the last item): nothing read again, nothing skipped
    assert set(statuses(table).values()) == {"found"}
    assert stats.scan == ScanFigures(records_read_twice=0, pages_out_of_order=1, keys_asked=0, keys_found_by_asking=0)
    assert sum(source.asked.values()) == 0  # every key was found: nothing left to ask


@pytest.mark.parametrize("shuffled", [False, True], ids=["in order", "shuffled"])
def test_holes_of_deleted_records_skip_nothing(tmp_path: Path, shuffled: bool) -> None:
    keys = [key_of(i) for i in range(850, 950)] + ["999999"]
    write_keys(tmp_path, keys)
    source = ShuffledList(2500, deleted=HOLES, shuffled=None if shuffled else ())
    stats, table = scan(tmp_path, source)

    assert source.pages == [0, 1003, 2003]  # page 0 holds indexes 0..1002 less the three holes
    gone = {key_of(i) for i in HOLES} | {"999999"}
    assert {key for key, status in statuses(table).items() if status != "found"} == gone
    assert all(statuses(table)[key] == "not_found" for key in gone)
    assert stats.scan is not None and stats.scan.pages_out_of_order == (3 if shuffled else 0)
    # Pages in order leave nothing to doubt; shuffled ones have each unfound key confirmed by asking.
    assert source.asked == ({(key,): 1 for key in sorted(gone)} if shuffled else {})
    assert (stats.scan.keys_asked, stats.scan.keys_found_by_asking) == ((4, 0) if shuffled else (0, 0))


def test_a_record_read_again_replaces_its_first_read_and_is_counted(tmp_path: Path) -> None:
    write_keys(tmp_path, [key_of(5), key_of(1500)])
    source = ShuffledList(2500, shuffled=(), resent={1000: [5]})  # page 1000 sends index 5 again
    source.before_page = lambda from_index: source.call(5, "Busy") if from_index == 1000 else None
    stats, table = scan(tmp_path, source)

    rows = {row["account_id"]: row for row in table.to_pylist()}
    assert rows[key_of(5)]["lastDisposition"] == "Busy" and rows[key_of(5)]["totalAttempts"] == 2  # the later read
    assert source.pages == [0, 1000, 1999]  # that page held 999 of its range: the next goes on past its highest
    assert stats.scan is not None
    assert (stats.scan.records_read_twice, stats.scan.pages_out_of_order) == (1, 1)  # an index below fromIndex
    assert set(statuses(table).values()) == {"found"} and sum(source.asked.values()) == 0


def test_out_of_order_pages_have_the_unfound_keys_asked_and_ordered_ones_do_not(tmp_path: Path) -> None:
    """A worse server leaves index 1500 out of its page: only the asking after a shuffled scan finds it."""
    keys = [key_of(1499), key_of(1500), "999999"]
    write_keys(tmp_path, keys)
    shuffled = ShuffledList(2500, skipped={1500})
    stats, table = scan(tmp_path, shuffled, "shuffled.parquet")
    assert shuffled.asked == {(key_of(1500),): 1, ("999999",): 1}
    assert statuses(table) == {key_of(1499): "found", key_of(1500): "found", "999999": "not_found"}
    assert stats.scan is not None and (stats.scan.keys_asked, stats.scan.keys_found_by_asking) == (2, 1)
    assert table.to_pylist()[1]["name"] == "n1500"

    ordered = ShuffledList(2500, skipped={1500}, shuffled=())
    stats, table = scan(tmp_path, ordered, "ordered.parquet")
    assert ordered.asked == {} and ordered.stats.requests_sent == 0  # in order: not one request more
    assert stats.scan == ScanFigures()
    # The reading's limit, written down: pages in order are trusted, so a record one leaves out is not found.
    assert statuses(table)[key_of(1500)] == "not_found"


def test_a_scan_killed_after_a_shuffled_page_resumes_past_its_highest_and_still_confirms(tmp_path: Path) -> None:
    keys = [key_of(i) for i in range(0, 2500, 3)] + [key_of(700), "999999"]
    write_keys(tmp_path, keys)
    crashing = ShuffledList(2500, shuffled={0}, skipped={700}, fail_after_pages=1)
    with pytest.raises(TargetNotFound):
        scan(tmp_path, crashing)
    resumed = ShuffledList(2500, shuffled={0}, skipped={700})
    stats, table = scan(tmp_path, resumed)

    assert resumed.pages == [1001, 2001]  # page 0 held 0..1000 less 700: stored with the position 1001
    # The resumed run's own pages came in order; the first run's did not, and that is remembered.
    assert resumed.asked == {(key_of(700),): 1, ("999999",): 1}
    assert stats.scan is not None and stats.scan.pages_out_of_order == 1
    whole_stats, whole = scan(tmp_path, ShuffledList(2500, shuffled={0}, skipped={700}), "whole.parquet")
    assert table.drop_columns(HOW_ASKED).equals(whole.drop_columns(HOW_ASKED))
    assert whole_stats.scan == stats.scan


def test_a_full_page_with_no_index_from_its_from_index_on_stops_the_run(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001"])
    source = ShuffledList(3000)

    async def ignores_from_index(from_index: int, max_size: int) -> list[ListedRecord]:
        source.pages.append(from_index)
        return [source.listed(i) for i in range(max_size)]  # always the first page

    source.fetch_page = ignores_from_index  # type: ignore[method-assign]
    with pytest.raises(PageUnreadable, match=r"getAll page from index 1000 could not be read: its 1,000 records "
                                             r"all lie below that index \(the highest is 999\)"):
        scan(tmp_path, source)
    assert source.pages == [0, 1000]


class RepeatingCursorList(CursorList):
    """A v3 list whose second page sends the first record again, with a newer status."""

    async def fetch_records(self, cursor: str | None, limit: int, first_index: int) -> CursorPage:
        page = await super().fetch_records(cursor, limit, first_index)
        if cursor != "after-1000":
            return page
        entry, record = self.records[("000000",)]
        again = ListedRecord(index=first_index + len(page.records), entry=entry,
                             record=record.__class__(completed=True, last_disposition="Sale", total_attempts=4))
        return CursorPage(records=[*page.records, again], next_cursor=page.next_cursor)


def test_a_v3_record_read_twice_is_stored_once_with_its_later_read(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000000", "001500"])
    source = RepeatingCursorList(2500)
    stats, table = scan(tmp_path, source)
    rows = {row["account_id"]: row for row in table.to_pylist()}
    assert rows["000000"]["lastDisposition"] == "Sale" and rows["000000"]["totalAttempts"] == 4
    assert stats.scan == ScanFigures(records_read_twice=1)  # a cursor's pages are never out of order
    assert sum(source.asked.values()) == 0
