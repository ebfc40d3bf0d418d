"""The join gives every output row its entry fields exactly as the server sent them."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pyarrow as pa

from reconciler.journal.rows import RESULT_COLUMNS
from reconciler.output.history import RunIdentity
from reconciler.output.join import join_batch, plan_output

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
        {"callback": "2026-12-05T02:00:00Z", "phone": "0016505550000"},
        {"callback": "2026-12-05 02:00:00", "phone": None},
        {"callback": None, "phone": None},
    ]


def test_a_field_spelled_another_way_than_first_seen_still_fills_its_column() -> None:
    # 5.x lower-cases names: a list read by v2 and then by v3 shows both spellings.
    entries = {"1": {"id": "1", "firstName": "Anna"}, "2": {"id": "2", "firstname": "Ben"}}
    assert joined_entries(entries, ["id", "firstName"]) == [{"firstName": "Anna"}, {"firstName": "Ben"}]


def test_a_field_the_names_do_not_know_leaves_the_known_ones_whole() -> None:
    entries = {"1": {"id": "1", "phone": "1", "note": "2026-12-05"}, "2": {"id": "2", "phone": "2"}}
    assert joined_entries(entries, ["id", "phone"]) == [{"phone": "1"}, {"phone": "2"}]
