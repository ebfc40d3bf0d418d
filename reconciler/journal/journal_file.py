"""The journal's file: its tables, the errors of opening one, and what may be read of it before it is opened."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import UsageError
from reconciler.journal.rows import ADDED_COLUMNS

JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    status TEXT, http_status INTEGER, error TEXT, attempts INTEGER, checked_at INTEGER,
    entry TEXT, completed INTEGER, last_disposition TEXT, last_date INTEGER, last_phone TEXT,
    last_call_duration INTEGER, last_agent TEXT, total_attempts INTEGER, global_interaction_id TEXT,
    completed_time INTEGER, extra TEXT, warnings INTEGER
);
CREATE INDEX IF NOT EXISTS keys_pending ON keys (done, id);
CREATE TABLE IF NOT EXISTS previous (key TEXT PRIMARY KEY, run_id TEXT, status TEXT, completed INTEGER,
    last_disposition TEXT, last_date INTEGER, last_phone TEXT, last_call_duration INTEGER, last_agent TEXT,
    total_attempts INTEGER, global_interaction_id TEXT, completed_time INTEGER);
CREATE TABLE IF NOT EXISTS fields (kind TEXT NOT NULL, name TEXT NOT NULL, folded TEXT NOT NULL,
                                   PRIMARY KEY (kind, folded));
"""


KEY_INDEX = "keys_key"  # unique; an index of its own, so that a load of keys in no order can build it by a sort


def add_key_index(connection: sqlite3.Connection) -> None:
    """Index the key texts (unique), unless the journal is an older one whose table holds that index."""
    if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_autoindex_keys_1'").fetchone() is None:
        connection.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {KEY_INDEX} ON keys (key)")


def json_array(texts: Sequence[str]) -> str | None:
    """``texts`` as a JSON array for ``json_each``; None if one holds a NUL, which SQLite's JSON would cut short."""
    array = json.dumps(texts if isinstance(texts, list) else list(texts))
    return None if "\\u0000" in array else array


class JournalMismatch(UsageError):
    def __init__(self, path: Path, differences: list[str]) -> None:
        self.path, self.differences = path, differences
        super().__init__(
            f"{path}: this journal belongs to another run ({'; '.join(differences)}); "
            "rerun with the original settings to resume, or pass --fresh to discard it"
        )


class JournalUnreadable(UsageError):
    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        super().__init__(f"{path}: not a usable reconciler journal ({detail}); pass --fresh to discard it")


def noted_run(path: Path, *, retry_errors: bool) -> str | None:
    """The run identity an existing journal noted, when a run would resume it; None otherwise.

    Read before the journal is opened, so that the run's output paths can be expanded first. A
    journal kept for ``--retry-errors`` is resumed only by such a run; anything unreadable here is
    left for ``Journal.open`` to report.
    """
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = dict(connection.execute("SELECT name, value FROM meta WHERE name IN ('note:run', 'finished')"))
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return None
    if "finished" in rows and not retry_errors:
        return None
    return rows.get("note:run")


def add_missing_columns(connection: sqlite3.Connection, tables: tuple[str, ...]) -> None:
    # A journal kept by an older reconciler (killed, or kept for --retry-errors) resumes as it is.
    for table in tables:
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for name, kind in ADDED_COLUMNS:
            if name not in present:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def discard_files(path: Path) -> None:
    """Delete the journal's database files; its lock file is ``JournalLock``'s to remove."""
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
