"""The nightly state: a SQLite file that outlives runs and holds the calling list as last seen.

One state serves one target (tenant, list, campaign, dialect, key columns); another target's state
is refused. It holds every record of the list by key text with its entry and status (``records``),
what the last run reported for each input key (``reported``, for the change feed), and the sync
position: when the list was last read whole, and the high-water mark of the server's own times
from which the next ``getChanged`` starts. Every page is applied in one transaction together with
the position of the next, so a ``kill -9`` at any moment resumes where the last page ended. A full
read's pages are stored once by key and their order checked as a scan's are (``page_reads``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.errors import UsageError
from reconciler.journal.listed import ScanPosition, read_position, stored_position
from reconciler.journal.lock import JournalLock, StateBusy
from reconciler.journal.page_reads import KeyedPage, ReadFigures, in_index_order, settle_page, shapes, stored_rows
from reconciler.journal.reported import REPORTED_FIELDS
from reconciler.journal.rows import RECORD_FIELDS, epoch_ms, record_row
from reconciler.journal.state_file import add_source_column, connect
from reconciler.lookup import ChangedRecord

_LAST_DATE, _COMPLETED_TIME = RECORD_FIELDS.index("last_date"), RECORD_FIELDS.index("completed_time")
_STORED_COLUMNS = ("list_index", "checked_at", "generation", "ask", *RECORD_FIELDS, "source")
# Where a record's values came from (the output's ``recon_source``): the read that last set them.
FULL_READ, CHANGES, QUERY = "full_read", "changes", "query"
# An upsert changes the stored row in place; INSERT OR REPLACE would delete and re-insert it, which
# writes about four times as many pages of a big state per page of changes.
_STORE = (f"INSERT INTO records (key, {', '.join(_STORED_COLUMNS)}) "
          f"VALUES ({','.join('?' * (1 + len(_STORED_COLUMNS)))}) "
          f"ON CONFLICT (key) DO UPDATE SET {', '.join(f'{name} = excluded.{name}' for name in _STORED_COLUMNS)}")
# A changed record keeps its place in the list (a change does not tell it). A derived status
# (``_ASK_IF_RICHER``) is asked again where the stored one holds what a getChanged item cannot
# tell: the conflict clause reads the stored row before it is changed, so one statement decides.
_ASK_IF_RICHER = 2
_STORE_CHANGE = (
    f"INSERT INTO records (key, {', '.join(_STORED_COLUMNS)}) "
    f"VALUES (?, NULL, ?, ?, ?4 % {_ASK_IF_RICHER}, {','.join('?' * len(RECORD_FIELDS))}, '{CHANGES}') "
    "ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _STORED_COLUMNS if name not in ("list_index", "ask"))
    + f", ask = CASE WHEN ?4 = {_ASK_IF_RICHER} "
      "THEN records.global_interaction_id IS NOT NULL OR records.extra IS NOT NULL ELSE ?4 END")


class StateMismatch(UsageError):
    def __init__(self, path: Path, differences: list[str]) -> None:
        self.path, self.differences = path, differences
        super().__init__(f"{path}: this state belongs to another target ({'; '.join(differences)}); "
                         "name a state file of its own for each tenant, list, campaign, dialect and key")


class State:
    """The list as last seen, and where the next sync starts; see the module's docstring."""

    def __init__(self, connection: sqlite3.Connection, path: Path, lock: JournalLock) -> None:
        self._db, self.path, self._lock = connection, path, lock

    @classmethod
    def open(cls, path: Path, binding: Mapping[str, Any]) -> State:
        """Open (or start) the state at ``path``; refuse a state of another target."""
        lock = JournalLock(path, busy=StateBusy)
        try:
            created = not path.exists()
            state = cls(connect(path), path, lock)
            state._bind(dict(binding))
            add_source_column(state._db)
        except BaseException:
            lock.close()
            raise
        state.created_now = created
        return state

    created_now = False  # made by this run: a run that fails before any request removes it again

    def close(self) -> None:
        self._db.close()
        self._lock.close()

    def holds_records(self) -> bool:
        """Whether the server told this state anything: a record, or a position to go on from.

        A full read noted as begun at its first page (``start_full_read``, before it asks) is no position.
        """
        went_on = self.full_read_under_way() and self.full_read_position() != 0
        return self.record_count() > 0 or self.full_read_at() is not None or went_on

    def discard(self) -> None:
        """Close and delete the state: it was made by a run that never asked the server."""
        self._db.close()
        for suffix in ("", "-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        self._lock.close()

    # --- the sync position -------------------------------------------------------------------

    def full_read_at(self) -> datetime | None:
        """When the list was last read whole (this machine's clock: it only decides a refresh's age)."""
        value = self._meta("full_read_at")
        return None if value is None else datetime.fromisoformat(value)

    def full_read_under_way(self) -> bool:
        """Whether a full read began and has not finished (perhaps only its last step is left)."""
        return self._meta("full_read_next") is not None

    def full_read_position(self) -> ScanPosition | None:
        """Where an unfinished full read goes on (``fromIndex``, or a v3 cursor), None when no page is left."""
        value = self._meta("full_read_next")
        return None if value is None else read_position(value)

    def start_full_read(self) -> int:
        """Begin (or go on with) a full read; a new one gets a new generation of records."""
        if not self.full_read_under_way():
            generation = int(self._meta("generation") or 0) + 1
            with self._transaction():
                self._set_meta("generation", str(generation))
                self._set_meta("full_read_next", "0")
                self._set_meta("full_read_high_water", "")
                self._set_meta("full_read_figures", "")
        return int(self._meta("generation") or 1)

    def record_full_page(self, keyed: KeyedPage, following: ScanPosition | None, checked_at: datetime, *,
                         indexed: bool = True) -> ReadFigures:
        """Store one page of the list and where the next starts; what it met (``page_reads``).

        A record is stored once by key within this read: read again, it replaces its earlier read;
        ``indexed`` as ``ListedRecords.record_page``. The read's figures so far are kept with the page.
        """
        generation = int(self._meta("generation") or 1)
        page = keyed.page
        # The latest of the records' times, as epoch milliseconds (``record_row``'s, which keep their order).
        high = max((moment for row in page.rows for moment in (row[_LAST_DATE], row[_COMPLETED_TIME])
                    if moment is not None), default=None)
        with self._transaction():
            start = self.full_read_position()
            rows, figures = settle_page(keyed, functools.partial(self._read_this_time, generation),
                                        indexed=indexed)
            if indexed and isinstance(start, int) and not in_index_order(page.indexes, start):
                figures.pages_out_of_order = 1
            self._db.executemany(_STORE, [(text, index, epoch_ms(checked_at), generation, 0, *row, FULL_READ)
                                          for text, index, row in rows])
            so_far = self.full_read_figures()
            so_far.add(figures)
            self._set_meta("full_read_figures", so_far.to_text())
            self._raise_meta_ms("full_read_high_water", high)
            self._set_meta("full_read_next", stored_position(following))
            self._remember_fields(shapes(page.entries))
        return figures

    def full_read_figures(self) -> ReadFigures:
        """What the pages of the full read under way met so far, those of an interrupted run included."""
        return ReadFigures.from_text(self._meta("full_read_figures"))

    def _read_this_time(self, generation: int, texts: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        return stored_rows(self._db, "SELECT key, list_index, entry FROM records WHERE generation = ? "
                                     "AND list_index IS NOT NULL AND key IN ({marks})", texts, (generation,))

    def finish_full_read(self, now: datetime, read_seconds: float, *, unkeyed: int = 0) -> None:
        """Forget the records the finished read did not see; the high-water mark is what it saw.

        ``unkeyed``: records it read that had no usable key (and so are not stored), for the size check.
        """
        generation = int(self._meta("generation") or 1)
        with self._transaction():
            self._set_meta("unkeyed", str(unkeyed))
            self._db.execute("DELETE FROM records WHERE generation < ?", (generation,))
            seen = self._meta("full_read_high_water")
            if seen:  # the server's clock only goes on: an earlier mark stays a valid lower bound
                self._raise_meta("high_water", datetime.fromtimestamp(int(seen) / 1000, UTC))
            # The read took this long: a change during it may lie that far behind the mark.
            self._set_meta("catch_up_seconds", f"{read_seconds:.3f}")
            self._set_meta("full_read_at", now.isoformat())
            self._db.execute("DELETE FROM meta WHERE name IN ('full_read_next', 'full_read_high_water', "
                             "'full_read_figures', 'changes_next', 'changes_cursor')")

    def high_water(self) -> datetime | None:
        """The latest server time the state has seen; None when no record has any time yet."""
        value = self._meta("high_water")
        return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None

    def catch_up_seconds(self) -> float:
        return float(self._meta("catch_up_seconds") or 0.0)

    def changes_position(self) -> datetime | None:
        """Where an unfinished sync by changes goes on (its next ``fromTime``), None when none is."""
        value = self._meta("changes_next")
        return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None

    def changes_cursor(self) -> str | None:
        """The cursor an unfinished v3 sync by changes goes on from (with ``changes_position``'s time)."""
        return self._meta("changes_cursor") or None

    def start_changes(self, since: datetime) -> None:
        if self.changes_position() is None:
            self._set_meta("changes_next", str(epoch_ms(since)))

    def record_changes(self, items: Sequence[tuple[str | None, ChangedRecord]], next_since: datetime | None,
                       checked_at: datetime, *, resumable: bool = True, next_cursor: str | None = None) -> int:
        """Apply one page of changed records and where the next page starts; returns the unkeyed ones.

        The next page starts at ``next_since`` (None: this page was the last), after ``next_cursor``
        when the server pages by cursor (v3).

        A record whose status the page does not say exactly keeps its entry and is marked to be
        asked; a record the state does not hold yet joins it (as the list gained it since the read).
        """
        generation = int(self._meta("generation") or 1)
        rows = [(text, epoch_ms(checked_at), generation, _asking(item), *record_row(item.entry, item.record))
                for text, item in items if text is not None]
        with self._transaction():
            self._db.executemany(_STORE_CHANGE, rows)
            self._raise_meta("high_water", _latest([record.changed_at for _, record in items]))
            if resumable:  # getChanged's position; getCompleted is asked again from the start
                self._set_meta("changes_next", "" if next_since is None else str(epoch_ms(next_since)))
                self._set_meta("changes_cursor", next_cursor if next_since is not None and next_cursor else "")
            self._remember_fields(record.entry for _, record in items)
        return len(items) - len(rows)

    def finish_changes(self) -> None:
        self._db.execute("DELETE FROM meta WHERE name IN ('changes_next', 'changes_cursor')")

    # --- records ----------------------------------------------------------------------------------

    def keys_to_ask(self, limit: int) -> list[str]:
        """Records whose status a change did not say exactly: they are asked with Query a record."""
        return [str(k) for (k,) in self._db.execute("SELECT key FROM records WHERE ask = 1 LIMIT ?", (limit,))]

    def store_answers(self, answers: Iterable[tuple[str, Mapping[str, str | None], Any, datetime]]) -> None:
        """Records asked one by one: ``(key text, entry, RecordStatus or None when not found, checked_at)``."""
        generation = int(self._meta("generation") or 1)
        found = [(text, self._index_of(text), epoch_ms(at), generation, 0, *record_row(entry, status), QUERY)
                 for text, entry, status, at in answers if status is not None]
        gone = [(text,) for text, _, status, _ in answers if status is None]
        with self._transaction():
            self._db.executemany(_STORE, found)
            self._db.executemany("DELETE FROM records WHERE key = ?", gone)
            self._remember_fields(entry for _, entry, status, _ in answers if status is not None)

    def absorb_answers(self, journal: Path) -> None:
        """Keys this run asked one by one (Query a record): found ones join the state, not found ones leave it."""
        generation = int(self._meta("generation") or 1)
        fields = ", ".join(RECORD_FIELDS)
        with self._attached(journal), self._transaction():
            self._db.execute(
                f"INSERT OR REPLACE INTO records (key, list_index, checked_at, generation, ask, {fields}, source) "
                f"SELECT k.key, (SELECT r.list_index FROM records r WHERE r.key = k.key), k.checked_at, ?, 0, "
                f"{', '.join('k.' + name for name in RECORD_FIELDS)}, '{QUERY}' FROM run.keys k "
                "WHERE k.done = 1 AND k.status = 'found' AND k.attempts > 0", (generation,))
            self._db.execute("DELETE FROM records WHERE key IN (SELECT key FROM run.keys "
                             "WHERE done = 1 AND status = 'not_found' AND attempts > 0)")

    def reported(self, texts: Sequence[str], *, run_id: str) -> list[tuple[Any, ...]]:
        """``(key, *PREVIOUS_COLUMNS)`` of the report before run ``run_id``, for those of ``texts`` that have one."""
        found: list[tuple[Any, ...]] = []
        columns = "key, run_id, status, " + ", ".join(REPORTED_FIELDS)
        for start in range(0, len(texts), 500):
            chunk = texts[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.extend(self._db.execute(
                f"SELECT {columns} FROM reported WHERE key IN ({marks}) AND run_id != ? UNION ALL "
                f"SELECT {columns} FROM reported_before WHERE key IN ({marks}) AND key IN "
                "(SELECT key FROM reported WHERE run_id = ?)", (*chunk, run_id, *chunk, run_id)))
        return found

    def record_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])

    def unkeyed_at_full_read(self) -> int:
        """Records the last full read saw without a usable key: on the list, yet not among the state's."""
        return int(self._meta("unkeyed") or 0)

    def revision(self) -> str:
        """Changes with every transaction that writes the records: a journal answered by the state notes it."""
        return self._meta("revision") or ""

    def field_names(self) -> list[str]:
        """Every entry field name the list has shown, in first-seen order: the table keeps these columns."""
        return [str(n) for (n,) in self._db.execute("SELECT name FROM fields WHERE kind = 'entry' ORDER BY rowid")]

    # --- internals ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _attached(self, journal: Path) -> Iterator[None]:
        # Statements over both files; each file's commit is atomic on its own, and every step is idempotent.
        self._db.execute("ATTACH DATABASE ? AS run", (str(journal),))
        try:
            yield
        finally:
            self._db.execute("DETACH DATABASE run")

    def _index_of(self, text: str) -> int | None:
        row = self._db.execute("SELECT list_index FROM records WHERE key = ?", (text,)).fetchone()
        return None if row is None else row[0]

    def _bind(self, binding: dict[str, Any]) -> None:
        stored = self._meta("binding")
        if stored is None:
            self._set_meta("binding", json.dumps(binding, sort_keys=True))
            return
        previous = json.loads(stored)
        differences = [f"{name}: was {previous.get(name)!r}, now {binding.get(name)!r}"
                       for name in sorted(set(previous) | set(binding)) if previous.get(name) != binding.get(name)]
        if differences:
            raise StateMismatch(self.path, differences)

    def bind_list_instance(self, instance_id: str) -> None:
        """v3: the state holds one list instance's statuses; a list bound anew is another instance."""
        stored = self._meta("list_instance")
        if stored is None:
            self._set_meta("list_instance", instance_id)
        elif stored != instance_id:
            raise StateMismatch(self.path, [f"list instance: was {stored!r}, now {instance_id!r}"])

    def _remember_fields(self, entries: Iterable[Mapping[str, object]]) -> None:
        names = {name.casefold(): name for entry in entries for name in entry}
        self._db.executemany("INSERT OR IGNORE INTO fields (kind, name, folded) VALUES ('entry', ?, ?)",
                             [(name, folded) for folded, name in names.items()])

    def _raise_meta(self, name: str, moment: datetime | None) -> None:
        self._raise_meta_ms(name, None if moment is None else epoch_ms(moment))

    def _raise_meta_ms(self, name: str, moment: int | None) -> None:
        if moment is None:
            return
        current = self._meta(name)
        if not current or int(current) < moment:
            self._set_meta(name, str(moment))

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._db


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")
        # A new revision with the records' every change (``from_state``): random, so that no other state has it.
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('revision', ?)", (uuid.uuid4().hex,))

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _latest(moments: Iterable[datetime | None]) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def _asking(item: ChangedRecord) -> int:
    """1: ask the record; ``_ASK_IF_RICHER``: ask where the stored status tells more; 0: store it as it is."""
    record = item.record
    if record is None:
        return 1
    # A getCompleted item carries the whole status; a derived getChanged one lacks the id and custom fields.
    derived_only = not record.completed and record.global_interaction_id is None and not record.extra
    return _ASK_IF_RICHER if derived_only else 0
