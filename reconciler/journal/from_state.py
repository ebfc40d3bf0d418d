"""Keys answered from the nightly state: read there by the join and the report, not copied a key.

A night's keys that the state holds exactly (``ask = 0``) are answered by it. Copying each one's
status into the journal cost about 4.5 s of CPU at 1M keys (docs/BENCHMARKS.md 9f), on the run's
critical path. Instead, once every other key has its answer in the journal, the journal notes the
state's revision (``STATE_ANSWERS``): from then on a key still pending is answered by the state,
and ``ANSWERED`` reads a result from the journal where it holds one, from the state otherwise, with
the values the copy wrote (status found, HTTP 200, no error, 0 attempts, the record's time and source).

The state's revision changes with every transaction that writes its records, so a resumed run
(after a kill at any moment) that finds the same revision finds the same answers; one that finds
another (the state moved on meanwhile) forgets the note, and its keys are answered again as on any
night. Where the journal must hold its answers itself (a journal kept for ``--retry-errors``, or
whose errors are asked again), ``resolve_in_steps`` copies them, as every night did before.

The copy runs on a connection of its own, one transaction per ``STEP`` keys; each step is
idempotent, so a copy killed half-way goes on from the keys still pending.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from reconciler.journal.rows import RECORD_FIELDS, RESULT_COLUMNS

STEP = 5_000  # keys a transaction: a few milliseconds of the journal's write lock
STATE_ANSWERS = "state_answers"  # the journal's meta: the revision of the state that answers its pending keys
# A key's result as the state gives it (the attached state's record ``r``): what the copy writes.
_FROM_RECORD = {"status": "'found'", "http_status": "200", "error": "NULL", "attempts": "0",
                "checked_at": "r.checked_at", "source": "r.source", **{name: f"r.{name}" for name in RECORD_FIELDS}}
# A pending key takes its status from the attached nightly state when the state holds it exactly.
RESOLVE_FROM_STATE = (
    "UPDATE keys SET done = 1, "
    + ", ".join(f"{name} = {_FROM_RECORD[name]}" for name in ("status", "http_status", "error", "attempts",
                                                               "source", "checked_at", *RECORD_FIELDS))
    + " FROM state.records AS r WHERE keys.key = r.key AND r.ask = 0 AND keys.done = 0")
UNANSWERED_BY_STATE = "NOT EXISTS (SELECT 1 FROM state.records AS r WHERE r.key = keys.key AND r.ask = 0)"
# ``(key, *RESULT_COLUMNS)`` of the wanted keys that have a result: the journal's (``k.done = 1``), or
# else the attached state's. ``{wanted}`` is the condition on ``k.key``. One pass: each wanted key is
# found once in the journal, and only a pending one in the state.
ANSWERED = ("SELECT k.key AS key, "
            + ", ".join(f"iif(k.done, k.{name}, {_FROM_RECORD[name]}) AS {name}" for name in RESULT_COLUMNS)
            + " FROM keys AS k LEFT JOIN state.records AS r ON k.done = 0 AND r.key = k.key AND r.ask = 0 "
              "WHERE {wanted} AND (k.done = 1 OR r.key IS NOT NULL)")
# The same rows from the journal alone.
JOURNALLED = ("SELECT k.key AS key, " + ", ".join(f"k.{name} AS {name}" for name in RESULT_COLUMNS)
              # "+done": without it SQLite may pick the done index and scan every finished key
              + " FROM keys AS k WHERE {wanted} AND +k.done = 1")
# The report's rows of the keys the state answers (the state's own connection, the journal attached as ``run``).
REPORTED_FROM_STATE = ("SELECT k.key, ?, 'found', {fields} FROM run.keys AS k JOIN records AS r "
                       "ON r.key = k.key AND r.ask = 0 WHERE k.done = 0")


def resolve_in_steps(journal: Path, state: Path, *, step: int = STEP,
                     halted: Callable[[], bool] = lambda: False) -> int:
    """Copy the state's answers into the journal (a key the state lacks stays pending), a step at a time.

    Returns how many it copied; ``halted``: checked before each step, once true the keys left stay pending.
    """
    db = sqlite3.connect(journal, isolation_level=None)
    try:
        db.execute("ATTACH DATABASE ? AS state", (str(state),))
        (last,) = db.execute("SELECT coalesce(max(id), 0) FROM keys").fetchone()
        resolved = 0
        for low in range(0, int(last), step):
            if halted():
                break
            db.execute("BEGIN IMMEDIATE")
            resolved += db.execute(f"{RESOLVE_FROM_STATE} AND keys.id > ? AND keys.id <= ?", (low, low + step)).rowcount
            db.execute("COMMIT")
        return resolved
    finally:
        db.close()
