"""The scan strategy: read the whole calling list in pages of 1,000 and join locally.

Classic and v2 page by index (getAll's ``fromIndex``); v3 by cursor (getAllRecords'
``next_cursor``), its records numbered in list order as they come.

Pages go into the journal keyed by the same key text as the input (entry field names matched
case-insensitively, values compared as strings exactly as the API returns them), each page in one
transaction with the position of the next, so a crash resumes from the last finished page.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from datetime import UTC, datetime

from reconciler.input.keys import entry_key_text
from reconciler.journal.listed import CursorPosition, ScanPosition
from reconciler.journal.store import Journal
from reconciler.lookup import CursorRecordSource, ListedRecord, RecordSource
from reconciler.stages.key_check import require_key_fields

PAGE_SIZE = 1000


def listed_key(record: ListedRecord, key_columns: Sequence[str]) -> str | None:
    """The key text of a listed record, or None when it lacks a key field or has a blank one."""
    return entry_key_text(record.entry, key_columns)


class ListScanner:
    """Pages through the list into the journal; ``unkeyed`` counts records that cannot be matched."""

    def __init__(self, journal: Journal, source: RecordSource, key_columns: Sequence[str]) -> None:
        self._journal, self._source, self._key_columns = journal, source, tuple(key_columns)
        self.pages = 0
        self.unkeyed = 0
        self.stopped = False

    def stop(self) -> None:
        """Fetch no further page; what is stored stays, and a rerun goes on from there."""
        self.stopped = True

    async def run(self) -> None:
        if self.stopped:
            return
        pages_read = list_pages(self._source, self._journal.listed.scan_position())
        async with aclosing(require_key_fields(pages_read, self._key_columns, self._source)) as pages:
            async for page, position in pages:
                self.pages += 1
                keyed = [(listed_key(record, self._key_columns), record) for record in page]
                self.unkeyed += self._journal.listed.record_page(keyed, position, datetime.now(UTC))
                if self.stopped:
                    return
        self._journal.listed.resolve_pending_keys()


async def list_pages(source: RecordSource, position: ScanPosition | None
                     ) -> AsyncGenerator[tuple[list[ListedRecord], ScanPosition | None]]:
    """The list's pages from ``position`` on, each with the position of the one after it (None: the last).

    Classic and v2 page by index; a source that reads by cursor (v3) starts with no cursor at 0.
    """
    cursor_source = source if isinstance(source, CursorRecordSource) else None
    if cursor_source is not None and position == 0:
        position = CursorPosition(cursor=None, next_index=0)
    while position is not None:
        if isinstance(position, CursorPosition):
            if cursor_source is None:
                raise TypeError("a read by cursor needs a source that reads by cursor")
            cursor_page = await cursor_source.fetch_records(position.cursor, PAGE_SIZE, position.next_index)
            page = cursor_page.records
            position = None if cursor_page.next_cursor is None else CursorPosition(
                cursor=cursor_page.next_cursor, next_index=position.next_index + len(page))
        else:
            page = await source.fetch_page(position, PAGE_SIZE)
            position = page[-1].index + 1 if len(page) == PAGE_SIZE else None
        yield page, position
