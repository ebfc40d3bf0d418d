"""Giving a run's keys their status from the nightly state, beside the asking of the keys it lacks.

The copy runs on a connection of its own, for a worker thread, one transaction per ``STEP`` keys:
the answers of the keys asked meanwhile are committed on the run's connection, and wait for one
step at most. The two never meet: the copy takes only keys the state holds exactly, the asking
only keys it does not (``Journal.pending_unanswered_by_state``). Each step is idempotent, so a
run killed half-way goes on from the keys still pending.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from reconciler.journal.store import RESOLVE_FROM_STATE

STEP = 5_000  # keys a transaction: a few milliseconds of the journal's write lock


def resolve_in_steps(journal: Path, state: Path, *, step: int = STEP,
                     halted: Callable[[], bool] = lambda: False) -> int:
    """``Journal.resolve_from_state`` (a key the state lacks stays pending), a step at a time; how many it had.

    ``halted``: checked before each step; once true, the keys left stay pending for the rerun.
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
