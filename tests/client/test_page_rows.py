"""A page read straight into rows (``page_rows``) stores exactly what the plain reader's records store.

The plain reader (``answer.read_page``: a ``ListedRecord`` and a ``RecordStatus`` a record, then
``record_row``) is the reference: for every page, awkward or not, the row reader must give the same
indexes, entries, rows, status field names of their own, records when asked, and reasons for a page
it cannot read; and the same tables once stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.client import answer, page_rows
from reconciler.client.page_rows import _date_ms, read_cursor_rows, read_page
from reconciler.input.keys import entry_key_text, entry_key_texts
from reconciler.journal.page_reads import KeyedPage, ReadFigures
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.lookup import ListedPage, epoch_ms

AWKWARD = 'a "quote" \\ back\tslash \x00 nul \u2028 \U0001f600 é'
ITEMS: list[object] = [
    # The common shape: texts, whole numbers, booleans, dates of the usual form.
    {"entry": {"id": "1", "firstName": "Anna", "phone": "16505551"}, "index": 0,
     "status": {"totalAttempts": 0, "completed": False}},
    {"entry": {"id": "2", "name": AWKWARD, "blank": "", "none": None}, "index": 1,
     "status": {"completed": True, "lastDisposition": AWKWARD, "lastDate": "2026-11-26T00:07:12.000",
                "lastPhone": "1650", "lastCallDuration": 2**63 - 1, "totalAttempts": 2**53 + 1,
                "lastAgent": "", "globalInteractionID": None, "completedTime": "1969-12-31T23:59:59.999"}},
    {"entry": {"ID": "3"}, "index": 2**53 + 1, "status": None},  # never called; the index beyond 2^53
    {"entry": {"id": "4"}, "index": 3},  # no status at all
    {"entry": {"id": "5"}, "index": 4, "status": {}},
    # Fields of their own, nested and plain; names alike but for case (the later wins).
    {"entry": {"id": "6"}, "index": 5, "status": {"custom_x": {"a": [1, 2.5, None]}, "Other": 1.5, "flag": True,
                                                   "TOTALATTEMPTS": 1, "totalattempts": 2, "custom_s": AWKWARD}},
    # What the plain reader turns: numbers as texts, texts as numbers and booleans, other date forms.
    {"entry": {"id": 7, "n": 2**64, "f": 1.0, "b": False, "o": {"x": "\u2028"}}, "index": "6",
     "status": {"lastPhone": 16505550000, "lastCallDuration": "12", "totalAttempts": 3.0, "completed": "TRUE",
                "lastDate": "2021-02-19 19:12:21", "completedTime": "2021-02-19T19:12:21.123456789+04:00"}},
    {"entry": {"id": "8"}, "index": 7.0,
     "status": {"lastDate": "2021-02-19T19:12:21Z", "completedTime": " 2021-02-19T19:12:21.5-0130 "}},
    # Dates it leaves null with a warning: unknown forms, impossible days, not a text.
    {"entry": {"id": "9"}, "index": 8, "status": {"lastDate": "yesterday", "completedTime": 1613762000}},
    {"entry": {"id": "10"}, "index": 9, "status": {"lastDate": "2026-13-01T00:00:00.000",
                                                    "completedTime": "2026-02-30T00:00:00.000"}},
    {"entry": {"id": "11"}, "index": 10, "status": {"lastDate": "2026-11-26T00:07:12.000", "LASTDATE": "junk"}},
    # A lone surrogate (the reader gets it; parse_document refuses it before a page is read).
    {"entry": {"id": "12", "lone": "\ud800"}, "index": 11, "status": {"lastAgent": "\udfff"}},
]


def plain_page(document: object) -> ListedPage | answer.Unusable:
    records = answer.read_page(document)
    return records if isinstance(records, answer.Unusable) else ListedPage.of(records)


def assert_same(page: object, reference: object) -> None:
    assert isinstance(page, ListedPage) and isinstance(reference, ListedPage)
    assert page.indexes == reference.indexes
    assert [list(entry.items()) for entry in page.entries] == [list(entry.items()) for entry in reference.entries]
    assert page.rows == reference.rows
    assert [[type(value) for value in row] for row in page.rows] == [[type(v) for v in row] for row in reference.rows]
    assert page.extra_names == reference.extra_names
    assert list(page) == list(reference) and page == list(reference) and len(page) == len(reference)


@pytest.mark.parametrize("item", ITEMS, ids=range(len(ITEMS)))
def test_each_item_is_read_into_the_row_the_plain_reader_stores(item: object) -> None:
    assert_same(read_page([item]), plain_page([item]))


def test_a_page_of_every_kind_of_item_is_read_alike_and_its_warnings_counted() -> None:
    page = read_page(ITEMS)
    assert_same(page, plain_page(ITEMS))
    assert isinstance(page, ListedPage)
    assert [row[-1] for row in page.rows] == [0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 1, 0]  # the warnings column
    assert page.rows[1][0] == json.dumps(ITEMS[1]["entry"], ensure_ascii=False)  # type: ignore[index]
    assert page.rows[1][7] == 2**53 + 1 and page.rows[1][5] == 2**63 - 1 and page.indexes[2] == 2**53 + 1
    assert page.extra_names == ("custom_x", "Other", "flag", "custom_s")


@pytest.mark.parametrize("document", [
    {"records": []}, [{"entry": {}}], [{"index": 0, "entry": {}}, "x"], [{"index": 0}],
    [{"index": True, "entry": {}}], [{"index": 0, "entry": None}], [{"index": 0, "entry": {}, "status": "done"}],
    [{"index": 0, "entry": {}, "status": {"completed": "maybe"}}],
    [{"index": 0, "entry": {}, "status": {"completed": 1}}],
    [{"index": 0, "entry": {}, "status": {"totalAttempts": True}}],
    [{"index": 0, "entry": {}, "status": {"lastAgent": []}}],
    [ITEMS[0], {"index": 1, "entry": {}, "status": {"lastCallDuration": 1.5}}],
])
def test_a_page_that_cannot_be_read_gives_the_plain_readers_reason(document: object) -> None:
    reason = answer.read_page(document)
    assert isinstance(reason, answer.Unusable)
    assert read_page(document) == reason


def test_a_page_nested_too_deeply_to_copy_is_unusable_as_before() -> None:
    deep: object = "x"
    for _ in range(100_000):
        deep = [deep]
    document = [{"index": 0, "entry": {"id": "1"}, "status": {"custom": deep}}]
    too_deep = answer.Unusable("the answer is nested too deeply to read")
    assert read_page(document) == answer.read_page(document) == too_deep


@pytest.mark.parametrize("first_index", [0, 2**53 + 1])
def test_a_v3_page_by_cursor_is_read_alike(first_index: int) -> None:
    document = {"next_cursor": "c2", "records": [{key: value for key, value in item.items() if key != "index"}
                                                 for item in ITEMS if isinstance(item, dict)]}
    limit = len(ITEMS)
    rows, plain = read_cursor_rows(document, first_index, limit), answer.read_cursor_page(document, first_index, limit)
    assert not isinstance(rows, answer.Unusable) and not isinstance(plain, answer.Unusable)
    assert rows.next_cursor == plain.next_cursor == "c2"
    assert_same(rows.records, ListedPage.of(plain.records))
    assert rows.records.indexes[0] == first_index
    bad = {"next_cursor": None, "records": [{}, {"entry": {}}]}
    assert read_cursor_rows(bad, 0, 5) == answer.read_cursor_page(bad, 0, 5) == \
        answer.Unusable("record 0: HTTP 200 with a JSON object without an entry")


DATES = ["2026-11-26T00:07:12.000", "1970-01-01T00:00:00.000", "1969-12-31T23:59:59.999", "2024-02-29T23:59:59.999",
         "0001-01-01T00:00:00.001", "9999-12-31T23:59:59.999", "2026-13-01T00:00:00.000", "2026-02-29T00:00:00.000",
         "2026-11-26T24:00:00.000", "2026-11-26T00:07:12.000Z", "2026-11-26T00:07:12", "2026-11-26 00:07:12.000",
         "2026-11-26T00:07:12.0001", "2026-11-26T00:07:12.00", " 2026-11-26T00:07:12.000",
         "２０２６-11-26T00:07:12.000",
         "2026-11-26T00:07:12.000+0400", "2026-11-26T00:07:12.000-04:30", "", "2026-11-26T00:07:1٢.000"]


@pytest.mark.parametrize("text", DATES)
def test_a_date_is_the_milliseconds_the_plain_parser_gives(text: str) -> None:
    moment = answer.parse_last_date(text)
    assert _date_ms(text) == (None if moment is None else epoch_ms(moment))


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_any_date_of_the_usual_form_is_the_milliseconds_the_plain_parser_gives(moment: datetime) -> None:
    text = moment.isoformat(timespec="milliseconds")
    assert _date_ms(text) == epoch_ms(answer.parse_last_date(text))  # type: ignore[arg-type]


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | st.sampled_from(
    ["", "2026-11-26T00:07:12.000", "2021-02-19T19:12:21Z", "TRUE", "false", "12", "junk"])
NAMES = st.sampled_from(["completed", "lastDisposition", "lastDate", "lastPhone", "lastCallDuration", "lastAgent",
                         "totalAttempts", "globalInteractionID", "completedTime", "COMPLETED", "custom_x", "Other"])
ITEM = st.fixed_dictionaries({"entry": st.dictionaries(st.sampled_from(["id", "ID", "name", "n"]), SCALARS, max_size=3),
                              "index": st.integers(-2, 2**64) | SCALARS},
                             optional={"status": st.none() | st.dictionaries(NAMES, SCALARS, max_size=6)})


@settings(max_examples=400, deadline=None)
@given(st.lists(ITEM, max_size=4))
def test_any_page_is_read_as_the_plain_reader_reads_it(document: list[object]) -> None:
    rows, plain = read_page(document), plain_page(document)
    if isinstance(plain, answer.Unusable):
        assert rows == plain
    else:
        assert_same(rows, plain)


def test_the_page_path_remembers_a_bounded_number_of_status_names() -> None:
    for n in range(page_rows._NAMES_MOST + 10):
        read_page([{"index": 0, "entry": {}, "status": {f"invented_{n}": "x"}}])
    assert len(page_rows._NAMES) <= page_rows._NAMES_MOST


@pytest.mark.parametrize("key_columns", [("id",), ("ID", "name"), ("missing",)])
def test_a_pages_key_texts_are_each_entrys_key_text(key_columns: tuple[str, ...]) -> None:
    entries: list[dict[str, str | None]] = [
        {"id": "1", "name": "a"}, {"id": "2", "name": "b"}, {"ID": "3", "name": "c"}, {"id": " ", "name": "d"},
        {"id": None, "name": "e"}, {"name": "f"}, {"id": "7", "ID": "7b", "name": "g\x1fh"},
        {"Id": AWKWARD, "name": ""},
        {"id": "1", "name": "a"}]
    assert entry_key_texts(entries, key_columns) == [entry_key_text(entry, key_columns) for entry in entries]


NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def storable(item: object) -> bool:
    return "\ud800" not in json.dumps(item, ensure_ascii=False) and "\udfff" not in json.dumps(item, ensure_ascii=False)


def test_a_page_read_into_rows_is_stored_byte_for_byte_as_its_records_are(tmp_path: Path) -> None:
    items = [item for item in ITEMS if storable(item)]
    items += [{**items[0], "index": 40}, {**items[1], "index": 1}, {"entry": {"name": "no key"}, "index": 41}]
    tables = []
    for name, page in (("rows", read_page(items)), ("plain", plain_page(items))):
        assert isinstance(page, ListedPage)
        keyed = KeyedPage(page, [entry_key_text(entry, ("id",)) for entry in page.entries])
        journal = Journal.open(tmp_path / f"{name}.journal", {"input": "x"}, fresh=True)
        state = State.open(tmp_path / f"{name}.state", {"tenant": "t"})
        state.start_full_read()
        figures = (journal.listed.record_page(keyed, None, NOW), state.record_full_page(keyed, None, NOW))
        tables.append((figures,
                       journal._db.execute("SELECT * FROM listed ORDER BY key").fetchall(),
                       journal._db.execute("SELECT * FROM fields ORDER BY rowid").fetchall(),
                       state.connection.execute("SELECT * FROM records ORDER BY key").fetchall(),
                       state.connection.execute("SELECT * FROM fields ORDER BY rowid").fetchall(),
                       state.connection.execute("SELECT * FROM meta WHERE name LIKE 'full_read%' "
                                                "ORDER BY name").fetchall()))
        journal.close()
        state.close()
    assert tables[0] == tables[1]
    figures, listed, *_ = tables[0]
    # 3 before 2^53 + 1 before 3: not in order; "2" again at its index; "1" at another; one record without an id
    read = ReadFigures(pages_out_of_order=1, records_read_twice=1, duplicate_keys=1, unkeyed=1)
    assert figures[0] == figures[1] == read
    assert len(listed) == 11 and any(AWKWARD in row for row in listed)
