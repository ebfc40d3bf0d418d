"""A page meets what was read before: stored once by key, read twice apart from a duplicate key, order checked.

The same rules hold in the scan's journal and in the nightly state's full read; both are driven here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest

from reconciler.journal.listed import CursorPosition, ScanPosition
from reconciler.journal.page_reads import Keyed, KeyedPage, ReadFigures, in_index_order
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.lookup import ListedRecord, RecordStatus

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def item(index: int, key: str | None, attempts: int = 0, name: str = "n") -> Keyed:
    entry = {"id": key or "", "name": name}
    return key, ListedRecord(index=index, entry=entry, record=RecordStatus(completed=False, total_attempts=attempts))


class Store(Protocol):
    def store(self, records: list[Keyed], following: ScanPosition | None, *, indexed: bool = True) -> ReadFigures: ...
    def stored(self) -> dict[str, tuple[int, int, str]]: ...  # key -> (list index, attempts, name)
    def figures(self) -> ReadFigures: ...


class JournalStore:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def store(self, records: list[Keyed], following: ScanPosition | None, *, indexed: bool = True) -> ReadFigures:
        return self.journal.listed.record_page(KeyedPage.of(records), following, NOW, indexed=indexed)

    def stored(self) -> dict[str, tuple[int, int, str]]:
        rows = self.journal._db.execute("SELECT key, list_index, total_attempts, entry FROM listed")
        return {key: (index, attempts, json.loads(entry)["name"]) for key, index, attempts, entry in rows}

    def figures(self) -> ReadFigures:
        return self.journal.listed.read_figures()


class StateStore:
    def __init__(self, state: State) -> None:
        self.state = state
        state.start_full_read()

    def store(self, records: list[Keyed], following: ScanPosition | None, *, indexed: bool = True) -> ReadFigures:
        return self.state.record_full_page(KeyedPage.of(records), following, NOW, indexed=indexed)

    def stored(self) -> dict[str, tuple[int, int, str]]:
        rows = self.state.connection.execute("SELECT key, list_index, total_attempts, entry FROM records")
        return {key: (index, attempts, json.loads(entry)["name"]) for key, index, attempts, entry in rows}

    def figures(self) -> ReadFigures:
        return self.state.full_read_figures()


@pytest.fixture(params=["journal", "state"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "journal":
        journal = Journal.open(tmp_path / "j", {"input": "keys.csv"}, fresh=False)
        yield JournalStore(journal)
        journal.close()
    else:
        state = State.open(tmp_path / "s.state", {"tenant": "t", "key_columns": ["id"]})
        yield StateStore(state)
        state.close()


def test_a_record_read_again_replaces_its_first_read_and_is_counted_apart_from_a_duplicate_key(store: Store) -> None:
    first = store.store([item(3, "a"), item(1, "b"), item(2, "c"), item(0, None)], 4)
    assert first == ReadFigures(pages_out_of_order=1, unkeyed=1)  # 3 before 1: not ascending
    # "a" again at index 3 (read twice, the later wins); "b" from another record (duplicate key, higher index:
    # the first stays); "c" from a lower index (duplicate key: the lowest index keeps it); "d" twice in one page.
    second = store.store([item(3, "a", attempts=2), item(5, "b", name="other"), item(4, "d"),
                          item(4, "d", attempts=7), item(1, "c", name="lower")], None)
    assert second == ReadFigures(pages_out_of_order=1, records_read_twice=2, duplicate_keys=2)
    assert store.stored() == {"a": (3, 2, "n"), "b": (1, 0, "n"), "c": (1, 0, "lower"), "d": (4, 7, "n")}
    assert store.figures() == ReadFigures(pages_out_of_order=2, records_read_twice=2, duplicate_keys=2, unkeyed=1)


def test_pages_ascending_from_their_from_index_with_holes_are_in_order(store: Store) -> None:
    assert store.store([item(0, "a"), item(2, "b"), item(7, "c")], 8) == ReadFigures()
    assert store.store([item(8, "d"), item(12, "e")], None) == ReadFigures()
    assert store.figures() == ReadFigures()


def test_by_cursor_the_same_entry_is_the_same_record_and_keeps_its_first_place(store: Store) -> None:
    store.store([item(0, "a"), item(1, "b")], CursorPosition(cursor="x", next_index=2), indexed=False)
    figures = store.store([item(2, "a", attempts=3), item(3, "b", name="another record")], None, indexed=False)
    assert figures == ReadFigures(records_read_twice=1, duplicate_keys=1)  # the reader's indexes are never in doubt
    assert store.stored() == {"a": (0, 3, "n"), "b": (1, 0, "n")}


def test_in_index_order_allows_holes_but_nothing_below_the_from_index_or_repeated() -> None:
    assert in_index_order([1000, 1003], 1000)
    assert in_index_order([], 5)
    assert not in_index_order([999, 1003], 1000)
    assert not in_index_order([1000, 1000], 1000)
    assert not in_index_order([1003, 1001], 1000)


def test_a_new_full_read_starts_its_figures_afresh_and_its_records_are_not_read_twice(tmp_path: Path) -> None:
    state = State.open(tmp_path / "s.state", {"tenant": "t", "key_columns": ["id"]})
    try:
        state.start_full_read()
        state.record_full_page(KeyedPage.of([item(1, "a"), item(0, "b")]), None, NOW)
        assert state.full_read_figures().pages_out_of_order == 1
        state.finish_full_read(NOW, 1.0)
        state.start_full_read()
        assert state.record_full_page(KeyedPage.of([item(0, "b"), item(1, "a")]), None, NOW) == ReadFigures()
        assert state.full_read_figures() == ReadFigures()
    finally:
        state.close()
