"""A read of the whole list whose first page has no record with the --key fields stops (KeyFieldMissing).

Without the check, every record is counted unkeyed and every input key ends ``not_found``: a table
that looks complete and is wrong. Scan by index and by cursor, and the nightly full read (both).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import config, status

from reconciler.errors import KeyFieldMissing
from reconciler.lookup import ListedRecord
from reconciler.stages.key_check import check_key_fields
from reconciler.stages.scan import PAGE_SIZE
from reconciler.wiring.pipeline import run
from stages.campaign import CursorCampaign, MovingCampaign

from .test_scan import PagedList
from .test_scan_cursor import CursorList


def write_phone_keys(tmp_path: Path) -> None:
    """Keys by a column the list's records do not have (its key field is ACCOUNT_ID / account_id)."""
    (tmp_path / "keys.csv").write_text("phone1,account_id\n16505550001,000001\n16505550002,000002\n")


def journal_of(tmp_path: Path) -> Path:
    return tmp_path / "out.parquet.reconciler-journal"


@pytest.mark.parametrize("source", [PagedList(2500), CursorList(2500)], ids=["by index", "by cursor"])
def test_a_scan_whose_first_page_lacks_the_key_field_stops_after_that_page(tmp_path: Path,
                                                                           source: PagedList) -> None:
    write_phone_keys(tmp_path)
    with pytest.raises(KeyFieldMissing) as raised:
        run(config(tmp_path, key_columns=("phone1",), strategy="scan"), source_factory=source.factory())
    error = raised.value
    assert (error.fields, error.key_columns, error.exit_code) == (("phone1",), ("phone1",), 3)
    assert error.entry_fields == ("ACCOUNT_ID", "name")
    assert str(error) == "no record of the calling list has the key field(s) phone1 (--key); its entries have: " \
                         "ACCOUNT_ID, name"  # a plain fake cannot say which list, nor where
    pages_read = len(source.cursors) if isinstance(source, CursorList) else len(source.pages)
    assert pages_read == 1
    assert not (tmp_path / "out.parquet").exists()
    # Nothing was answered: no journal is kept, so that the rerun with the list's keys is not refused.
    assert not journal_of(tmp_path).exists()


@pytest.mark.parametrize("campaign", [MovingCampaign(2500), CursorCampaign(2500)], ids=["getAll", "v3"])
def test_the_nightly_full_read_stops_the_same_way(tmp_path: Path, campaign: MovingCampaign) -> None:
    write_phone_keys(tmp_path)
    with pytest.raises(KeyFieldMissing) as raised:
        run(config(tmp_path, key_columns=("phone1",), strategy="incremental", state_path=tmp_path / "list.state"),
            source_factory=campaign.factory())
    assert raised.value.fields == ("phone1",) and raised.value.entry_fields == ("account_id", "name")
    assert sum(campaign.pages.values()) == 1 and not campaign.asked
    assert not (tmp_path / "out.parquet").exists()


class SparseList(PagedList):
    """ACCOUNT_ID is the key; ``phone`` is set on one record of the first page only (the server omits empty values)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        for number, (key, (entry, record)) in enumerate(list(self.records.items())):
            entry = dict(entry)
            if number == 7:
                entry["phone"] = "16505550007"
            elif number % 2:
                entry["phone"] = ""
            self.records[key] = (entry, record)


def test_a_key_field_set_on_one_record_of_the_first_page_is_enough(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("PHONE\n16505550007\n16505550008\n")
    source = SparseList(1500)
    stats = run(config(tmp_path, key_columns=("PHONE",), strategy="scan"), source_factory=source.factory())
    assert stats.by_status == {"found": 1, "not_found": 1}
    assert source.pages == [(0, PAGE_SIZE), (1000, PAGE_SIZE)]  # the second page, keyless, read as usual


def test_an_empty_list_is_no_reason_to_stop(tmp_path: Path) -> None:
    write_phone_keys(tmp_path)
    stats = run(config(tmp_path, key_columns=("phone1",), strategy="scan"), source_factory=PagedList(0).factory())
    assert stats.by_status == {"not_found": 2}


class LocatedFake:
    def list_location(self) -> tuple[str, str]:
        return "List_1.txt", "https://bp.example:8443/configapi/v2/callinglist/getAll/List_1.txt/Camp%201"


def listed(index: int, **entry: str) -> ListedRecord:
    return ListedRecord(index=index, entry=entry, record=status(completed=False))


@pytest.mark.parametrize(("page", "key", "missing"), [
    ([listed(0, account_id="1", phone1=""), listed(1, account_id="2", phone1=" ")], ("phone1",), ("phone1",)),
    ([listed(0, region="EU"), listed(1, account_id="2")], ("region", "account_id"), ("region", "account_id")),
    ([listed(0, region="EU", account_id="")], ("region", "account_id"), ("account_id",)),
], ids=["blank everywhere", "each on some record, both on none", "one of two"])
def test_the_message_names_the_list_the_missing_fields_and_the_url(
        page: list[ListedRecord], key: tuple[str, ...], missing: tuple[str, ...]) -> None:
    with pytest.raises(KeyFieldMissing) as raised:
        check_key_fields(page, key, LocatedFake())
    fields = ", ".join(dict.fromkeys(name for record in page for name in record.entry))
    assert str(raised.value) == (
        f"no record of the calling list 'List_1.txt' has the key field(s) {', '.join(missing)} (--key); "
        f"its entries have: {fields}; asked {LocatedFake().list_location()[1]}")
    assert raised.value.list_name == "List_1.txt" and raised.value.key_columns == key


def test_a_long_list_of_entry_fields_is_cut() -> None:
    entry = {f"field {n}": "x" for n in range(45)}
    with pytest.raises(KeyFieldMissing) as raised:
        check_key_fields([listed(0, **entry)], ("phone1",), LocatedFake())
    assert "field 29 and 15 more; asked" in str(raised.value) and "field 30" not in str(raised.value)
