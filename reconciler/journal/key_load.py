"""The input's keys into the journal in first-seen order, fast whatever their order.

The journal's unique index on the key text is written where each key sorts. Keys in order write it
at its end; keys in no order write it at random places, a page out of SQLite's cache a key: 1M
shuffled keys cost 3.7-3.9 s of CPU against 0.7 s in order (docs/BENCHMARKS.md 9h). So when the
first batch is not in order, the keys are appended to a temporary table instead (SQLite's file,
not memory), and merged once the input is read: the distinct keys in first-seen order (the same
ids as loading them one batch after another gives) into the journal with its index dropped, then
the index built again by one sort.

The merge and the note that the keys are loaded are one transaction. A run killed before it has no
keys in its journal and loads them again from the start, as a run killed while loading always did.
A journal begun by an older reconciler (its index part of the table) or already holding keys takes
its keys a batch at a time, as before.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.journal.journal_file import KEY_INDEX, json_array


class KeyLoad:
    """One pass of the input's keys: ``add`` each batch's distinct keys, then ``finish``."""

    def __init__(self, db: sqlite3.Connection, add_keys: Callable[[Sequence[str]], None],
                 finish_loading: Callable[[Mapping[str, Any]], None]) -> None:
        self._db, self._add_keys, self._finish_loading = db, add_keys, finish_loading
        self._staged: bool | None = None  # decided by the first batch

    def add(self, texts: Sequence[str]) -> None:
        if not texts:
            return
        if self._staged is None:
            self._staged = not _in_order(texts) and self._can_stage()
            if self._staged:
                self._db.execute("DROP TABLE IF EXISTS temp.loading")  # of a load stopped in this process
                self._db.execute("CREATE TEMP TABLE loading (key TEXT NOT NULL)")
        if not self._staged:
            self._add_keys(texts)
            return
        array = json_array(texts)
        if array is None:  # a NUL in a text: SQLite's JSON would cut it
            self._db.executemany("INSERT INTO temp.loading (key) VALUES (?)", ((t,) for t in texts))
        else:
            self._db.execute("INSERT INTO temp.loading (key) SELECT value FROM json_each(?)", (array,))

    def finish(self, summary: Mapping[str, Any]) -> None:
        if not self._staged:
            self._finish_loading(summary)
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(f"DROP INDEX {KEY_INDEX}")
            self._db.execute("INSERT INTO keys (key) SELECT key FROM temp.loading GROUP BY key ORDER BY min(rowid)")
            self._db.execute(f"CREATE UNIQUE INDEX {KEY_INDEX} ON keys (key)")
            self._finish_loading(summary)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("DROP TABLE temp.loading")

    def _can_stage(self) -> bool:
        """An empty journal whose key index stands apart from its table (one this version began)."""
        return (self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                                 (KEY_INDEX,)).fetchone() is not None
                and self._db.execute("SELECT 1 FROM keys LIMIT 1").fetchone() is None)


def _in_order(texts: Sequence[str]) -> bool:
    # Python orders texts by code point, SQLite by their UTF-8 bytes: the same order. Only the speed depends on it.
    return all(a < b for a, b in itertools.pairwise(texts))
