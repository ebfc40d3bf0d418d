"""The scan strategy with a plain in-memory list: paging, resume, list size, the auto rule."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fakes import FakeSource, config, status

from reconciler.config import RequestPolicy
from reconciler.errors import TargetNotFound
from reconciler.lookup import ListedRecord, LookupResult
from reconciler.reporting.summary import format_summary
from reconciler.stages.scan import PAGE_SIZE, listed_key
from reconciler.stages.strategy import choose_strategy, list_size, scan_requests
from reconciler.wiring.pipeline import run

pytestmark = pytest.mark.anyio


class PagedList(FakeSource):
    """A list of ``size`` records ``{"ACCOUNT_ID": "000000".."}``; counts pages and can fail after some."""

    def __init__(self, size: int, fail_after_pages: int | None = None) -> None:
        records = {(f"{i:06d}",): ({"ACCOUNT_ID": f"{i:06d}", "name": f"n{i}"}, status(completed=i % 3 == 0))
                   for i in range(size)}
        super().__init__(records=records, key_columns=("account_id",))
        self.pages: list[tuple[int, int]] = []
        self.fail_after_pages = fail_after_pages

    async def fetch_page(self, from_index: int, max_size: int) -> list[ListedRecord]:
        if self.fail_after_pages is not None and len(self.pages) >= self.fail_after_pages:
            raise TargetNotFound("campaign", "simulated crash")
        self.pages.append((from_index, max_size))
        return await super().fetch_page(from_index, max_size)

    async def query(self, key: Mapping[str, str]) -> LookupResult:
        # Entry names come back as the server spells them, like the page's.
        return await super().query({"account_id": key["account_id"]})


def write_keys(tmp_path: Path, keys: list[str]) -> None:
    (tmp_path / "keys.csv").write_text("account_id,owner\n" + "".join(f"{k},o{i}\n" for i, k in enumerate(keys)))


KEYS = ["000005", "999999", "002500", "000005", "", "004999", "000000"]


def test_scan_and_query_write_the_same_table(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    scanned = PagedList(5000)
    run(config(tmp_path, output_name="scan.parquet", key_columns=("account_id",), strategy="scan"),
        source_factory=scanned.factory())
    queried = PagedList(5000)
    run(config(tmp_path, output_name="query.parquet", key_columns=("account_id",), strategy="query"),
        source_factory=queried.factory())

    how_asked = {"recon_http_status", "recon_error", "recon_attempts", "recon_checked_at", "recon_source",
                 "recon_run_id"}  # two runs
    scan_table = pq.read_table(tmp_path / "scan.parquet")
    query_table = pq.read_table(tmp_path / "query.parquet")
    assert scan_table.schema == query_table.schema
    assert scan_table.drop_columns(list(how_asked)) == query_table.drop_columns(list(how_asked))
    assert scan_table.to_pydict()["recon_status"] == ["found", "not_found", "found", "found", "invalid_input",
                                                      "found", "found"]
    assert scanned.pages == [(i * PAGE_SIZE, PAGE_SIZE) for i in range(6)]  # 5 full pages, then []
    assert sum(queried.asked.values()) == 5


def test_a_crash_mid_scan_resumes_from_the_last_finished_page(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "004321"])
    crashing = PagedList(4500, fail_after_pages=3)
    with pytest.raises(TargetNotFound):
        run(config(tmp_path, key_columns=("account_id",), strategy="scan"), source_factory=crashing.factory())
    resumed = PagedList(4500)
    stats = run(config(tmp_path, key_columns=("account_id",), strategy="scan"), source_factory=resumed.factory())

    assert resumed.pages == [(3000, PAGE_SIZE), (4000, PAGE_SIZE)]
    assert stats.by_status == {"found": 2}


def test_unmatched_lists_the_records_no_key_asked_for(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "000003"])
    run(config(tmp_path, key_columns=("account_id",), strategy="scan", unmatched_path=tmp_path / "unmatched.csv"),
        source_factory=PagedList(5).factory())

    import pyarrow.csv as pacsv

    table = pacsv.read_csv(tmp_path / "unmatched.csv").to_pydict()
    assert table["list_index"] == [0, 2, 4]
    assert table["name"] == ["n0", "n2", "n4"]
    assert "recon_status" not in table


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 123_457])
async def test_list_size_is_found_by_binary_search(size: int) -> None:
    source = PagedList(0)
    source.records = {(str(i),): ({"ACCOUNT_ID": str(i)}, status()) for i in range(size)}  # type: ignore[misc]
    assert await list_size(source) == size
    assert len(source.pages) <= 2 * size.bit_length() + 12  # about 2 * log2(size), not size / 1000


def test_auto_scans_only_when_that_needs_fewer_requests() -> None:
    assert scan_requests(5000, page_size=PAGE_SIZE) == 6 and scan_requests(4999, page_size=PAGE_SIZE) == 5
    assert choose_strategy(distinct_keys=10_000, size=20_000_000, page_size=PAGE_SIZE) == "query"
    assert choose_strategy(distinct_keys=10_000, size=100_000, page_size=PAGE_SIZE) == "scan"
    assert choose_strategy(distinct_keys=10_000, size=None, page_size=PAGE_SIZE) == "query"


def test_the_auto_rule_counts_pages_of_the_page_size() -> None:
    assert scan_requests(5000, page_size=100) == 51 and scan_requests(4999, page_size=100) == 50
    # 101 pages of 1,000 are fewer requests than 200 keys; 1,001 pages of 100 are more.
    assert choose_strategy(distinct_keys=200, size=100_000, page_size=PAGE_SIZE) == "scan"
    assert choose_strategy(distinct_keys=200, size=100_000, page_size=100) == "query"


def test_a_scan_asks_pages_of_the_page_size_and_says_so(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    scanned = PagedList(5000)
    stats = run(config(tmp_path, key_columns=("account_id",), strategy="scan", policy=RequestPolicy(page_size=300)),
                source_factory=scanned.factory())
    assert scanned.pages == [(i * 300, 300) for i in range(17)]  # 16 full pages, then one of 200
    assert stats.by_status == {"found": 5, "not_found": 1, "invalid_input": 1}
    assert "scan (the list read in pages of 300)" in format_summary(stats)


def test_auto_probes_the_list_and_picks_scan_for_many_keys(tmp_path: Path) -> None:
    write_keys(tmp_path, [f"{i:06d}" for i in range(0, 3000, 10)])  # 300 keys, a list of 3,000
    source = PagedList(3000)
    stats = run(config(tmp_path, key_columns=("account_id",), strategy="auto"), source_factory=source.factory())
    assert stats.strategy == "scan" and stats.list_size == 3000
    assert sum(source.asked.values()) == 0


def test_listed_key_matches_field_names_case_insensitively_and_refuses_blanks() -> None:
    record = ListedRecord(index=0, entry={"Phone": "+1650", "REGION": "a,b"}, record=None)
    assert listed_key(record, ("phone", "region")) == "+1650\x1fa,b"
    assert listed_key(ListedRecord(index=0, entry={"phone": " "}, record=None), ("phone",)) is None
    assert listed_key(ListedRecord(index=0, entry={}, record=None), ("phone",)) is None
