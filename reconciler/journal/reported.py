"""What a run reported for each of its keys, kept in the state for the next run's change feed.

A run's results (in its journal) become the state's ``reported`` rows; what the run before said
moves beside them, to ``reported_before``, so that a rerun of a run killed after it reported still
compares with the run before, not with itself.

``StagedReport`` does this on a connection and a thread of its own while the table is being
written, and commits only once the table is published: a run that fails or is killed before then
leaves the previous report as it was. The same thread first copies the pages that the sync left in
the state's write-ahead log into the state file, work that would otherwise wait for the state to
close, on the run's critical path.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from reconciler.journal.from_state import REPORTED_FROM_STATE, STATE_ANSWERS
from reconciler.journal.rows import RECORD_FIELDS
from reconciler.journal.state_file import REPORT_COLUMNS, connect

# The status fields a change feed compares, in the order of ``reconciler.output.changes.PREVIOUS_COLUMNS``:
# all a report keeps. The entry and the undocumented fields are no part of a change, and would be
# most of the bytes written each night.
REPORTED_FIELDS = ("completed", "last_disposition", "last_date", "last_phone", "last_call_duration", "last_agent",
                   "total_attempts", "global_interaction_id", "completed_time")
_UNREPORTED = tuple(name for name in RECORD_FIELDS if name not in REPORTED_FIELDS)
_REPORTED = ", ".join(("run_id", "status", *REPORTED_FIELDS))
_BLANKED = ", ".join(f"{name} = NULL" for name in _UNREPORTED)  # as a report of an older reconciler may hold them
_UPDATE_REPORTED = "ON CONFLICT (key) DO UPDATE SET " + ", ".join(
    [f"{name} = excluded.{name}" for name in ("run_id", "status", *REPORTED_FIELDS)]) + ", " + _BLANKED
_ALL = ", ".join(("key", "run_id", "status", *RECORD_FIELDS))


def _remember(db: sqlite3.Connection, run_id: str) -> None:
    """Store what the journal attached as ``run`` says for each key; the caller holds the transaction.

    ``reported_before`` takes the ``reported`` row of each key of the run's input that another run
    reported (blanking its unreported fields, as a report of an older reconciler may hold them);
    ``reported`` takes this run's rows, and keeps the others (a key in error, or absent tonight).
    """
    (held,) = db.execute("SELECT count(*) FROM reported").fetchone()
    # The reports that stay where they are: keys absent tonight, or reported by this very run (a rerun).
    db.execute("DROP TABLE IF EXISTS temp.unmoved")
    db.execute("CREATE TEMP TABLE unmoved (key TEXT PRIMARY KEY) WITHOUT ROWID")
    unmoved = db.execute("INSERT INTO temp.unmoved SELECT key FROM reported "
                         "WHERE run_id = ? OR key NOT IN (SELECT key FROM run.keys)", (run_id,)).rowcount
    if _renames(unmoved, held):
        _rename_and_refill(db, run_id)
    else:
        # The way every night went before: each moving report upserted (the reference of the tests).
        db.execute(f"INSERT INTO reported_before (key, {_REPORTED}) SELECT key, {_REPORTED} FROM reported "
                   f"WHERE run_id != ? AND key IN (SELECT key FROM run.keys) {_UPDATE_REPORTED}", (run_id,))
        _report_tonight(db, run_id)
    db.execute("DROP TABLE temp.unmoved")


def _renames(unmoved: int, held: int) -> bool:
    """Whether to move the reports by renaming ``reported``: when few of them stay (docs/BENCHMARKS.md 9h).

    Moving a row costs an upsert; renaming moves them all at once, and the few that stay are then put back.
    """
    return unmoved * 4 <= held


def _rename_and_refill(db: sqlite3.Connection, run_id: str) -> None:
    """``_remember`` by renaming: the same rows as the upserts give, about 1 s less at 1M keys."""
    # What the run before said of a key whose report does not move (or that no report holds): kept
    # aside, so that the old rows' pages are free for this run's before it writes them.
    db.execute("DROP TABLE IF EXISTS temp.kept_before")
    db.execute(f"CREATE TEMP TABLE kept_before AS SELECT {_ALL} FROM reported_before "
               "WHERE key IN (SELECT key FROM temp.unmoved) OR key NOT IN (SELECT key FROM reported)")
    db.execute("DROP TABLE reported_before")
    db.execute("ALTER TABLE reported RENAME TO reported_before")
    db.execute(f"CREATE TABLE reported ({REPORT_COLUMNS}) WITHOUT ROWID")
    _report_tonight(db, run_id)
    # The reports this run did not replace stay as they were, unreported fields included.
    db.execute(f"INSERT INTO reported ({_ALL}) SELECT {_ALL} FROM reported_before "
               "WHERE key NOT IN (SELECT key FROM reported)")
    db.execute(f"UPDATE reported_before SET {_BLANKED} WHERE " + " OR ".join(f"{n} IS NOT NULL" for n in _UNREPORTED))
    db.execute("DELETE FROM reported_before WHERE key IN (SELECT key FROM temp.unmoved)")
    db.execute(f"INSERT INTO reported_before ({_ALL}) SELECT {_ALL} FROM temp.kept_before")
    db.execute("DROP TABLE temp.kept_before")


def _report_tonight(db: sqlite3.Connection, run_id: str) -> None:
    fields = ", ".join(REPORTED_FIELDS)
    db.execute(f"INSERT INTO reported (key, run_id, status, {fields}) SELECT key, ?, status, {fields} "
               f"FROM run.keys WHERE done = 1 AND status IN ('found', 'not_found') {_UPDATE_REPORTED}", (run_id,))
    if db.execute("SELECT 1 FROM run.meta WHERE name = ?", (STATE_ANSWERS,)).fetchone() is not None:
        # The keys the state answers (this state: the journal noted it): found, with the record's status.
        from_state = REPORTED_FROM_STATE.format(fields=", ".join(f"r.{name}" for name in REPORTED_FIELDS))
        db.execute(f"INSERT INTO reported (key, run_id, status, {fields}) {from_state} {_UPDATE_REPORTED}", (run_id,))


class StagedReport:
    """A run's report, written into the state beside the table and kept only with it (module docstring).

    ``stage`` runs on a worker thread; then ``commit`` keeps it, or ``close`` (leaving a ``with``
    block) alone drops it.
    """

    def __init__(self, state: Path, journal: Path, run_id: str) -> None:
        self._state, self._journal, self._run_id = state, journal, run_id
        self._db: sqlite3.Connection | None = None

    def stage(self) -> None:
        self._db = db = connect(self._state)  # the state's own settings: its commit copies nothing back
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        db.execute("ATTACH DATABASE ? AS run", (str(self._journal),))
        db.execute("BEGIN IMMEDIATE")
        _remember(db, self._run_id)

    def commit(self) -> None:
        if self._db is None:
            raise RuntimeError("the report was not staged")
        self._db.execute("COMMIT")
        self.close()

    def __enter__(self) -> StagedReport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the connection; a report not committed by then is rolled back."""
        if self._db is not None:
            self._db.close()
            self._db = None
