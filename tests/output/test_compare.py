"""``recon_differing_columns``: which input columns of a found row are not what the record holds."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pyarrow as pa

from reconciler.journal.rows import RESULT_COLUMNS
from reconciler.output.history import RunIdentity
from reconciler.output.join import join_batch, plan_output

RUN = RunIdentity(run_id="r1", run_date=date(2026, 12, 5))


def result_row(key: str, entry: dict[str, Any] | None, status: str = "found") -> tuple[Any, ...]:
    values = dict.fromkeys(RESULT_COLUMNS)
    values.update(status=status, attempts=1, checked_at=0, entry=None if entry is None else json.dumps(entry))
    return (key, *(values[name] for name in RESULT_COLUMNS))


def differing(columns: dict[str, pa.Array], records: dict[str, dict[str, Any] | None],
              names: list[str] | None = None, statuses: dict[str, str] | None = None) -> list[Any]:
    """Each row's recon_differing_columns, decoded from JSON (None stays None); the key column is ``id``."""
    batch = pa.record_batch(columns)
    layout = plan_output(batch.schema, names or sorted({n for entry in records.values() for n in entry or {}}))
    rows = [result_row(key, entry, (statuses or {}).get(key, "found")) for key, entry in records.items()]
    texts = batch.column("id").cast(pa.string())
    texts = pa.array([None if text is None or not text.strip() else text for text in texts.to_pylist()], pa.string())
    joined = join_batch(batch, texts, lambda wanted: [row for row in rows if row[0] in wanted], layout, RUN)
    return [None if text is None else json.loads(text) for text in joined.column("recon_differing_columns").to_pylist()]


def test_equal_values_give_an_empty_list_and_differing_ones_are_named_in_input_order() -> None:
    columns = {"Phone": pa.array(["555", "555", "555"]), "id": pa.array(["1", "2", "3"]),
               "First name": pa.array(["Anna", "anna", "Anna "])}
    records = {"1": {"id": "1", "first name": "Anna", "phone": "555"},
               "2": {"id": "2", "first name": "Anna", "phone": "556"},
               "3": {"id": "3", "first name": "Anna", "phone": "555"}}
    # case counts, and nothing is trimmed
    assert differing(columns, records) == [[], ["Phone", "First name"], ["First name"]]


def test_an_empty_or_null_input_equals_an_empty_or_absent_field_and_nothing_else() -> None:
    columns = {"id": pa.array(["1", "2", "3", "4", "5"]), "note": pa.array(["", None, "", "x", ""])}
    records = {"1": {"id": "1", "note": ""}, "2": {"id": "2"}, "3": {"id": "3", "note": None},
               "4": {"id": "4"}, "5": {"id": "5", "note": "y"}}
    assert differing(columns, records, ["id", "note"]) == [[], [], [], ["note"], ["note"]]


def test_an_integer_input_column_compares_by_its_text() -> None:
    columns = {"id": pa.array(["1", "2", "3"]), "account": pa.array([123, 124, None], pa.int64()),
               "code": pa.array(["a", "b", "c"]).dictionary_encode()}
    records = {"1": {"id": "1", "account": "123", "code": "a"}, "2": {"id": "2", "account": "0124", "code": "b"},
               "3": {"id": "3", "account": "", "code": "x"}}
    assert differing(columns, records) == [[], ["account"], ["code"]]


def test_columns_of_other_types_are_never_listed() -> None:
    columns = {"id": pa.array(["1"]), "score": pa.array([0.5]), "flag": pa.array([True]),
               "day": pa.array([date(2026, 12, 5)])}
    records = {"1": {"id": "1", "score": "0.7", "flag": "false", "day": "2020-01-01"}}
    assert differing(columns, records) == [[]]


def test_only_input_columns_with_a_same_named_entry_field_are_compared() -> None:
    columns = {"id": pa.array(["1"]), "crm_owner": pa.array(["Alice"])}
    assert differing(columns, {"1": {"id": "1", "city": "Köln"}}) == [[]]


def test_rows_that_are_not_found_carry_null() -> None:
    columns = {"id": pa.array(["1", "2", " ", "4", "5"]), "name": pa.array(["a", "b", "c", "d", "e"])}
    records = {"1": {"id": "1", "name": "z"}, "2": None, "4": None}
    assert differing(columns, records, ["id", "name"], {"2": "not_found", "4": "error"}) == [
        ["name"], None, None, None, None]  # found, not_found, invalid_input, error, never answered


def test_a_loosely_matched_key_is_listed_with_the_stored_value_beside_it() -> None:
    columns = {"id": pa.array(["1001"])}
    batch = pa.record_batch(columns)
    layout = plan_output(batch.schema, ["id"])
    row = result_row("1001", {"id": "+1001"})
    joined = join_batch(batch, batch.column("id"), lambda wanted: [row], layout, RUN).to_pylist()[0]
    assert (joined["id"], joined["entry_id"], joined["recon_differing_columns"]) == ("1001", "+1001", '["id"]')


def test_names_are_written_as_json_strings() -> None:
    columns = {"id": pa.array(["1"]), 'say "hi", \\o/': pa.array(["a"]), "Prénom": pa.array(["b"])}
    records = {"1": {"id": "1", 'say "hi", \\o/': "z", "prénom": "c"}}
    assert differing(columns, records) == [['say "hi", \\o/', "Prénom"]]


def test_a_found_row_with_no_column_to_compare_has_an_empty_list() -> None:
    columns = {"id": pa.array(["1", "2"])}
    batch = pa.record_batch(columns)
    layout = plan_output(batch.schema, [])  # the record has no entry fields at all
    rows = [result_row("1", None), result_row("2", None, "not_found")]
    joined = join_batch(batch, batch.column("id"), lambda wanted: rows, layout, RUN)
    assert joined.column("recon_differing_columns").to_pylist() == ["[]", None]


def test_more_compared_columns_than_the_coded_table_holds_are_listed_the_same_way() -> None:
    names = [f"c{i}" for i in range(12)]  # beyond the 2 ** 10 combinations coded in a table
    columns = {"id": pa.array(["1", "2", "3"]), **{name: pa.array(["a", "a", ""]) for name in names}}
    records = {"1": {"id": "1", **dict.fromkeys(names, "a")},
               "2": {"id": "2", **{name: "b" if i in (0, 5, 11) else "a" for i, name in enumerate(names)}}}
    assert differing(columns, records, ["id", *names]) == [[], ["c0", "c5", "c11"], None]
    assert differing({name: columns[name] for name in ["id", *names[:3]]}, records, ["id", *names]) == [
        [], ["c0"], None]
