"""The scan strategy over a list read by cursor (v3): paging, numbering, resume, and auto's size."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fakes import config

from reconciler.config import RequestPolicy
from reconciler.errors import TargetNotFound
from reconciler.lookup import ChangesPage, CursorPage, CursorRecordSource, ListedRecord
from reconciler.stages.scan import PAGE_SIZE
from reconciler.wiring.pipeline import run

from .test_scan import PagedList, write_keys

HOW_ASKED = ["recon_http_status", "recon_error", "recon_attempts", "recon_checked_at", "recon_run_id"]  # two runs


class CursorList(PagedList):
    """The same list, read by opaque cursors (``"after-N"``) that only this source understands."""

    def __init__(self, size: int, fail_after_pages: int | None = None, count: int | None = None) -> None:
        super().__init__(size, fail_after_pages)
        self.cursors: list[str | None] = []
        self.count = count

    async def fetch_records(self, cursor: str | None, limit: int, first_index: int) -> CursorPage:
        if self.fail_after_pages is not None and len(self.cursors) >= self.fail_after_pages:
            raise TargetNotFound("campaign", "simulated crash")
        self.cursors.append(cursor)
        start = 0 if cursor is None else int(cursor.removeprefix("after-"))
        items = list(self.records.values())[start:start + limit]
        records = [ListedRecord(index=first_index + i, entry=e, record=s) for i, (e, s) in enumerate(items)]
        after = start + len(items)
        return CursorPage(records=records, next_cursor=f"after-{after}" if len(items) == limit else None)

    async def record_count(self) -> int | None:
        return self.count

    def list_instance(self) -> str:
        return "instance-1"

    async def fetch_updated_records(self, since: datetime, cursor: str | None, limit: int) -> ChangesPage:
        raise AssertionError("a scan never asks for changes")

    fetch_completed_records = fetch_updated_records


def test_the_fake_reads_by_cursor() -> None:
    assert isinstance(CursorList(1), CursorRecordSource)
    assert not isinstance(PagedList(1), CursorRecordSource)


def test_a_cursor_scan_writes_the_table_an_index_scan_writes(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000005", "999999", "002500", "000005", "", "004999", "000000"])
    by_cursor = CursorList(5000)
    run(config(tmp_path, output_name="cursor.parquet", key_columns=("account_id",), strategy="scan"),
        source_factory=by_cursor.factory())
    by_index = PagedList(5000)
    run(config(tmp_path, output_name="index.parquet", key_columns=("account_id",), strategy="scan"),
        source_factory=by_index.factory())

    assert pq.read_table(tmp_path / "cursor.parquet").drop_columns(HOW_ASKED) == \
        pq.read_table(tmp_path / "index.parquet").drop_columns(HOW_ASKED)
    assert by_cursor.cursors == [None, *(f"after-{i * PAGE_SIZE}" for i in range(1, 6))]
    assert by_cursor.pages == []  # never asked by index


def test_a_crash_mid_cursor_scan_resumes_from_the_last_stored_cursor(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "004321"])
    with pytest.raises(TargetNotFound):
        run(config(tmp_path, key_columns=("account_id",), strategy="scan"),
            source_factory=CursorList(4500, fail_after_pages=3).factory())
    resumed = CursorList(4500)
    stats = run(config(tmp_path, key_columns=("account_id",), strategy="scan",
                       unmatched_path=None), source_factory=resumed.factory())

    assert resumed.cursors == ["after-3000", "after-4000"]
    assert stats.by_status == {"found": 2}


def test_records_read_by_cursor_are_numbered_in_list_order_across_a_resume(tmp_path: Path) -> None:
    write_keys(tmp_path, [f"{i:06d}" for i in range(1, 2500)])  # every record but 0 and 2500..2999
    unmatched = tmp_path / "unmatched.csv"
    with pytest.raises(TargetNotFound):
        run(config(tmp_path, key_columns=("account_id",), strategy="scan", unmatched_path=unmatched),
            source_factory=CursorList(3000, fail_after_pages=2).factory())
    run(config(tmp_path, key_columns=("account_id",), strategy="scan", unmatched_path=unmatched),
        source_factory=CursorList(3000).factory())

    import pyarrow.csv as pacsv

    table = pacsv.read_csv(unmatched, convert_options=pacsv.ConvertOptions(
        column_types={"ACCOUNT_ID": "string"})).to_pydict()
    assert table["list_index"] == [0, *range(2500, 3000)]
    assert table["ACCOUNT_ID"] == [f"{i:06d}" for i in table["list_index"]]


@pytest.mark.parametrize(("count", "strategy"), [(3000, "scan"), (10_000_000, "query"), (None, "query")])
def test_auto_takes_the_size_the_look_up_reported(tmp_path: Path, count: int | None, strategy: str) -> None:
    write_keys(tmp_path, [f"{i:06d}" for i in range(0, 3000, 10)])  # 300 keys
    source = CursorList(3000, count=count)
    stats = run(config(tmp_path, key_columns=("account_id",), strategy="auto"), source_factory=source.factory())
    assert (stats.strategy, stats.list_size) == (strategy, count)
    assert source.pages == []  # no binary search over an index a cursor list does not have
    assert len(source.cursors) == (4 if strategy == "scan" else 0)


def test_a_cursor_scan_resumed_with_another_page_size_goes_on_with_the_size_its_cursor_was_made_for(
        tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "004321"])
    with pytest.raises(TargetNotFound):
        run(config(tmp_path, key_columns=("account_id",), strategy="scan", policy=RequestPolicy(page_size=500)),
            source_factory=CursorList(4500, fail_after_pages=3).factory())
    resumed = LimitsSeen(4500)
    stats = run(config(tmp_path, key_columns=("account_id",), strategy="scan", unmatched_path=None),
                source_factory=resumed.factory())

    # The API notes do not say a cursor may go on with another limit: the stored one keeps its own.
    assert resumed.cursors == [f"after-{n}" for n in range(1500, 4501, 500)]  # the last one an empty page
    assert set(resumed.limits) == {500}
    assert stats.by_status == {"found": 2}
    # The next read of the list starts afresh, at tonight's size.
    fresh = LimitsSeen(4500)
    run(config(tmp_path, key_columns=("account_id",), strategy="scan", unmatched_path=None, fresh=True),
        source_factory=fresh.factory())
    assert fresh.limits == [PAGE_SIZE] * 5


class LimitsSeen(CursorList):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.limits: list[int] = []

    async def fetch_records(self, cursor: str | None, limit: int, first_index: int) -> CursorPage:
        self.limits.append(limit)
        return await super().fetch_records(cursor, limit, first_index)
