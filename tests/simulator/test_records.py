from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reconciler.errors import InputError, InvalidOption
from reconciler.simulator import ListSource
from reconciler.simulator.records import load_catalog, load_lists

from .support import ROWS, write_csv


def test_csv_values_stay_strings_and_status_fields_are_typed(records: Path) -> None:
    calling_list = load_lists(ListSource(path=records))[0]
    assert calling_list.name == "List 1.csv"  # the file's name by default
    assert calling_list.key_fields == ("account_id",)  # the first column by default
    assert calling_list.find(("000123",)) == 0
    assert calling_list.find(("123",)) is None  # exact strings: leading zeros matter
    assert calling_list.record(0, "Campaign_1", lower_names=False) == {
        "entry": {"account_id": "000123", "firstName": "Mike", "lastName": "Miller", "phone": "16505555555"},
        "status": {"completed": False, "lastDisposition": "Try again later",
                   "lastDate": "2021-02-19T19:12:21.000", "lastPhone": "16505555555", "lastCallDuration": 0,
                   "lastAgent": "elizabeth", "totalAttempts": 1,
                   "globalInteractionID": "3F4F2ACD-1233-42E3-8092-3A9F7D9D84BC"},
    }


def test_empty_status_cells_are_absent_and_a_never_called_record_says_so(records: Path) -> None:
    calling_list = load_lists(ListSource(path=records))[0]
    assert calling_list.record(1, "Campaign_1", lower_names=False)["status"] == {
        "completed": False, "totalAttempts": 0}
    completed = calling_list.record(2, "Campaign_1", lower_names=False)["status"]
    assert completed["completed"] is True and "globalInteractionID" not in completed  # type: ignore[index]
    assert "lastCallDuration" not in calling_list.record(3, "Campaign_1", lower_names=False)["status"]  # type: ignore[operator]


def test_a_campaign_the_list_is_not_bound_to_gives_the_entry_alone(records: Path) -> None:
    calling_list = load_lists(ListSource(path=records))[0]
    assert set(calling_list.record(0, "Other", lower_names=False)) == {"entry"}


def test_v2_names_are_lower_cased(records: Path) -> None:
    entry = load_lists(ListSource(path=records))[0].record(0, "Campaign_1", lower_names=True)["entry"]
    assert list(entry) == ["account_id", "firstname", "lastname", "phone"]  # type: ignore[call-overload]


def test_several_key_fields(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", ["region", "id", "name"], [["eu", "1", "a"], ["us", "1", "b"]])
    calling_list = load_lists(ListSource(path=path, key_fields=("region", "id")))[0]
    assert calling_list.find(("us", "1")) == 1
    assert calling_list.find(("1",)) is None


def test_list_and_campaign_columns(tmp_path: Path) -> None:
    header = ["_list", "_campaign", "id", "status.totalAttempts", "status.lastDisposition"]
    path = write_csv(tmp_path / "many.csv", header, [
        ["A.txt", "Camp_A", "1", "2", "Busy"],
        ["B.txt", "", "1", "5", "Sale"],
        ["A.txt", "Camp_B", "2", "1", "No answer"],
        ["", "", "9", "", ""],
    ])
    lists = load_catalog([ListSource(path=path, campaigns=("Default",))]).lists
    assert list(lists) == ["A.txt", "B.txt", "many.csv"]
    a_list = lists["A.txt"]
    assert a_list.campaigns == ("Camp_A", "Camp_B")
    assert a_list.record(0, "Camp_A", lower_names=False)["status"] == {
        "completed": False, "totalAttempts": 2, "lastDisposition": "Busy"}
    # bound to Camp_B through another row, but never called there
    assert a_list.record(0, "Camp_B", lower_names=False)["status"] == {"totalAttempts": 0, "completed": False}
    assert lists["B.txt"].campaigns == ("Default",)
    assert "_list" not in lists["B.txt"].entry_fields and "_campaign" not in lists["B.txt"].entry_fields
    assert load_catalog([ListSource(path=path)]).campaigns() == {
        "Camp_A": ["A.txt"], "Camp_B": ["A.txt"], "Campaign_1": ["B.txt", "many.csv"]}


def test_parquet_columns_are_read_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "list.parquet"
    pq.write_table(pa.table({"id": ["007", "008"], "score": [1, None], "status.totalAttempts": [3, None],
                             "status.completed": [True, False]}), path)
    calling_list = load_lists(ListSource(path=path))[0]
    assert calling_list.record(0, "Campaign_1", lower_names=False) == {
        "entry": {"id": "007", "score": "1"}, "status": {"completed": True, "totalAttempts": 3}}
    assert calling_list.record(1, "Campaign_1", lower_names=False)["entry"] == {"id": "008", "score": ""}


def test_quoted_commas_and_newlines_survive(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", ["id", "note"], [["1", 'say "hi",\nthen go']])
    assert load_lists(ListSource(path=path))[0].record(0, "x", lower_names=False) == {
        "entry": {"id": "1", "note": 'say "hi",\nthen go'}}


@pytest.mark.parametrize(("header", "rows", "options", "problem"), [
    (["id", "name"], [["1", "a"], ["1", "b"]], {}, "key '1' is on more than one row"),
    (["id"], [["1"]], {"key_fields": ("phone",)}, "key field 'phone' is not an entry column"),
    (["id", "status.totalAttempts"], [["1", "two"]], {}, "status.totalAttempts"),
    (["id", "status.completed"], [["1", "maybe"]], {}, "'maybe' is not true or false"),
    (["id", "id"], [["1", "2"]], {}, "duplicate column names: id"),
    (["id", "status."], [["1", "2"]], {}, "a status column needs a name"),
    (["status.completed"], [["true"]], {}, "no entry columns"),
])
def test_bad_records_files_are_refused_with_the_reason(
    tmp_path: Path, header: list[str], rows: list[list[str]], options: dict[str, object], problem: str
) -> None:
    path = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(InputError, match=problem) as caught:
        load_lists(ListSource(path=path, **options))  # type: ignore[arg-type]
    assert caught.value.path == path


def test_empty_and_missing_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_lists(ListSource(path=tmp_path / "empty.csv"))
    with pytest.raises(InputError, match="cannot read"):
        load_lists(ListSource(path=tmp_path / "absent.csv"))


def test_a_list_name_may_be_served_once(records: Path) -> None:
    with pytest.raises(InputError, match="defined twice"):
        load_catalog([ListSource(path=records), ListSource(path=records)])
    catalog = load_catalog([ListSource(path=records), ListSource(path=records, list_name="Copy")])
    assert list(catalog.lists) == ["List 1.csv", "Copy"]


def test_list_sources_are_validated() -> None:
    with pytest.raises(InvalidOption, match="--key-fields"):
        ListSource(path=Path("x.csv"), key_fields=("a", "a"))
    with pytest.raises(InvalidOption, match="--campaign"):
        ListSource(path=Path("x.csv"), campaigns=(" ",))


def test_pages_run_in_file_order(records: Path) -> None:
    calling_list = load_lists(ListSource(path=records))[0]
    page = calling_list.page(len(ROWS) - 2, 5, "Campaign_1", lower_names=False)
    assert [item["index"] for item in page] == [len(ROWS) - 2, len(ROWS) - 1]
    assert calling_list.page(len(ROWS), 5, "Campaign_1", lower_names=False) == []
