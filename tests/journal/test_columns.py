"""The join's columnar read gives exactly the values of the row-by-row read, whatever the texts and numbers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fakes import WHEN

from reconciler.journal import columns
from reconciler.journal.columns import KEYED_SCHEMA, results_table
from reconciler.journal.store import Journal
from reconciler.lookup import LookupResult, LookupStatus, RecordStatus

ODD_TEXTS = ['quote " and back\\slash', "tab\there\nand a line", "é😀\u2028\u2029", "nul\x00inside", "\\u0000",
             "", " "]
LAST_DATE = datetime(2026, 12, 7, 1, 2, 3, 456000, UTC)
BIG = 2**53 + 1  # the first integer a JSON double would round


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    journal = Journal.open(tmp_path / "j", {"input": "keys.csv"}, fresh=False)
    yield journal
    journal.close()


def odd_result(text: str, number: int) -> LookupResult:
    """Every text field holding ``text``, every integer ``number``, and empty strings beside nulls."""
    record = RecordStatus(completed=True, last_disposition=text, last_date=LAST_DATE,
                          last_phone="", last_call_duration=number, last_agent=None, total_attempts=number,
                          global_interaction_id=text, extra={"custom_" + text: text})
    return LookupResult(status=LookupStatus.FOUND, attempts=3, http_status=200, error=text,
                        entry={"id": text, text: "", "none": None}, record=record)


def record_all(journal: Journal, keys: list[str], result: Any) -> None:
    journal.add_keys(keys)
    journal.record([(key_id, result(key), WHEN) for key_id, key in journal.pending(0, len(keys) + 1)])


def by_key(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: row["key"])


@pytest.mark.parametrize("odd", ODD_TEXTS)
@pytest.mark.parametrize("number", [0, BIG, 2**63 - 1, -(2**63)])
def test_odd_keys_and_values_read_as_columns_are_the_rows_values(journal: Journal, odd: str, number: int) -> None:
    keys = ["a", odd + "k", "z" + odd]
    record_all(journal, keys, lambda key: odd_result(odd, number))
    table = journal.lookup_columns([*keys, "missing"])
    assert table.schema == KEYED_SCHEMA
    assert by_key(table) == by_key(results_table(journal.lookup(keys)))
    row = next(row for row in table.to_pylist() if row["key"] == odd + "k")
    assert (row["error"], row["last_disposition"], row["last_phone"], row["last_agent"]) == (odd, odd, "", None)
    assert (row["last_call_duration"], row["total_attempts"], row["completed"]) == (number, number, 1)
    assert row["last_date"] == int(LAST_DATE.timestamp() * 1000)  # epoch ms
    assert row["entry"] is not None and json.loads(row["entry"]) == {"id": odd, odd: "", "none": None}


def test_each_key_keeps_its_own_values_in_every_column(journal: Journal) -> None:
    keys = [f"k{i}" for i in range(7)]
    record_all(journal, keys, lambda key: LookupResult(
        status=LookupStatus.FOUND if key < "k4" else LookupStatus.NOT_FOUND, attempts=int(key[1:]),
        error=None if key < "k4" else key, entry={"id": key},
        record=RecordStatus(total_attempts=int(key[1:]) * 10, last_agent=key, completed=key > "k2")))
    rows = journal.lookup_columns(list(reversed(keys))).to_pylist()
    assert sorted(rows, key=lambda row: row["key"]) == by_key(results_table(journal.lookup(keys)))
    for row in rows:
        number = int(row["key"][1:])
        assert (row["attempts"], row["total_attempts"], row["last_agent"]) == (number, number * 10, row["key"])
        assert (row["status"], row["error"]) == (("found", None) if number < 4 else ("not_found", row["key"]))
        assert row["completed"] == (number > 2) and json.loads(row["entry"]) == {"id": row["key"]}


def test_keys_of_a_batch_are_read_in_chunks_and_a_chunk_with_a_nul_key_the_old_way(
        journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columns, "_CHUNK", 2)
    keys = ["a", "b", "c\x00", "d", "e"]
    record_all(journal, keys, lambda key: LookupResult(status=LookupStatus.NOT_FOUND, attempts=1, http_status=404))
    table = journal.lookup_columns(["e", "c\x00", "x", "a", "b", "d"])
    assert sorted(table.column("key").to_pylist()) == sorted(keys)
    assert set(table.column("http_status").to_pylist()) == {404}


def test_a_value_the_reader_refuses_is_read_the_old_way(journal: Journal) -> None:
    record_all(journal, ["a", "b"], lambda key: LookupResult(status=LookupStatus.FOUND, attempts=1))
    # No reconciler writes these (a damaged journal): each chunk falls back, and reads as the rows did.
    journal._db.execute("UPDATE keys SET total_attempts = 1.5 WHERE key = 'a'")
    assert journal.lookup_columns(["a"]).to_pylist() == results_table(journal.lookup(["a"])).to_pylist()
    assert journal.lookup_columns(["a"]).column("total_attempts").to_pylist() == [1]
    journal._db.execute("UPDATE keys SET total_attempts = 'many' WHERE key = 'b'")
    with pytest.raises(pa.ArrowException) as as_columns:
        journal.lookup_columns(["b"])
    with pytest.raises(pa.ArrowException) as as_rows:
        results_table(journal.lookup(["b"]))
    assert str(as_columns.value) == str(as_rows.value)


def test_no_keys_or_no_results_give_an_empty_table_of_the_same_columns(journal: Journal) -> None:
    journal.add_keys(["a"])
    assert journal.lookup_columns([]).schema == KEYED_SCHEMA
    assert journal.lookup_columns(["a", "b"]).num_rows == 0


def test_a_chunk_longer_than_sqlites_longest_text_is_read_the_old_way(journal: Journal) -> None:
    keys = [f"k{i}" for i in range(50)]
    record_all(journal, keys, lambda key: LookupResult(status=LookupStatus.FOUND, attempts=1, entry={"id": key}))
    journal._db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000)  # each row fits; the chunk's document does not
    assert by_key(journal.lookup_columns(keys)) == by_key(results_table(journal.lookup(keys)))
