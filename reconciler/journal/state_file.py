"""The nightly state's file: its tables, how it is opened, and the move from an older format.

Format 2 keeps the records and the reports in ``WITHOUT ROWID`` tables, clustered by key: storing
a page of changes at random keys then writes one b-tree instead of a table and its key index. A
format-1 state is moved to format 2 when it is opened, in one transaction (a kill during it leaves
format 1); the rows, and so every later run's results, are the same.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from reconciler.errors import UsageError

logger = logging.getLogger("reconciler.state")

STATE_VERSION = 2
WAL_PAGES = 32_768  # of 4 KiB: the write-ahead log may reach 128 MiB before it is copied back
_RECORD_COLUMNS = """entry TEXT, completed INTEGER, last_disposition TEXT, last_date INTEGER, last_phone TEXT,
    last_call_duration INTEGER, last_agent TEXT, total_attempts INTEGER, global_interaction_id TEXT,
    completed_time INTEGER, extra TEXT, warnings INTEGER"""
REPORT_COLUMNS = f"key TEXT PRIMARY KEY, run_id TEXT NOT NULL, status TEXT NOT NULL, {_RECORD_COLUMNS}"
_KEYED_TABLES = {
    "records": f"""key TEXT PRIMARY KEY, list_index INTEGER, checked_at INTEGER, generation INTEGER NOT NULL,
    ask INTEGER NOT NULL DEFAULT 0, {_RECORD_COLUMNS}, source TEXT""",
    "reported": REPORT_COLUMNS,
    "reported_before": REPORT_COLUMNS,
}
_SCHEMA = "\n".join((
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
    *(f"CREATE TABLE IF NOT EXISTS {name} ({columns}) WITHOUT ROWID;" for name, columns in _KEYED_TABLES.items()),
    "CREATE INDEX IF NOT EXISTS records_to_ask ON records (ask) WHERE ask = 1;",
    """CREATE TABLE IF NOT EXISTS fields (kind TEXT NOT NULL, name TEXT NOT NULL, folded TEXT NOT NULL,
                                   PRIMARY KEY (kind, folded));""",
))


class StateUnreadable(UsageError):
    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        super().__init__(f"{path}: not a usable reconciler state ({detail}); move it away to start afresh "
                         "(the next run then reads the whole list)")


def connect(path: Path) -> sqlite3.Connection:
    """Open the state at ``path`` (a new one if there is none), in the current format."""
    existed = path.exists() and path.stat().st_size > 0
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        # A page of changes at random keys dirties a page of the file per record: copying them back
        # after every page's commit (at the default 1,000) cost more than the writes themselves. The
        # log is copied back once, beside the writing of the table (``StagedReport``) or at close.
        connection.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
        if existed:
            _check_and_upgrade(connection, path)
        connection.executescript(_SCHEMA)
        # Written only when it changes: a state refused later (another target's) stays byte for byte.
        connection.execute("INSERT INTO meta (name, value) VALUES ('version', ?) ON CONFLICT (name) DO UPDATE "
                           "SET value = excluded.value WHERE value != excluded.value", (str(STATE_VERSION),))
    except sqlite3.DatabaseError as exc:
        raise StateUnreadable(path, str(exc)) from exc
    return connection


def add_source_column(connection: sqlite3.Connection) -> None:
    """Give a state written before records said where their values came from its ``source`` column (null there)."""
    if "source" not in {row[1] for row in connection.execute("PRAGMA table_info(records)")}:
        connection.execute("ALTER TABLE records ADD COLUMN source TEXT")


def _check_and_upgrade(connection: sqlite3.Connection, path: Path) -> None:
    tables = dict(connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    if not {"meta", "records", "reported"} <= set(tables):
        connection.close()
        raise StateUnreadable(path, "it is an SQLite file, but not a reconciler state")
    row = connection.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
    version = int(row[0]) if row is not None and str(row[0]).isdigit() else 1
    if version > STATE_VERSION:
        connection.close()
        raise StateUnreadable(path, f"it is of format {version}, written by a newer reconciler than this one "
                                    f"(format {STATE_VERSION}); upgrade reconciler")
    older = [name for name in _KEYED_TABLES if name in tables and "WITHOUT ROWID" not in tables[name].upper()]
    if older:
        logger.info("moving the state to format %d (%s clustered by key); once, for this state",
                    STATE_VERSION, ", ".join(older))
        _cluster_by_key(connection, older)
        connection.execute("VACUUM")  # the old tables' pages: the file would otherwise keep their size


def _cluster_by_key(connection: sqlite3.Connection, names: list[str]) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        for name in names:
            connection.execute(f"CREATE TABLE {name}_by_key ({_KEYED_TABLES[name]}) WITHOUT ROWID")
            columns = ", ".join(column for (_, column, *_) in connection.execute(f"PRAGMA table_info({name})"))
            connection.execute(f"INSERT INTO {name}_by_key ({columns}) SELECT {columns} FROM {name} ORDER BY key")
            connection.execute(f"DROP TABLE {name}")
            connection.execute(f"ALTER TABLE {name}_by_key RENAME TO {name}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
