"""A report moved by renaming ``reported`` leaves the state's reports as the upserts did, byte for byte.

``reported._remember`` renames when few reports stay where they are (docs/BENCHMARKS.md 9h) and
upserts otherwise. Both ways are run here on copies of the same state, night after night, and the
two tables compared value and type (``quote``): keys in error keep their report, keys absent
tonight keep theirs, a rerun of a run compares with the run before it, a report an older version
wrote keeps its entry until replaced, and a ``reported_before`` row no report holds stays.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.journal import reported
from reconciler.journal.reported import StagedReport
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.lookup import LookupResult, LookupStatus, RecordStatus

BINDING = {"tenant": "t", "list": "L", "campaign": "C", "dialect": "classic", "key_columns": ["id"]}
NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
# Key texts that compare awkwardly: a NUL, quotes, a prefix of another, case, astral and empty-looking ones.
KEYS = ["1", "10", "a\x00b", "a", "A", "it's", '"q"', "\\", "é", "😀", " ", "x\u2028y", *[f"k{n}" for n in range(20)]]
OUTCOMES = ("found", "not_found", "error", "state", "unanswered")


def old_reports(db: sqlite3.Connection, rng: random.Random) -> None:
    """Reports an older reconciler wrote (entry, extra and warnings held), and a before-row no report holds."""
    columns = "key, run_id, status, entry, completed, last_disposition, total_attempts, extra, warnings"
    for table, run_id in (("reported", "older"), ("reported_before", "oldest")):
        for key in rng.sample(KEYS, 12):
            db.execute(f"INSERT INTO {table} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (key, run_id, rng.choice(["found", "not_found"]), rng.choice([None, '{"id": "x"}']),
                        rng.choice([None, 0, 1]), rng.choice([None, "", "Busy"]), rng.choice([None, 3, 3.0, "3"]),
                        rng.choice([None, "{}"]), rng.choice([None, 0, 2])))
    db.execute("INSERT OR IGNORE INTO reported_before (key, run_id, status) VALUES ('gone', 'oldest', 'found')")


def night(folder: Path, run_id: str, rng: random.Random) -> None:
    """A night's journal over some of the keys, each with an outcome, and its state's records."""
    state = State.open(folder / "s.state", BINDING)
    journal = Journal.open(folder / "n.journal", {"input": run_id}, fresh=True)
    tonight = rng.sample(KEYS, rng.randint(0, len(KEYS)))
    journal.add_keys(tonight)
    outcomes = {key: rng.choice(OUTCOMES) for key in tonight}
    db = state.connection
    db.execute("DELETE FROM records")
    for key in KEYS:
        if outcomes.get(key, rng.choice(["state", "unanswered"])) == "state" or rng.random() < 0.2:
            asked = int(outcomes.get(key) == "unanswered")
            db.execute("INSERT INTO records (key, generation, ask, completed, total_attempts, last_date, entry) "
                       "VALUES (?, 1, ?, ?, ?, ?, '{}')",
                       (key, asked, rng.choice([0, 1]), rng.randint(0, 9), rng.randint(0, 10**15)))
    results = {"found": LookupResult(status=LookupStatus.FOUND, attempts=1, http_status=200, entry={"id": "x"},
                                     record=RecordStatus(completed=True, total_attempts=rng.randint(0, 9),
                                                         last_disposition=rng.choice(["", "Sale"]))),
               "not_found": LookupResult(status=LookupStatus.NOT_FOUND, attempts=1, http_status=404, error="gone"),
               "error": LookupResult(status=LookupStatus.ERROR, attempts=3, http_status=503, error="unavailable")}
    journal.record([(key_id, results[outcomes[key]], NOW) for key_id, key in journal.pending(0, 100)
                    if outcomes[key] in results])
    if rng.random() < 0.8:  # else a night whose every key was asked (a full read's or a scan's journal)
        journal.answer_from_state(state.path, state.revision())
    journal.close()
    state.close()


def report(folder: Path, run_id: str) -> list[tuple[object, ...]]:
    state = State.open(folder / "s.state", BINDING)
    with StagedReport(state.path, folder / "n.journal", run_id) as staged:
        staged.stage()
        staged.commit()
    rows: list[tuple[object, ...]] = []
    for table in ("reported", "reported_before"):
        columns = [row[1] for row in state.connection.execute(f"PRAGMA table_info({table})")]
        rows += [(table, *row) for row in state.connection.execute(
            f"SELECT {', '.join(f'quote({name})' for name in columns)} FROM {table} ORDER BY key")]
    assert not state.connection.execute("SELECT name FROM sqlite_master WHERE name LIKE '%replaced%' "
                                        "OR name LIKE '%kept%'").fetchall()
    state.close()
    return rows


@pytest.mark.parametrize("seed", range(12))
def test_renaming_the_report_leaves_the_rows_that_the_upserts_leave(
        tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    State.open(tmp_path / "s.state", BINDING).close()
    db = sqlite3.connect(tmp_path / "s.state")
    old_reports(db, rng)
    db.commit()
    db.close()
    ways = {"renamed": tmp_path / "renamed", "upserted": tmp_path / "upserted"}
    for folder in ways.values():
        folder.mkdir()
        shutil.copyfile(tmp_path / "s.state", folder / "s.state")
    # Monday, tuesday, tuesday again (a rerun: the same run id, other outcomes), wednesday.
    for step, run_id in enumerate(["monday", "tuesday", "tuesday", "wednesday"]):
        night(tmp_path, run_id, random.Random(seed * 10 + step))
        got = {}
        for way, folder in ways.items():
            shutil.copyfile(tmp_path / "n.journal", folder / "n.journal")
            monkeypatch.setattr(reported, "_renames", lambda unmoved, held, way=way: way == "renamed")
            got[way] = report(folder, run_id)
            # The next night's records are drawn afresh in the shared folder's state: keep its reports.
            shutil.copyfile(folder / "s.state", tmp_path / "s.state")
        assert got["renamed"] == got["upserted"], run_id
        assert any(row[0] == "reported_before" and row[1] == "'gone'" for row in got["renamed"])


def test_a_night_of_the_same_input_renames_and_one_of_few_of_the_reported_keys_upserts() -> None:
    assert reported._renames(unmoved=0, held=0)
    assert reported._renames(unmoved=250, held=1000)
    assert not reported._renames(unmoved=251, held=1000)
