"""A run's report joins the state beside the writing of its table, and only once that table is whole."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.journal.reported import StagedReport
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.lookup import LookupResult, LookupStatus, RecordStatus

BINDING = {"tenant": "t", "list": "L", "campaign": "C", "dialect": "classic", "key_columns": ["id"]}
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def journal_of(tmp_path: Path, run_id: str, attempts: int) -> Journal:
    journal = Journal.open(tmp_path / f"{run_id}.journal", {"input": run_id}, fresh=True)
    journal.add_keys(["7"])
    journal.record([(1, LookupResult(status=LookupStatus.FOUND, attempts=1, entry={"id": "7"},
                                     record=RecordStatus(completed=False, total_attempts=attempts)), NOW)])
    return journal


def previous_attempts(state: State, run_id: str) -> list[tuple[str, int]]:
    return [(row[1], row[-3]) for row in state.reported(["7"], run_id=run_id)]


@pytest.fixture
def after_monday(tmp_path: Path) -> Iterator[tuple[State, Journal]]:
    """A state that holds monday's report, and tuesday's journal, whose report is staged by the test."""
    state = State.open(tmp_path / "s.state", BINDING)
    monday = journal_of(tmp_path, "monday", 1)
    with StagedReport(state.path, monday.path, "monday") as staged:
        staged.stage()
        staged.commit()
    tuesday = journal_of(tmp_path, "tuesday", 2)
    yield state, tuesday
    for journal in (monday, tuesday):
        journal.close()
    state.close()


def test_a_staged_report_is_unseen_while_the_table_is_written_and_kept_once_committed(
        after_monday: tuple[State, Journal]) -> None:
    state, tuesday = after_monday
    with StagedReport(state.path, tuesday.path, "tuesday") as report:
        report.stage()
        # The change feed, written meanwhile on the state's own connection, compares with monday's report.
        assert previous_attempts(state, "tuesday") == [("monday", 1)]
        assert previous_attempts(state, "wednesday") == [("monday", 1)]
        report.commit()
    assert previous_attempts(state, "wednesday") == [("tuesday", 2)]
    assert previous_attempts(state, "tuesday") == [("monday", 1)]  # a rerun of tuesday still sees monday


def test_a_report_whose_table_was_not_written_leaves_the_previous_one(after_monday: tuple[State, Journal]) -> None:
    state, tuesday = after_monday
    with StagedReport(state.path, tuesday.path, "tuesday") as report:
        report.stage()  # and then the writing fails: the block is left without a commit
    assert previous_attempts(state, "wednesday") == [("monday", 1)]
    on_disk = sqlite3.connect(state.path)  # and so it stays in the file, for any other connection
    assert on_disk.execute("SELECT run_id, total_attempts FROM reported").fetchall() == [("monday", 1)]
    on_disk.close()


def test_a_report_keeps_the_compared_status_and_not_the_entry(after_monday: tuple[State, Journal]) -> None:
    # A report is read by the change feed alone: the entry (most of a row's bytes) would only grow
    # the state by a copy of every input key's entry each night. A report an older version wrote
    # with its entry loses it when overwritten.
    state, tuesday = after_monday
    state.connection.execute("UPDATE reported SET entry = '{\"id\": \"7\"}', warnings = 0")
    with StagedReport(state.path, tuesday.path, "tuesday") as report:
        report.stage()
        report.commit()
    kept = {table: state.connection.execute(f"SELECT run_id, total_attempts, entry, extra, warnings FROM {table}")
            .fetchall() for table in ("reported", "reported_before")}
    assert kept == {"reported": [("tuesday", 2, None, None, None)],
                    "reported_before": [("monday", 1, None, None, None)]}
