"""The run's memory on disk: distinct keys, their lookup results, and what the run is bound to.

One SQLite file beside the output serves three jobs at once, so that memory never grows with the
input: de-duplication (one row per distinct key text), the join (results looked up by key text)
and resuming (a key without a result is still to be asked). Results are committed in small
batches; WAL mode keeps every committed batch through a ``kill -9``. The scan strategy's copy of
the calling list shares the file and its transactions (``journal_listed``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from reconciler.errors import UsageError
from reconciler.journal.columns import read_results
from reconciler.journal.listed import LISTED_SCHEMA, ListedRecords
from reconciler.journal.lock import JournalLock
from reconciler.journal.rows import ADDED_COLUMNS, RECORD_FIELDS, RESULT_COLUMNS, epoch_ms, record_row
from reconciler.lookup import LookupResult, LookupStatus

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
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
_LOOKUP_CHUNK = 500
# A pending key takes its status from the attached nightly state when the state holds it exactly.
RESOLVE_FROM_STATE = (
    "UPDATE keys SET done = 1, status = 'found', http_status = 200, error = NULL, attempts = 0, source = r.source, "
    f"checked_at = r.checked_at, {', '.join(f'{name} = r.{name}' for name in RECORD_FIELDS)} "
    "FROM state.records AS r WHERE keys.key = r.key AND r.ask = 0 AND keys.done = 0")
_UNANSWERED_BY_STATE = "NOT EXISTS (SELECT 1 FROM state.records AS r WHERE r.key = keys.key AND r.ask = 0)"
_RECORD_RESULT = ("UPDATE keys SET done = 1, source = 'query', status = ?, http_status = ?, error = ?, attempts = ?, "
                  "checked_at = ?, "
                  + ", ".join(f"{name} = ?" for name in RECORD_FIELDS) + " WHERE id = ?")


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


class Journal:
    """Distinct keys and their results for one run, on disk."""

    def __init__(self, connection: sqlite3.Connection, path: Path, lock: JournalLock | None = None) -> None:
        self._db = connection
        self._lock = lock
        self.path = path
        self.started_now = False  # begun by this run, so that a failure before any request may drop it
        self.listed = ListedRecords(connection, self._transaction, self._remember)
        self._known_fields: set[tuple[str, str]] = {
            (kind, folded) for kind, folded in self._db.execute("SELECT kind, folded FROM fields")
        }

    @classmethod
    def open(cls, path: Path, binding: Mapping[str, Any], *, fresh: bool, retry_errors: bool = False) -> Journal:
        """Open (or start) the journal at ``path``; refuse one bound to other inputs.

        A journal that a finished run kept for its error rows is reused only by ``retry_errors`` on
        the same inputs: its results are already in that run's table, and any other run must ask the
        server afresh (a nightly job with ``retry_errors`` set meets last night's journal).
        """
        lock = JournalLock(path)
        try:
            if fresh:
                discard_files(path)
            existed = path.exists()
            journal = cls._connect(path, lock)
            if journal.finished and (not retry_errors or journal._differences(binding)):
                journal._db.close()
                discard_files(path)
                journal, existed = cls._connect(path, lock), False
            journal.started_now = not existed
            journal._bind(dict(binding))
        except BaseException:
            lock.close()
            raise
        journal._db.execute("DELETE FROM meta WHERE name = 'finished'")  # in use again: resumable as usual
        return journal

    @classmethod
    def _connect(cls, path: Path, lock: JournalLock) -> Journal:
        existed = path.exists()
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA + LISTED_SCHEMA)
            _add_missing_columns(connection, ("keys", "listed"))
        except sqlite3.DatabaseError as exc:
            raise JournalUnreadable(path, str(exc)) from exc
        journal = cls(connection, path, lock)
        if existed and journal._meta("binding") is None and journal.distinct_keys():
            journal._db.close()
            raise JournalUnreadable(path, "it has keys but no binding")
        return journal

    def holds_answers(self) -> bool:
        """Whether the server told this journal anything (a key's answer, a page of the list) worth resuming from."""
        return bool(self._db.execute("SELECT EXISTS (SELECT 1 FROM keys WHERE attempts > 0) OR EXISTS "
                                     "(SELECT 1 FROM listed)").fetchone()[0])

    @property
    def finished(self) -> bool:
        """Kept by a run that wrote its table with error rows, for ``--retry-errors``."""
        return self._meta("finished") is not None

    def keep_for_retry(self) -> None:
        """Close, keeping the journal so that ``--retry-errors`` can ask again for the error rows only."""
        self._set_meta("finished", "1")
        self.close()

    @property
    def keys_loaded(self) -> bool:
        return self._meta("keys_loaded") is not None

    def load_summary(self) -> dict[str, Any]:
        value = self._meta("keys_loaded")
        return dict(json.loads(value)) if value else {}

    def add_keys(self, texts: Sequence[str]) -> None:
        # One statement over a JSON array of the batch, not a step a key: 2.5x less CPU (docs/BENCHMARKS.md 9).
        array = _json_array(texts)
        with self._transaction():
            if array is None:
                self._db.executemany("INSERT OR IGNORE INTO keys (key) VALUES (?)", ((t,) for t in texts))
            else:
                self._db.execute("INSERT OR IGNORE INTO keys (key) SELECT value FROM json_each(?)", (array,))

    def finish_loading(self, summary: Mapping[str, Any]) -> None:
        self._set_meta("keys_loaded", json.dumps(dict(summary)))

    def distinct_keys(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM keys").fetchone()[0])

    def pending_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM keys WHERE done = 0").fetchone()[0])

    def pending(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """Keys still without a result, in first-seen order, after ``after_id``."""
        rows = self._db.execute(
            "SELECT id, key FROM keys WHERE done = 0 AND id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [(int(i), str(k)) for i, k in rows]

    def requeue_errors(self) -> int:
        """Forget the results that ended in error, so that they are asked again."""
        cursor = self._db.execute("UPDATE keys SET done = 0 WHERE done = 1 AND status = ?",
                                  (LookupStatus.ERROR.value,))
        return cursor.rowcount

    def record(self, results: Sequence[tuple[int, LookupResult, datetime]]) -> None:
        """Store a batch of results in one transaction, and remember new field names."""
        rows = [_result_row(key_id, result, checked_at) for key_id, result, checked_at in results]
        with self._transaction():
            self._db.executemany(_RECORD_RESULT, rows)
            self._remember_fields(result for _, result, _ in results)

    def resolve_from_state(self, state: Path, *, absent_is_not_found: bool) -> int:
        """Give pending keys the status the nightly state holds for them; returns how many it had.

        ``absent_is_not_found``: the state was read whole this run, so a key it lacks is not on the list.
        """
        with self.state_attached(state), self._transaction():
            resolved = self._db.execute(RESOLVE_FROM_STATE).rowcount
            if absent_is_not_found:
                self._db.execute(
                    "UPDATE keys SET done = 1, status = 'not_found', http_status = NULL, attempts = 0, "
                    "source = 'full_read', error = 'record is not found in the calling list as read whole', "
                    "checked_at = ? "
                    "WHERE done = 0", (epoch_ms(datetime.now(UTC)),))
        return int(resolved)

    @contextlib.contextmanager
    def state_attached(self, state: Path) -> Iterator[None]:
        """The nightly state attached as ``state``, for the statements that read it beside the keys."""
        self._db.execute("ATTACH DATABASE ? AS state", (str(state),))
        try:
            yield
        finally:
            self._db.execute("DROP TABLE IF EXISTS temp.unanswered")
            self._db.execute("DETACH DATABASE state")

    def note_unanswered_by_state(self) -> int:
        """Note the pending keys that the attached state cannot answer (``state_attached``); how many.

        They go to a temporary table (a file, by SQLite's default: memory stays bounded however many
        they are), so that asking them pages through them alone rather than through every pending key.
        """
        self._db.execute("DROP TABLE IF EXISTS temp.unanswered")
        self._db.execute("CREATE TEMP TABLE unanswered (id INTEGER PRIMARY KEY, key TEXT NOT NULL)")
        return int(self._db.execute(f"INSERT INTO temp.unanswered SELECT id, key FROM keys WHERE done = 0 AND "
                                    f"{_UNANSWERED_BY_STATE}").rowcount)

    def pending_unanswered_by_state(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """The keys ``note_unanswered_by_state`` noted, in first-seen order, after ``after_id``."""
        rows = self._db.execute("SELECT id, key FROM temp.unanswered WHERE id > ? ORDER BY id LIMIT ?",
                                (after_id, limit))
        return [(int(i), str(k)) for i, k in rows]

    def add_previous(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """The previous run's values (``--previous``), one row a key, the first row of a key kept."""
        with self._transaction():
            self._db.executemany(f"INSERT OR IGNORE INTO previous VALUES ({','.join('?' * 12)})", rows)

    def previous(self, texts: Sequence[str]) -> list[tuple[Any, ...]]:
        """``(key, run_id, status, completed, ...)`` of the previous table for those of ``texts`` it holds."""
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(texts), _LOOKUP_CHUNK):
            chunk = texts[start:start + _LOOKUP_CHUNK]
            found.extend(self._db.execute(f"SELECT * FROM previous WHERE key IN ({','.join('?' * len(chunk))})",
                                          chunk))
        return found

    def note(self, name: str) -> str | None:
        """A value the run noted for its resumption (e.g. the strategy it chose)."""
        return self._meta(f"note:{name}")

    def set_note(self, name: str, value: str) -> None:
        self._set_meta(f"note:{name}", value)

    def lookup(self, texts: Sequence[str]) -> list[tuple[Any, ...]]:
        """``(key, *RESULT_COLUMNS)`` rows for those of ``texts`` that have a result."""
        found: list[tuple[Any, ...]] = []
        columns = ", ".join(RESULT_COLUMNS)
        for start in range(0, len(texts), _LOOKUP_CHUNK):
            chunk = texts[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.extend(self._db.execute(
                # "+done": without it SQLite may pick the done index and scan every finished key per chunk
                f"SELECT key, {columns} FROM keys WHERE +done = 1 AND key IN ({marks})", chunk))
        return found

    def lookup_columns(self, texts: Sequence[str]) -> pa.Table:
        """``lookup``'s rows as typed Arrow columns (``columns.KEYED_SCHEMA``), without a Python object a value."""
        return read_results(self._db, texts, self.lookup)

    def field_names(self, kind: str) -> list[str]:
        """Entry (``kind="entry"``) or extra status (``"extra"``) field names, in first-seen order."""
        rows = self._db.execute("SELECT name FROM fields WHERE kind = ? ORDER BY rowid", (kind,))
        return [str(name) for (name,) in rows]

    def count_by_status(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, count(*) FROM keys WHERE done = 1 GROUP BY status")
        return {str(status): int(n) for status, n in rows}

    def warnings_count(self) -> int:
        return int(self._db.execute("SELECT coalesce(sum(warnings), 0) FROM keys").fetchone()[0])

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.close()

    def discard(self) -> None:
        """Delete the journal and close it: the run it served is complete."""
        self._db.close()
        discard_files(self.path)
        if self._lock is not None:
            self._lock.close()

    def _bind(self, binding: dict[str, Any]) -> None:
        if self._meta("binding") is None:
            self._set_meta("binding", json.dumps(binding, sort_keys=True))
        elif differences := self._differences(binding):
            self._db.close()
            raise JournalMismatch(self.path, differences)

    def _differences(self, binding: Mapping[str, Any]) -> list[str]:
        stored = self._meta("binding")
        previous = json.loads(stored) if stored is not None else {}
        return [f"{name}: was {previous.get(name)!r}, now {binding.get(name)!r}"
                for name in sorted(set(previous) | set(binding)) if previous.get(name) != binding.get(name)]

    def _remember_fields(self, results: Iterable[LookupResult]) -> None:
        for result in results:
            if result.entry:
                self._remember("entry", result.entry)
            if result.record is not None and result.record.extra:
                self._remember("extra", result.record.extra)

    def _remember(self, kind: str, names: Iterable[str]) -> None:
        for name in names:
            folded = name.casefold()
            if (kind, folded) not in self._known_fields:
                self._known_fields.add((kind, folded))
                self._db.execute("INSERT OR IGNORE INTO fields (kind, name, folded) VALUES (?, ?, ?)",
                                 (kind, name, folded))

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


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


def _add_missing_columns(connection: sqlite3.Connection, tables: tuple[str, ...]) -> None:
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


def _json_array(texts: Sequence[str]) -> str | None:
    """``texts`` as a JSON array for ``json_each``; None if one holds a NUL, which SQLite's JSON would cut short."""
    array = json.dumps(texts if isinstance(texts, list) else list(texts))
    return None if "\\u0000" in array else array


def _result_row(key_id: int, result: LookupResult, checked_at: datetime) -> tuple[Any, ...]:
    return (result.status.value, result.http_status, result.error, result.attempts, epoch_ms(checked_at),
            *record_row(result.entry, result.record), key_id)
