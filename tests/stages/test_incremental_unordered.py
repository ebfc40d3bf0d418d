"""The nightly full read over pages in any order, with holes: as a scan reads them, and its unfound keys asked."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fakes import config

from reconciler.errors import TargetNotFound
from reconciler.reporting.stats import RunStats
from reconciler.wiring.pipeline import run
from stages.shuffled import ShuffledList, key_of

from .test_incremental import HOW_ASKED, write_keys

HOLES = (888, 890, 917)
KEYS = [key_of(i) for i in range(0, 2500, 7)] + [key_of(700), key_of(1500), "999999"]  # 917 is a hole


def nightly(tmp_path: Path, source: ShuffledList, output: str = "night.parquet") -> tuple[RunStats, pa.Table]:
    stats = run(config(tmp_path, output_name=output, key_columns=("account_id",), strategy="incremental",
                       state_path=tmp_path / "list.state"), source_factory=source.factory())
    return stats, pq.read_table(tmp_path / output)


def statuses(table: pa.Table) -> dict[str, str]:
    return dict(zip(table.column("account_id").to_pylist(), table.column("recon_status").to_pylist(), strict=True))


def scanned_in_order(tmp_path: Path) -> pa.Table:
    """What a scan of a server that answers every page in order and whole writes."""
    run(config(tmp_path, output_name="scan.parquet", key_columns=("account_id",), strategy="scan"),
        source_factory=ShuffledList(2500, deleted=HOLES, shuffled=()).factory())
    return pq.read_table(tmp_path / "scan.parquet")


def test_a_full_read_of_shuffled_pages_equals_a_scan_and_its_unfound_keys_are_asked(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    # Page 1003 comes shuffled and leaves index 1500 out; the last page sends index 10 again.
    source = ShuffledList(2500, deleted=HOLES, shuffled={1003}, skipped={1500}, resent={2004: [10]})
    stats, table = nightly(tmp_path, source)

    assert source.pages == [0, 1003, 2004]  # past each page's highest index: 1002, then 2003
    assert stats.sync is not None and stats.sync.full_read
    assert (stats.sync.pages_out_of_order, stats.sync.records_read_twice) == (2, 1)
    assert source.asked == {(key_of(917),): 1, (key_of(1500),): 1, ("999999",): 1}
    assert stats.asked_one_by_one == 3
    expected = scanned_in_order(tmp_path)
    assert table.drop_columns(HOW_ASKED).equals(expected.drop_columns(HOW_ASKED))
    assert table.column("recon_status").equals(expected.column("recon_status"))

    # The record found by asking joined the state: the next night asks only what the list lacks.
    source.asked.clear()
    stats, _ = nightly(tmp_path, source, "night2.parquet")
    assert stats.sync is not None and not stats.sync.full_read and stats.sync.pages_out_of_order == 0
    assert source.asked == {(key_of(917),): 1, ("999999",): 1}


def test_a_full_read_in_order_calls_the_keys_it_lacks_not_found_without_asking(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    source = ShuffledList(2500, deleted=HOLES, shuffled=())
    stats, table = nightly(tmp_path, source)
    assert source.asked == {} and stats.asked_one_by_one == 0
    assert stats.sync is not None and (stats.sync.pages_out_of_order, stats.sync.records_read_twice) == (0, 0)
    assert statuses(table)[key_of(917)] == statuses(table)["999999"] == "not_found"


def test_a_full_read_killed_after_a_shuffled_page_goes_on_past_its_highest_and_still_asks(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    with pytest.raises(TargetNotFound):
        nightly(tmp_path, ShuffledList(2500, shuffled={0}, skipped={700}, fail_after_pages=1))
    resumed = ShuffledList(2500, shuffled={0}, skipped={700})
    stats, table = nightly(tmp_path, resumed)

    assert resumed.pages == [1001, 2001]  # page 0 held 0..1000 less 700
    assert stats.sync is not None and stats.sync.pages_out_of_order == 1  # the first run's page, remembered
    assert resumed.asked == {(key_of(700),): 1, ("999999",): 1}
    assert statuses(table)[key_of(700)] == "found"
