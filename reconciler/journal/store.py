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

from reconciler.journal.columns import read_results
from reconciler.journal.from_state import (
    ANSWERED,
    JOURNALLED,
    RESOLVE_FROM_STATE,
    STATE_ANSWERS,
    UNANSWERED_BY_STATE,
    resolve_in_steps,
)
from reconciler.journal.journal_file import (
    JOURNAL_SCHEMA,
    JournalMismatch,
    JournalUnreadable,
    add_key_index,
    add_missing_columns,
    discard_files,
    json_array,
)
from reconciler.journal.key_load import KeyLoad
from reconciler.journal.listed import LISTED_SCHEMA, ListedRecords
from reconciler.journal.lock import JournalLock
from reconciler.journal.rows import RECORD_FIELDS, epoch_ms, record_row
from reconciler.lookup import LookupResult, LookupStatus

_LOOKUP_CHUNK = 500
_KNOWN_SHAPES_MOST = 1024  # a server varying its entries' fields cannot grow the set without bound
_RECORD_RESULT = ("UPDATE keys SET done = 1, source = 'query', status = ?, http_status = ?, error = ?, attempts = ?, "
                  "checked_at = ?, "
                  + ", ".join(f"{name} = ?" for name in RECORD_FIELDS) + " WHERE id = ?")


class Journal:
    """Distinct keys and their results for one run, on disk."""

    def __init__(self, connection: sqlite3.Connection, path: Path, lock: JournalLock | None = None) -> None:
        self._db = connection
        self._lock = lock
        self.path = path
        self._state: Path | None = None  # the nightly state attached as ``state``, while it is
        self._answered_by_state = False  # pending keys are answered by it (``from_state``)
        self.started_now = False  # begun by this run, so that a failure before any request may drop it
        self.listed = ListedRecords(connection, self._transaction, self._remember)
        self._known_shapes: set[tuple[str, ...]] = set()  # entries' field names, as ``_remember_fields`` met them
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
            connection.executescript(JOURNAL_SCHEMA + LISTED_SCHEMA)
            add_missing_columns(connection, ("keys", "listed"))
            add_key_index(connection)
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
        """Close, keeping the journal so that ``--retry-errors`` can ask again for the error rows only.

        It then holds every result itself: the state will have moved on by the time it is retried.
        """
        self.hold_state_answers()
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
        array = json_array(texts)
        with self._transaction():
            if array is None:
                self._db.executemany("INSERT OR IGNORE INTO keys (key) VALUES (?)", ((t,) for t in texts))
            else:
                self._db.execute("INSERT OR IGNORE INTO keys (key) SELECT value FROM json_each(?)", (array,))

    def key_load(self) -> KeyLoad:
        """A load of the input's keys, fast in any order (``key_load``); ``add_keys`` adds at once."""
        return KeyLoad(self._db, self.add_keys, self.finish_loading)

    def finish_loading(self, summary: Mapping[str, Any]) -> None:
        self._set_meta("keys_loaded", json.dumps(dict(summary)))

    def distinct_keys(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM keys").fetchone()[0])

    def pending_count(self) -> int:
        if self._answered_by_state:  # noted only once every key the state cannot answer has its result
            return 0
        return int(self._db.execute("SELECT count(*) FROM keys WHERE done = 0").fetchone()[0])

    def pending(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """Keys still without a result, in first-seen order, after ``after_id``."""
        if self._answered_by_state:
            return []
        rows = self._db.execute(
            "SELECT id, key FROM keys WHERE done = 0 AND id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [(int(i), str(k)) for i, k in rows]

    def requeue_errors(self) -> int:
        """Forget the results that ended in error, so that they are asked again."""
        self.hold_state_answers()  # the keys pending then are those to ask again, and only they
        cursor = self._db.execute("UPDATE keys SET done = 0 WHERE done = 1 AND status = ?",
                                  (LookupStatus.ERROR.value,))
        return cursor.rowcount

    def record(self, results: Sequence[tuple[int, LookupResult, datetime]]) -> None:
        """Store a batch of results in one transaction, and remember new field names."""
        rows = [_result_row(key_id, result, checked_at) for key_id, result, checked_at in results]
        with self._transaction():
            self._db.executemany(_RECORD_RESULT, rows)
            self._remember_fields(result for _, result, _ in results)

    def answer_from_state(self, state: Path, revision: str) -> None:
        """The pending keys are answered by ``state`` as it is at ``revision`` (``from_state``); none is copied.

        Called once every key the state cannot answer has its result in the journal.
        """
        self._attach_state(state)
        self._set_meta(STATE_ANSWERS, revision)
        self._answered_by_state = True

    def resume_state_answers(self, state: Path | None, revision: str | None) -> None:
        """A resumed run: keep the state's answers if it is still at the noted revision, else ask them again."""
        noted = self._meta(STATE_ANSWERS)
        if noted is None:
            return
        if state is not None and noted == revision:
            self._attach_state(state)
            self._answered_by_state = True
        else:  # the state moved on: its keys are pending again, answered as on any night
            self._db.execute("DELETE FROM meta WHERE name = ?", (STATE_ANSWERS,))

    def hold_state_answers(self) -> None:
        """Copy the state's answers into the journal (which then holds every result itself), a step at a time."""
        if self._answered_by_state and self._state is not None:
            resolve_in_steps(self.path, self._state)
            self._db.execute("DELETE FROM meta WHERE name = ?", (STATE_ANSWERS,))
            self._answered_by_state = False

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
        attached = self._state is None
        self._attach_state(state)
        try:
            yield
        finally:
            self._db.execute("DROP TABLE IF EXISTS temp.unanswered")
            if attached and not self._answered_by_state:
                self._db.execute("DETACH DATABASE state")
                self._state = None

    def _attach_state(self, state: Path) -> None:
        if self._state is None:
            self._db.execute("ATTACH DATABASE ? AS state", (str(state),))
            self._state = state
        elif self._state != state:
            raise ValueError(f"{self._state} is attached, not {state}")

    def unanswered_left(self) -> int:
        """Of the keys ``note_unanswered_by_state`` noted, those still without a result."""
        return int(self._db.execute("SELECT count(*) FROM temp.unanswered AS u JOIN keys AS k ON k.id = u.id "
                                    "WHERE k.done = 0").fetchone()[0])

    def note_unanswered_by_state(self) -> int:
        """Note the pending keys that the attached state cannot answer (``state_attached``); how many.

        They go to a temporary table (a file, by SQLite's default: memory stays bounded however many
        they are), so that asking them pages through them alone rather than through every pending key.
        """
        self._db.execute("DROP TABLE IF EXISTS temp.unanswered")
        self._db.execute("CREATE TEMP TABLE unanswered (id INTEGER PRIMARY KEY, key TEXT NOT NULL)")
        return int(self._db.execute(f"INSERT INTO temp.unanswered SELECT id, key FROM keys WHERE done = 0 AND "
                                    f"{UNANSWERED_BY_STATE}").rowcount)

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
        for start in range(0, len(texts), _LOOKUP_CHUNK):
            chunk = texts[start:start + _LOOKUP_CHUNK]
            wanted = f"k.key IN ({','.join('?' * len(chunk))})"
            found.extend(self._db.execute(self._results.format(wanted=wanted), chunk))
        return found

    def lookup_columns(self, texts: Sequence[str]) -> pa.Table:
        """``lookup``'s rows as typed Arrow columns (``columns.KEYED_SCHEMA``), without a Python object a value."""
        return read_results(self._db, texts, self.lookup, self._results)

    @property
    def _results(self) -> str:
        return ANSWERED if self._answered_by_state else JOURNALLED

    def field_names(self, kind: str) -> list[str]:
        """Entry (``kind="entry"``) or extra status (``"extra"``) field names, in first-seen order."""
        rows = self._db.execute("SELECT name FROM fields WHERE kind = ? ORDER BY rowid", (kind,))
        return [str(name) for (name,) in rows]

    def count_by_status(self) -> dict[str, int]:
        # With the state's answers, every pending key is one of its found records.
        rows = self._db.execute("SELECT iif(done, status, 'found'), count(*) FROM keys GROUP BY 1"
                                if self._answered_by_state
                                else "SELECT status, count(*) FROM keys WHERE done = 1 GROUP BY status")
        return {str(status): int(n) for status, n in rows}

    def warnings_count(self) -> int:
        if self._answered_by_state:
            return int(self._db.execute(
                "SELECT coalesce(sum(iif(k.done, k.warnings, r.warnings)), 0) FROM keys AS k LEFT JOIN "
                "state.records AS r ON k.done = 0 AND r.key = k.key AND r.ask = 0").fetchone()[0])
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
        # Answers of one list mostly share their field names: a shape met before holds no new name.
        shapes = self._known_shapes
        for result in results:
            if result.entry and (shape := tuple(result.entry)) not in shapes:
                self._remember("entry", result.entry)
                if len(shapes) < _KNOWN_SHAPES_MOST:
                    shapes.add(shape)
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


def _result_row(key_id: int, result: LookupResult, checked_at: datetime) -> tuple[Any, ...]:
    return (result.status.value, result.http_status, result.error, result.attempts, epoch_ms(checked_at),
            *record_row(result.entry, result.record), key_id)
