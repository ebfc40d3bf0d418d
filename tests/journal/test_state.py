"""The nightly state: bound to one target, refused when corrupt or in use, resumable page by page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.journal.lock import StateBusy
from reconciler.journal.page_reads import KeyedPage
from reconciler.journal.reported import StagedReport
from reconciler.journal.state import State, StateMismatch
from reconciler.journal.state_file import STATE_VERSION, StateUnreadable
from reconciler.lookup import ListedRecord, RecordStatus

BINDING = {"tenant": "t", "list": "L", "campaign": "C", "dialect": "classic", "key_columns": ["id"]}
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def listed(index: int, when: datetime | None = None) -> tuple[str, ListedRecord]:
    status = RecordStatus(completed=False, total_attempts=1 if when else 0, last_date=when)
    return str(index), ListedRecord(index=index, entry={"id": str(index)}, record=status)


@pytest.mark.parametrize(("content", "detail"), [
    (b"not a database at all, just text" * 100, "file is not a database"),
    (None, "not a reconciler state"),
])
def test_a_file_that_is_no_state_is_refused_with_one_line(tmp_path: Path, content: bytes | None, detail: str) -> None:
    path = tmp_path / "x.state"
    if content is None:
        import sqlite3

        sqlite3.connect(path).execute("CREATE TABLE orders (id INTEGER)").connection.commit()
    else:
        path.write_bytes(content)
    with pytest.raises(StateUnreadable, match=detail) as raised:
        State.open(path, BINDING)
    assert "\n" not in str(raised.value) and "move it away" in str(raised.value)


def test_a_state_in_use_by_another_run_is_refused(tmp_path: Path) -> None:
    state = State.open(tmp_path / "s.state", BINDING)
    try:
        with pytest.raises(StateBusy, match="another reconciler run is using this state"):
            State.open(tmp_path / "s.state", BINDING)
    finally:
        state.close()


def test_a_state_names_every_difference_of_target(tmp_path: Path) -> None:
    State.open(tmp_path / "s.state", BINDING).close()
    with pytest.raises(StateMismatch, match=r"campaign: was 'C', now 'D'; dialect: was 'classic', now 'v2'"):
        State.open(tmp_path / "s.state", {**BINDING, "campaign": "D", "dialect": "v2"})


def test_an_interrupted_full_read_goes_on_and_only_its_end_forgets_unseen_records(tmp_path: Path) -> None:
    state = State.open(tmp_path / "s.state", BINDING)
    state.start_full_read()
    state.record_full_page(KeyedPage.of([listed(0), listed(1, NOW)]), 2, NOW)
    state.finish_full_read(NOW, 1.0)
    assert state.record_count() == 2 and state.high_water() == NOW
    state.start_full_read()  # the next full read: record 1 has left the list
    state.record_full_page(KeyedPage.of([listed(0)]), 1, NOW)
    state.close()  # killed here

    state = State.open(tmp_path / "s.state", BINDING)
    assert state.full_read_position() == 1 and state.record_count() == 2
    state.start_full_read()  # goes on, same generation
    state.record_full_page(KeyedPage.of([]), None, NOW)
    state.finish_full_read(NOW, 1.0)
    assert state.record_count() == 1 and state.full_read_position() is None
    state.close()


@pytest.mark.parametrize("dialect", ["classic", "v3"])
def test_a_full_read_begun_but_not_answered_is_nothing_to_keep(tmp_path: Path, dialect: str) -> None:
    from reconciler.journal.listed import CursorPosition

    state = State.open(tmp_path / "s.state", {**BINDING, "dialect": dialect})
    state.start_full_read()  # noted before the first page is asked: a server never reached leaves only this
    assert state.full_read_under_way() and not state.holds_records()
    following = 1 if dialect == "classic" else CursorPosition(cursor="abc", next_index=0)
    state.record_full_page(KeyedPage.of([]), following, NOW)  # a page without a keyed record is still a position
    assert state.holds_records()
    state.close()


def test_a_run_killed_after_the_last_page_of_a_full_read_finishes_it_without_reading_again(tmp_path: Path) -> None:
    state = State.open(tmp_path / "s.state", BINDING)
    state.start_full_read()
    state.record_full_page(KeyedPage.of([listed(0), listed(1, NOW)]), None, NOW)  # the last page is stored ...
    state.close()  # ... and the run killed before the read's end was written

    state = State.open(tmp_path / "s.state", BINDING)
    assert state.full_read_under_way() and state.full_read_position() is None  # no page left to read
    generation = state.start_full_read()
    assert generation == 1  # the same read goes on: its records are kept
    state.finish_full_read(NOW, 1.0)
    assert state.record_count() == 2 and not state.full_read_under_way() and state.high_water() == NOW
    state.close()


def test_a_v3_full_read_and_sync_go_on_from_their_stored_cursors(tmp_path: Path) -> None:
    from reconciler.journal.listed import CursorPosition

    state = State.open(tmp_path / "s.state", {**BINDING, "dialect": "v3"})
    state.start_full_read()
    state.record_full_page(KeyedPage.of([listed(0)]), CursorPosition(cursor="abc", next_index=1), NOW)
    state.close()
    state = State.open(tmp_path / "s.state", {**BINDING, "dialect": "v3"})
    assert state.full_read_position() == CursorPosition(cursor="abc", next_index=1)
    state.record_full_page(KeyedPage.of([listed(1, NOW)]), None, NOW)
    state.finish_full_read(NOW, 1.0)

    state.start_changes(NOW)
    state.record_changes([], NOW, NOW, next_cursor="page-2")
    assert (state.changes_position(), state.changes_cursor()) == (NOW, "page-2")
    state.record_changes([], None, NOW, next_cursor=None)  # the last page
    assert (state.changes_position(), state.changes_cursor()) == (None, None)
    state.close()


def test_a_rerun_of_a_run_that_already_reported_still_compares_with_the_run_before(tmp_path: Path) -> None:
    from reconciler.journal.store import Journal
    from reconciler.lookup import LookupResult, LookupStatus

    def report(run_id: str, attempts: int) -> None:
        journal = Journal.open(tmp_path / f"{run_id}.journal", {"input": run_id}, fresh=True)
        journal.add_keys(["7"])
        journal.record([(1, LookupResult(status=LookupStatus.FOUND, attempts=1, entry={"id": "7"},
                                         record=RecordStatus(completed=False, total_attempts=attempts)), NOW)])
        with StagedReport(state.path, journal.path, run_id) as staged:
            staged.stage()
            staged.commit()
        journal.close()

    state = State.open(tmp_path / "s.state", BINDING)
    report("monday", 1)
    report("tuesday", 2)
    report("tuesday", 2)  # killed after reporting, before it ended: the rerun reports again
    assert [(row[1], row[-3]) for row in state.reported(["7"], run_id="tuesday")] == [("monday", 1)]
    assert [(row[1], row[-3]) for row in state.reported(["7"], run_id="wednesday")] == [("tuesday", 2)]
    state.close()


FORMAT_1 = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (key TEXT PRIMARY KEY, list_index INTEGER, checked_at INTEGER, generation INTEGER NOT NULL,
    ask INTEGER NOT NULL DEFAULT 0, entry TEXT, completed INTEGER, last_disposition TEXT, last_date INTEGER,
    last_phone TEXT, last_call_duration INTEGER, last_agent TEXT, total_attempts INTEGER, global_interaction_id TEXT,
    completed_time INTEGER, extra TEXT, warnings INTEGER);
CREATE INDEX records_to_ask ON records (ask) WHERE ask = 1;
CREATE TABLE reported (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, status TEXT NOT NULL, entry TEXT,
    completed INTEGER, last_disposition TEXT, last_date INTEGER, last_phone TEXT, last_call_duration INTEGER,
    last_agent TEXT, total_attempts INTEGER, global_interaction_id TEXT, completed_time INTEGER, extra TEXT,
    warnings INTEGER);
CREATE TABLE reported_before (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, status TEXT NOT NULL, entry TEXT,
    completed INTEGER, last_disposition TEXT, last_date INTEGER, last_phone TEXT, last_call_duration INTEGER,
    last_agent TEXT, total_attempts INTEGER, global_interaction_id TEXT, completed_time INTEGER, extra TEXT,
    warnings INTEGER);
CREATE TABLE fields (kind TEXT NOT NULL, name TEXT NOT NULL, folded TEXT NOT NULL, PRIMARY KEY (kind, folded));
INSERT INTO meta VALUES ('version', '1'), ('generation', '1'), ('full_read_at', '2026-12-05T02:00:00+00:00'),
    ('binding', '{"campaign": "C", "dialect": "classic", "key_columns": ["id"], "list": "L", "tenant": "t"}');
INSERT INTO records (key, list_index, checked_at, generation, ask, entry, completed, total_attempts)
    VALUES ('2', 2, 0, 1, 0, '{"id": "2"}', 0, 3), ('1', 1, 0, 1, 1, '{"id": "1"}', 0, 1);
INSERT INTO reported (key, run_id, status, total_attempts) VALUES ('2', 'monday', 'found', 3);
"""


def test_a_state_of_the_first_format_is_moved_to_the_current_one_with_every_row(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "s.state"
    old = sqlite3.connect(path)
    old.executescript(FORMAT_1)
    old.close()
    state = State.open(path, BINDING)
    assert state.record_count() == 2 and state.keys_to_ask(10) == ["1"]
    assert state.full_read_at() == datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert [(row[0], row[1], row[-3]) for row in state.reported(["2"], run_id="tuesday")] == [("2", "monday", 3)]
    state.start_full_read()  # and it goes on as any state
    state.record_full_page(KeyedPage.of([listed(3, NOW)]), None, NOW)
    assert state.record_count() == 3
    tables = dict(state.connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    assert all("WITHOUT ROWID" in tables[name] for name in ("records", "reported", "reported_before"))
    assert state.connection.execute("SELECT value FROM meta WHERE name = 'version'").fetchone() == (str(STATE_VERSION),)
    state.close()


def test_a_state_written_by_a_newer_reconciler_is_refused_with_one_line(tmp_path: Path) -> None:
    State.open(tmp_path / "s.state", BINDING).close()
    import sqlite3

    db = sqlite3.connect(tmp_path / "s.state")
    db.execute("UPDATE meta SET value = '99' WHERE name = 'version'")
    db.commit()
    db.close()
    with pytest.raises(StateUnreadable, match=r"format 99, written by a newer reconciler") as raised:
        State.open(tmp_path / "s.state", BINDING)
    assert "\n" not in str(raised.value)
