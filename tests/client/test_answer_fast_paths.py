"""The page path's shortcuts give exactly what the plain code gives: statuses, entry texts, key texts.

``read_status`` sets a ``RecordStatus``'s slots directly and remembers which reader a field name
takes; the journal encodes entries with a C encoder made once; ``entry_key_text`` remembers which
entry name each key column matches. Each is checked here against the plain construction.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import UTC, datetime

import pytest

from reconciler.client.answer import Unusable, read_status
from reconciler.input.keys import entry_key_text, key_text_of
from reconciler.journal.rows import record_row
from reconciler.lookup import RecordStatus

STATUSES = [
    ({}, RecordStatus()),
    ({"totalAttempts": 0, "completed": False}, RecordStatus(completed=False, total_attempts=0)),
    ({"completed": "TRUE", "lastDisposition": "No answer", "lastDate": "2026-11-01T00:14:24.000+0400",
      "lastPhone": 16505550000, "lastCallDuration": "12", "lastAgent": "ann", "totalAttempts": 3.0,
      "globalInteractionId": "g-1", "completedTime": "2026-11-02T01:00:00Z", "custom_x": {"a": [1, 2]},
      "Other": 1.5},
     RecordStatus(completed=True, last_disposition="No answer",
                  last_date=datetime(2026, 10, 31, 20, 14, 24, tzinfo=UTC), last_phone="16505550000",
                  last_call_duration=12, last_agent="ann", total_attempts=3, global_interaction_id="g-1",
                  completed_time=datetime(2026, 11, 2, 1, 0, tzinfo=UTC),
                  extra={"custom_x": '{"a":[1,2]}', "Other": "1.5"})),
    # Names match case-insensitively, and the later of two alike wins; "" and null are absent.
    ({"TOTALATTEMPTS": 1, "totalattempts": 2, "lastAgent": "", "lastPhone": None},
     RecordStatus(total_attempts=2)),
    ({"lastDate": "yesterday"},
     RecordStatus(warnings=('lastDate "yesterday" is not a date reconciler can read; left empty',))),
]


@pytest.mark.parametrize(("status", "expected"), STATUSES)
def test_a_status_read_equals_the_dataclass_built_plainly_and_every_field_is_set(
        status: dict[str, object], expected: RecordStatus) -> None:
    for _ in range(2):  # the second read goes through the remembered field names
        read = read_status(status)
        assert read == expected
        assert isinstance(read, RecordStatus)
        assert {field.name: getattr(read, field.name) for field in dataclasses.fields(RecordStatus)} \
            == dataclasses.asdict(expected)
        assert dataclasses.replace(read) == expected


def test_a_status_field_that_cannot_be_read_still_fails_after_its_name_was_remembered() -> None:
    assert read_status({"totalAttempts": 1}) == RecordStatus(total_attempts=1)
    reason = 'status field totalAttempts is not a whole number: "many"'
    assert read_status({"totalAttempts": "many"}) == Unusable(reason)


ENTRIES = [
    {},
    {"id": "1", "name": None},
    {"q": 'a "quote" \\ back\tslash', "ü": "\u2028 \U0001f600", "nul": "\x00", "lone": "\ud800"},
]


@pytest.mark.parametrize("entry", ENTRIES)
def test_an_entry_and_extra_are_stored_as_json_dumps_writes_them(entry: dict[str, str | None]) -> None:
    extra = {name: value or "" for name, value in entry.items()}
    row = record_row(entry, RecordStatus(extra=extra))
    assert row[0] == json.dumps(entry, ensure_ascii=False)
    assert row[10] == (json.dumps(extra, ensure_ascii=False) if extra else None)


def test_a_null_binds_as_null_with_the_journal_loaded() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a, b)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(None, 1), ("x", None)])
    assert db.execute("SELECT a IS NULL, typeof(a), b IS NULL FROM t").fetchall() == [(1, "null", 0), (0, "text", 1)]


@pytest.mark.parametrize(("entry", "columns", "text"), [
    ({"ID": "7", "name": "a"}, ("id",), "7"),
    ({"Id": "1", "ID": "2"}, ("id",), "2"),  # two names alike: the later is the key field
    ({"id": "1", "name": " "}, ("id", "name"), None),  # a blank key value
    ({"name": "a"}, ("id",), None),  # no key field at all
    ({"id": "1", "Region": "e\x1fu"}, ("REGION", "id"), "e\\uu\x1f1"),
])
def test_the_key_text_of_an_entry_is_the_same_the_first_time_and_from_the_remembered_names(
        entry: dict[str, str | None], columns: tuple[str, ...], text: str | None) -> None:
    assert entry_key_text(entry, columns) == text
    assert entry_key_text(dict(entry), list(columns)) == text  # the remembered names, as list columns
    other_values = {name: f" v{i} " for i, name in enumerate(entry)}  # the same names: the names remembered
    assert entry_key_text(other_values, columns) == plain_key_text(other_values, columns)


def plain_key_text(entry: dict[str, str | None], columns: tuple[str, ...]) -> str | None:
    """The key text as the code before the remembered names computed it."""
    folded = {name.casefold(): value for name, value in entry.items()}
    values = [folded.get(column.casefold()) for column in columns]
    if any(value is None or not value.strip() for value in values):
        return None
    return key_text_of([value for value in values if value is not None])
