"""Keys answered where the state holds them: the same table and report as when each was copied, resumed alike."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa

from reconciler.journal.from_state import resolve_in_steps
from reconciler.journal.page_reads import KeyedPage
from reconciler.journal.reported import StagedReport
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.lookup import ChangedRecord, ListedRecord, LookupResult, LookupStatus, RecordStatus
from reconciler.output.history import RunIdentity
from reconciler.output.join import join_batch, plan_output

BINDING = {"tenant": "t", "list": "L", "campaign": "C", "dialect": "classic", "key_columns": ["id"]}
MONDAY = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
# 1-5 on the list; 4's change did not say its whole status (asked: found), 5 was deleted (asked: not found),
# 3 is asked and ends in error; 8 and 9 the state lacks (asked: 8 joined the list, 9 is not on it).
INPUT = ["9", "1", "4", "2", "5", "3", "8", "2", "1"]
ASKED = {"4": LookupResult(status=LookupStatus.FOUND, attempts=1, http_status=200, entry={"id": "4", "city": "Oslo"},
                           record=RecordStatus(completed=True, total_attempts=9, last_disposition="Sale")),
         "5": LookupResult(status=LookupStatus.NOT_FOUND, attempts=1, http_status=404, error="not on the list"),
         "3": LookupResult(status=LookupStatus.ERROR, attempts=3, http_status=503, error="unavailable"),
         "8": LookupResult(status=LookupStatus.FOUND, attempts=1, http_status=200, entry={"id": "8"},
                           record=RecordStatus(completed=False, total_attempts=1, warnings=("odd date",))),
         "9": LookupResult(status=LookupStatus.NOT_FOUND, attempts=2, http_status=404, error="not on the list")}
RUN = RunIdentity("tuesday", date(2026, 12, 8))


def monday(folder: Path) -> State:
    """The state after monday: the list read whole, and monday's report of keys 1 to 5."""
    state = State.open(folder / "list.state", BINDING)
    state.start_full_read()
    state.record_full_page(KeyedPage.of([(str(n), ListedRecord(index=n, entry={"id": str(n), "city": f"c{n}"},
                                                  record=RecordStatus(completed=False, total_attempts=n,
                                                                      last_disposition="No answer",
                                                                      warnings=("w",) * (n % 2))))
                            for n in range(1, 6)]), None, MONDAY)
    state.finish_full_read(MONDAY, 1.0)
    journal = Journal.open(folder / "monday.journal", {"input": "monday"}, fresh=True)
    journal.add_keys([str(n) for n in range(1, 6)])
    journal.resolve_from_state(state.path, absent_is_not_found=True)
    with StagedReport(state.path, journal.path, "monday") as report:
        report.stage()
        report.commit()
    journal.discard()
    return state


def tuesday_asked(folder: Path) -> tuple[State, Journal]:
    """Tuesday until its asking is done: the changes synced, the keys the state cannot answer asked."""
    state = monday(folder)
    state.record_changes([("2", ChangedRecord(entry={"id": "2", "city": "c2"}, changed_at=TUESDAY,
                                              record=RecordStatus(completed=False, total_attempts=7,
                                                                  last_disposition="Busy"))),
                          ("4", ChangedRecord(entry={"id": "4"}, record=None, changed_at=TUESDAY)),
                          ("5", ChangedRecord(entry={"id": "5"}, record=None, changed_at=TUESDAY)),
                          ("3", ChangedRecord(entry={"id": "3"}, record=None, changed_at=TUESDAY))], None, TUESDAY)
    journal = Journal.open(folder / "tuesday.journal", {"input": "tuesday"}, fresh=True)
    journal.add_keys(list(dict.fromkeys(INPUT)))
    with journal.state_attached(state.path):
        noted = journal.note_unanswered_by_state()
        asked = journal.pending_unanswered_by_state(0, 100)
        assert noted == len(asked) == len(ASKED)
        journal.record([(key_id, ASKED[key], TUESDAY) for key_id, key in asked])
        assert journal.unanswered_left() == 0
    state.absorb_answers(journal.path)
    return state, journal


def copies(folder: Path) -> tuple[Path, Path]:
    """Tuesday after its asking, twice: the journal and the state of each in a folder of its own."""
    state, journal = tuesday_asked(folder / "made")
    state.close()
    journal.close()
    paths = []
    for name in ("answered", "copied"):
        shutil.copytree(folder / "made", folder / name)
        paths.append(folder / name)
    return paths[0], paths[1]


def table_and_report(folder: Path, *, copy: bool) -> tuple[pa.Table, list[tuple[object, ...]], Journal, State]:
    """Tuesday's table and the report it leaves: the state's answers read in place, or (``copy``) copied first."""
    state = State.open(folder / "list.state", BINDING)
    if copy:  # the semantics of every night before: each key's answer copied into the journal
        resolve_in_steps(folder / "tuesday.journal", state.path)
    journal = Journal.open(folder / "tuesday.journal", {"input": "tuesday"}, fresh=False)
    if not copy:
        journal.answer_from_state(state.path, state.revision())
    batch = pa.record_batch([pa.array(INPUT), pa.array([f"row {n}" for n in range(len(INPUT))])],
                            names=["id", "note"])
    layout = plan_output(batch.schema, journal.field_names("entry") + state.field_names())
    table = pa.Table.from_batches([join_batch(batch, batch.column(0), journal.lookup_columns, layout, RUN)])
    with StagedReport(state.path, journal.path, RUN.run_id) as report:
        report.stage()
        report.commit()
    return table, reports(state.path), journal, state


def reports(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return [("reported", *row) for row in db.execute("SELECT * FROM reported ORDER BY key")] + \
               [("before", *row) for row in db.execute("SELECT * FROM reported_before ORDER BY key")]
    finally:
        db.close()


def test_keys_answered_in_the_state_give_the_table_and_report_that_copying_each_gave(tmp_path: Path) -> None:
    answered, copied = copies(tmp_path)
    table, report, journal, state = table_and_report(answered, copy=False)
    old_table, old_report, old_journal, old_state = table_and_report(copied, copy=True)

    assert table.schema == old_table.schema
    assert table.equals(old_table)
    assert report == old_report
    rows = {row["id"]: row for row in table.to_pylist()}
    assert rows["1"]["recon_status"] == "found" and rows["1"]["recon_http_status"] == 200
    assert rows["1"]["recon_attempts"] == 0 and rows["1"]["recon_source"] == "full_read"
    assert rows["2"]["lastDisposition"] == "Busy" and rows["2"]["recon_source"] == "changes"
    assert rows["4"]["totalAttempts"] == 9 and rows["4"]["recon_source"] == "query"
    assert [rows[k]["recon_status"] for k in ("5", "3", "8", "9")] == ["not_found", "error", "found", "not_found"]
    # A key in error keeps monday's report; the deleted record and the key not on the list report not found.
    reported = {row[1]: row[2:4] for row in report if row[0] == "reported"}
    assert reported == {"1": ("tuesday", "found"), "2": ("tuesday", "found"), "3": ("monday", "found"),
                        "4": ("tuesday", "found"), "5": ("tuesday", "not_found"), "8": ("tuesday", "found"),
                        "9": ("tuesday", "not_found")}
    # What the run says of itself, and the tuple read the join falls back to, are the copy's too.
    assert journal.count_by_status() == old_journal.count_by_status() == {"found": 4, "not_found": 2, "error": 1}
    assert journal.warnings_count() == old_journal.warnings_count() == 2  # 1 from the state, 8 asked
    assert sorted(journal.lookup(INPUT)) == sorted(old_journal.lookup(INPUT))
    assert journal.pending_count() == old_journal.pending_count() == 0
    assert journal.pending(0, 10) == old_journal.pending(0, 10) == []
    for opened in (journal, old_journal, state, old_state):
        opened.close()


def test_a_resumed_run_keeps_the_states_answers_while_the_state_is_unchanged(tmp_path: Path) -> None:
    state, journal = tuesday_asked(tmp_path)
    journal.answer_from_state(state.path, state.revision())
    before = sorted(journal.lookup(INPUT))
    journal.close()  # as a kill leaves it

    resumed = Journal.open(tmp_path / "tuesday.journal", {"input": "tuesday"}, fresh=False)
    resumed.resume_state_answers(state.path, state.revision())
    assert resumed.pending_count() == 0  # nothing to ask: the rerun writes the same table
    assert sorted(resumed.lookup(INPUT)) == before
    resumed.close()
    state.close()


def test_a_state_moved_on_since_leaves_the_resumed_runs_keys_to_answer_again(tmp_path: Path) -> None:
    state, journal = tuesday_asked(tmp_path)
    journal.answer_from_state(state.path, state.revision())
    journal.close()
    state.record_changes([("1", ChangedRecord(entry={"id": "1"}, changed_at=TUESDAY,
                                              record=RecordStatus(completed=True, total_attempts=2)))], None, TUESDAY)

    resumed = Journal.open(tmp_path / "tuesday.journal", {"input": "tuesday"}, fresh=False)
    resumed.resume_state_answers(state.path, state.revision())
    assert [key for _, key in resumed.pending(0, 10)] == ["1", "2"]  # the state's keys: asked of it again
    with resumed.state_attached(state.path):
        assert resumed.note_unanswered_by_state() == 0
    resumed.answer_from_state(state.path, state.revision())
    answers = {row[0]: row for row in resumed.lookup(["1", "2"])}
    assert answers["1"][13] == 2 and answers["1"][17] == "changes"  # as the state now says
    resumed.close()
    state.close()


def test_a_journal_kept_for_retry_errors_or_asking_them_again_holds_every_answer_itself(tmp_path: Path) -> None:
    state, journal = tuesday_asked(tmp_path)
    journal.answer_from_state(state.path, state.revision())
    answered = sorted(journal.lookup(INPUT))
    journal.keep_for_retry()
    state.record_changes([("1", ChangedRecord(entry={"id": "1"}, changed_at=TUESDAY,
                                              record=RecordStatus(completed=True, total_attempts=2)))], None, TUESDAY)

    kept = Journal.open(tmp_path / "tuesday.journal", {"input": "tuesday"}, fresh=False, retry_errors=True)
    kept.resume_state_answers(state.path, state.revision())
    assert sorted(kept.lookup(INPUT)) == answered  # tuesday's answers, whatever the state says since
    assert kept.requeue_errors() == 1
    assert [key for _, key in kept.pending(0, 10)] == ["3"]
    kept.close()

    state2, journal2 = tuesday_asked(tmp_path / "again")
    journal2.answer_from_state(state2.path, state2.revision())
    assert journal2.requeue_errors() == 1  # the state's answers are copied first: only the error is pending
    assert [key for _, key in journal2.pending(0, 10)] == ["3"]
    assert sorted(row for row in journal2.lookup(INPUT)) == sorted(row for row in answered if row[0] != "3")
    journal2.close()
    state2.close()
    state.close()
