"""The join gives every output row its entry fields exactly as the server sent them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fakes import WHEN

from reconciler.journal.rows import RESULT_COLUMNS
from reconciler.journal.store import Journal
from reconciler.lookup import LookupResult, LookupStatus, RecordStatus
from reconciler.output.history import RunIdentity
from reconciler.output.join import join_batch, plan_output, unmatched_batch, unmatched_layout

RUN = RunIdentity(run_id="r1", run_date=date(2026, 12, 5))


def result_row(key: str, entry: dict[str, Any] | None) -> tuple[Any, ...]:
    values = dict.fromkeys(RESULT_COLUMNS)
    values.update(status="found", attempts=1, checked_at=0, entry=None if entry is None else json.dumps(entry))
    return (key, *(values[name] for name in RESULT_COLUMNS))


def joined_entries(entries: dict[str, dict[str, Any] | None], names: list[str]) -> list[dict[str, Any]]:
    keys = pa.array(list(entries), pa.string())
    batch = pa.record_batch({"id": keys})
    layout = plan_output(batch.schema, names)
    rows = [result_row(key, entry) for key, entry in entries.items()]
    table = join_batch(batch, keys, lambda wanted: [row for row in rows if row[0] in wanted], layout, RUN)
    return table.select([column for column, _ in layout.entry_columns]).to_pylist()


def test_a_value_that_looks_like_a_date_or_a_number_stays_the_text_it_was() -> None:
    entries = {"1": {"id": "1", "callback": "2026-12-05T02:00:00Z", "phone": "0016505550000"},
               "2": {"id": "2", "callback": "2026-12-05 02:00:00", "phone": None}, "3": None}
    assert joined_entries(entries, ["id", "callback", "phone"]) == [
        {"entry_id": "1", "callback": "2026-12-05T02:00:00Z", "phone": "0016505550000"},
        {"entry_id": "2", "callback": "2026-12-05 02:00:00", "phone": None},
        {"entry_id": None, "callback": None, "phone": None},
    ]


def test_a_field_spelled_another_way_than_first_seen_still_fills_its_column() -> None:
    # 5.x lower-cases names: a list read by v2 and then by v3 shows both spellings.
    entries = {"1": {"id": "1", "firstName": "Anna"}, "2": {"id": "2", "firstname": "Ben"}}
    assert joined_entries(entries, ["id", "firstName"]) == [{"entry_id": "1", "firstName": "Anna"},
                                                            {"entry_id": "2", "firstName": "Ben"}]


def test_both_spellings_of_a_field_among_the_known_names_fill_its_one_column() -> None:
    entries = {"1": {"id": "1", "firstName": "Anna"}, "2": {"id": "2", "firstname": "Ben"}}
    assert joined_entries(entries, ["id", "firstName", "firstname"]) == [{"entry_id": "1", "firstName": "Anna"},
                                                                         {"entry_id": "2", "firstName": "Ben"}]


def test_a_field_the_names_do_not_know_leaves_the_known_ones_whole() -> None:
    entries = {"1": {"id": "1", "phone": "1", "note": "2026-12-05"}, "2": {"id": "2", "phone": "2"}}
    assert joined_entries(entries, ["id", "phone"]) == [{"entry_id": "1", "phone": "1"},
                                                        {"entry_id": "2", "phone": "2"}]


# Entry fields named like input columns: both are kept ----------------------------------------------


def join(batch: pa.RecordBatch, keys: str, records: dict[str, dict[str, Any] | None],
         names: list[str]) -> pa.Table:
    """The joined rows of ``batch`` (key column ``keys``) against found records, with entry names ``names``."""
    layout = plan_output(batch.schema, names)
    rows = [result_row(key, entry) for key, entry in records.items()]
    texts = batch.column(keys).cast(pa.string())
    return pa.Table.from_batches([join_batch(batch, texts, lambda wanted: [r for r in rows if r[0] in wanted],
                                             layout, RUN)])


def test_an_entry_field_named_like_an_input_column_keeps_both_values_key_included() -> None:
    batch = pa.record_batch({"account_id": ["1001"], "First name": ["Name_F50"], "crm_owner": ["Alice"]})
    table = join(batch, "account_id", {"1001": {"account_id": "+1001", "first name": "Name_First_C1",
                                                "city": "Köln"}}, ["account_id", "first name", "city"])
    assert table.column_names[:5] == ["account_id", "First name", "crm_owner", "entry_account_id",
                                      "entry_first name"]
    assert table.column_names[5] == "city"
    row = table.to_pylist()[0]
    assert (row["account_id"], row["First name"], row["crm_owner"]) == ("1001", "Name_F50", "Alice")
    assert (row["entry_account_id"], row["entry_first name"], row["city"]) == ("+1001", "Name_First_C1", "Köln")


@pytest.mark.parametrize(("inputs", "names", "expected"), [
    # entry_<field> is an input column too: the prefix is added again
    (["id", "phone", "entry_phone"], ["phone"], ["entry_entry_phone"]),
    # a field of the list already owns entry_<field>: it keeps it, whatever order the names came in
    (["id", "phone"], ["phone", "entry_Phone"], ["entry_entry_phone", "entry_Phone"]),
    (["id", "phone"], ["entry_Phone", "phone"], ["entry_Phone", "entry_entry_phone"]),
    # named like a status column, and like an input column, in one list
    (["id", "Phone"], ["completed", "phone", "entry_completed"], ["entry_entry_completed", "entry_phone",
                                                                  "entry_completed"]),
    # one column per field, whatever spellings the list showed
    (["id"], ["firstName", "FIRSTNAME"], ["firstName"]),
])
def test_clashing_names_resolve_to_free_columns_deterministically(inputs: list[str], names: list[str],
                                                                   expected: list[str]) -> None:
    schema = pa.schema([(name, pa.string()) for name in inputs])
    layout = plan_output(schema, names)
    assert [column for column, _ in layout.entry_columns] == expected
    assert len({name.casefold() for name in layout.schema.names}) == len(layout.schema.names)


def test_the_columns_are_fixed_across_batches_when_an_answer_lacks_a_field() -> None:
    layout = plan_output(pa.schema([("id", pa.string()), ("phone", pa.string())]), ["id", "phone", "note"])
    rows = {"1": result_row("1", {"id": "1", "phone": "555", "note": "vip"}),
            "2": result_row("2", {"id": "2"})}  # this night's answer for 2 lacks phone and note
    tables = []
    for key in ("1", "2"):
        batch = pa.record_batch({"id": [key], "phone": ["555"]})
        tables.append(join_batch(batch, batch.column("id"), lambda wanted: [rows[k] for k in wanted], layout, RUN))
    assert tables[0].schema == tables[1].schema == layout.schema
    assert tables[1].to_pylist()[0]["entry_phone"] is None and tables[1].to_pylist()[0]["note"] is None
    assert [t.to_pylist()[0]["recon_differing_columns"] for t in tables] == ["[]", '["phone"]']


def test_the_unmatched_table_has_no_comparison_and_keeps_a_field_named_like_its_index() -> None:
    layout = unmatched_layout(["account_id", "list_index", "completed"])
    assert [column for column, _ in layout.entry_columns] == ["account_id", "entry_list_index", "entry_completed"]
    assert "recon_differing_columns" not in layout.schema.names
    batch = unmatched_batch([(7, *result_row("x", {"account_id": "1", "list_index": "9"})[1:])], layout)
    assert batch.to_pylist()[0]["list_index"] == 7 and batch.to_pylist()[0]["entry_list_index"] == "9"


# The journal's columnar read joins as its rows did ---------------------------------------------------


@pytest.mark.parametrize("odd", ['quote " and back\\slash', "é😀\u2028", "nul\x00inside", "\\u0000", ""])
def test_a_batch_joined_from_the_journals_columns_is_the_batch_joined_from_its_rows(tmp_path: Path,
                                                                                   odd: str) -> None:
    keys = ["1", odd + "k", "3", "4"]
    journal = Journal.open(tmp_path / "j", {"input": "keys.csv"}, fresh=False)
    try:
        journal.add_keys(keys[:3])  # "4" is in the input, not in the journal: no result recorded
        record = RecordStatus(completed=False, last_disposition=odd, last_call_duration=2**53 + 1, last_agent="",
                              extra={"custom_" + odd: odd})
        journal.record([(key_id, LookupResult(status=LookupStatus.FOUND, attempts=2, http_status=200,
                                              entry={"id": key, "Phone": odd, "note": None}, record=record), WHEN)
                        for key_id, key in journal.pending(0, 10)])
        batch = pa.record_batch({"id": [*keys, None, "1"], "phone": ["x", odd, "", "y", "z", None]})
        layout = plan_output(batch.schema, journal.field_names("entry"))
        texts = batch.column("id")
        by_rows = join_batch(batch, texts, journal.lookup, layout, RUN)
        by_columns = join_batch(batch, texts, journal.lookup_columns, layout, RUN)
    finally:
        journal.close()
    assert by_columns.equals(by_rows)
    row = by_columns.to_pylist()[1]
    assert (row["entry_id"], row["entry_Phone"], row["lastDisposition"], row["lastAgent"]) == (odd + "k", odd, odd, "")
    assert (row["lastCallDuration"], row["completed"], row["recon_differing_columns"]) == (2**53 + 1, False, "[]")
    assert [r["recon_status"] for r in by_columns.to_pylist()] == ["found", "found", "found", "error",
                                                                  "invalid_input", "found"]
