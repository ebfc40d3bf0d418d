"""The scan strategy's memory on disk: the calling list's records, as read page by page.

They live in the run's journal file, beside its keys, so that a page and the position of the next
commit together (a crash resumes from the last finished page) and the join with the keys is one SQL
statement. The list's records are kept by key text, each once however often and in whatever order
the pages send it (``page_reads``); the keys themselves belong to the journal.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.journal.page_reads import KeyedPage, ReadFigures, in_index_order, settle_page, shapes, stored_rows
from reconciler.journal.rows import RECORD_FIELDS, RESULT_COLUMNS, epoch_ms

LISTED_SCHEMA = """
CREATE TABLE IF NOT EXISTS listed (
    key TEXT PRIMARY KEY, list_index INTEGER NOT NULL, checked_at INTEGER,
    entry TEXT, completed INTEGER, last_disposition TEXT, last_date INTEGER, last_phone TEXT,
    last_call_duration INTEGER, last_agent TEXT, total_attempts INTEGER, global_interaction_id TEXT,
    completed_time INTEGER, extra TEXT, warnings INTEGER
);
"""
# The journal's meta entry for the scan's position: "done", the next page's fromIndex (classic, v2),
# or "cursor:" and a JSON [next index, cursor, page size] (v3; older journals lack the size); a journal
# without the entry has not begun.
_POSITION = "scan_next"
_CURSOR = "cursor:"
_FIGURES = "scan_reads"  # what the scan's pages met so far (``ReadFigures``, as JSON)


@dataclass(frozen=True, slots=True)
class CursorPosition:
    """Where a scan by cursor goes on: the next page's cursor (None: the first) and its first record's index.

    ``page_size``: the limit the cursor was handed out for. The API notes do not say that a cursor may go
    on with another limit, so a resumed read keeps it (None: a journal written before it was kept).
    """

    cursor: str | None
    next_index: int
    page_size: int | None = None


ScanPosition = int | CursorPosition  # the next getAll page's fromIndex, or the next getAllRecords cursor


def stored_position(position: ScanPosition | None) -> str:
    """A list reader's position as a meta value (None: the last page is stored)."""
    if position is None:
        return "done"
    if isinstance(position, CursorPosition):
        return _CURSOR + json.dumps([position.next_index, position.cursor, position.page_size])
    return str(position)


def read_position(value: str) -> ScanPosition | None:
    """The position ``stored_position`` wrote."""
    if value == "done":
        return None
    if value.startswith(_CURSOR):
        next_index, cursor, *page_size = json.loads(value[len(_CURSOR):])
        return CursorPosition(cursor=cursor, next_index=int(next_index), page_size=(page_size or [None])[0])
    return int(value)


class ListedRecords:
    """The listed records of one run's journal, on the journal's connection and in its transactions."""

    def __init__(self, connection: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[None]],
                 remember_fields: Callable[[str, Iterable[str]], None]) -> None:
        self._db = connection
        self._transaction = transaction
        # The journal's, so that field names from the list and from lookups keep one first-seen order.
        self._remember_fields = remember_fields

    def scan_position(self) -> ScanPosition | None:
        """Where a scan of the list goes on (0 before it began); None when the scan has finished."""
        value = self._meta(_POSITION)
        return 0 if value is None else read_position(value)

    def record_page(self, keyed: KeyedPage, next_index: ScanPosition | None, checked_at: datetime, *,
                    indexed: bool = True) -> ReadFigures:
        """Store one page of the list and where the next one starts, in one transaction; what it met.

        Records are stored once by key (``page_reads``); ``indexed``: the
        records carry the server's indexes (getAll), not the reader's count (v3). The figures of
        the whole scan so far are kept with the page (``read_figures``).
        """
        with self._transaction():
            start = self.scan_position()
            rows, figures = settle_page(keyed, self._stored, indexed=indexed)
            if indexed and isinstance(start, int) and not in_index_order(keyed.page.indexes, start):
                figures.pages_out_of_order = 1
            self._db.executemany(
                f"INSERT OR REPLACE INTO listed (key, list_index, checked_at, {', '.join(RECORD_FIELDS)}) "
                f"VALUES ({','.join('?' * (3 + len(RECORD_FIELDS)))})",
                [(text, index, epoch_ms(checked_at), *row) for text, index, row in rows])
            so_far = self.read_figures()
            so_far.add(figures)
            self._set_meta(_FIGURES, so_far.to_text())
            self._set_meta(_POSITION, stored_position(next_index))
            # Per kind, the first spelling of a name wins: the page's names in first-seen order do.
            for entry in shapes(keyed.page.entries):
                self._remember_fields("entry", entry)
            self._remember_fields("extra", keyed.page.extra_names)
        return figures

    def read_figures(self) -> ReadFigures:
        """What the scan's pages met so far, those of an interrupted run included."""
        return ReadFigures.from_text(self._meta(_FIGURES))

    def _stored(self, texts: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        return stored_rows(self._db, "SELECT key, list_index, entry FROM listed WHERE key IN ({marks})", texts)

    def resolve_pending_keys(self, *, absent_is_not_found: bool = True) -> None:
        """Give every pending key the result the scanned list holds for it: found, or not found.

        ``absent_is_not_found`` False: a key the scan did not find stays pending, to be asked (the
        pages came out of order, so the scan cannot rule out a record it skipped).
        """
        columns = ", ".join(f"{name} = listed.{name}" for name in RECORD_FIELDS)
        with self._transaction():
            self._db.execute(
                f"UPDATE keys SET done = 1, status = 'found', http_status = 200, error = NULL, attempts = 1, "
                f"source = 'scan', checked_at = listed.checked_at, {columns} "
                "FROM listed WHERE keys.key = listed.key AND done = 0")
            if absent_is_not_found:
                self._db.execute(
                    "UPDATE keys SET done = 1, status = 'not_found', http_status = NULL, attempts = 0, "
                    "source = 'scan', error = 'record is not found in the scanned list', checked_at = ? WHERE done = 0",
                    (epoch_ms(datetime.now(UTC)),))

    def asked_after_scan(self) -> tuple[int, int]:
        """Keys the scan did not find that were asked with Query a record, and how many of them were found.

        Only a scan whose pages came out of order asks them (``resolve_pending_keys``); (0, 0) otherwise.
        """
        if not self.read_figures().pages_out_of_order:
            return 0, 0
        asked, found = self._db.execute(
            "SELECT count(*), coalesce(sum(status = 'found'), 0) FROM keys "
            "WHERE NOT EXISTS (SELECT 1 FROM listed WHERE listed.key = keys.key)").fetchone()
        return int(asked), int(found)

    def unmatched(self, after_index: int, limit: int) -> list[tuple[Any, ...]]:
        """Listed records no input key matched: ``(list_index, *RESULT_COLUMNS)``, in list order."""
        columns = ", ".join(f"listed.{name}" if name in RECORD_FIELDS or name == "checked_at" else "NULL"
                            for name in RESULT_COLUMNS)
        return list(self._db.execute(
            f"SELECT listed.list_index, {columns} FROM listed WHERE list_index > ? AND NOT EXISTS "
            "(SELECT 1 FROM keys WHERE keys.key = listed.key) ORDER BY list_index LIMIT ?", (after_index, limit)))

    def unmatched_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM listed WHERE NOT EXISTS "
                                    "(SELECT 1 FROM keys WHERE keys.key = listed.key)").fetchone()[0])

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM listed").fetchone()[0])

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))
