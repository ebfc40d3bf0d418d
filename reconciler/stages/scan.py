"""The scan strategy: read the whole calling list in pages (of 1,000 unless --page-size) and join locally.

Classic and v2 page by index (getAll's ``fromIndex``); v3 by cursor (getAllRecords'
``next_cursor``), its records numbered in list order as they come.

The API documents a getAll page as the records from ``fromIndex`` on, sorted by index, and a page
shorter than ``maxSize`` as the last; a live server was seen to answer a page in no order (3, 23,
4, 2, ...) with holes where records were deleted. We rely only on what no recorded answer
contradicts: a page holds the records with the lowest indexes from ``fromIndex`` on, in any order,
with holes. So the next page starts past the highest index of the page, never past its last item,
and every record is stored once by key (``journal.page_reads``). When a page came out of order the
scan cannot rule out a server that skipped a record: the keys it did not find are then asked with
Query a record before they are called not found (``gather``). v3's cursor is the server's: its
paging needs none of this, but its records are stored once by key all the same.

Pages go into the journal keyed by the same key text as the input (entry field names matched
case-insensitively, values compared as strings exactly as the API returns them), each page in one
transaction with the position of the next, so a crash resumes from the last finished page.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from datetime import UTC, datetime

from reconciler.config import MAX_PAGE_SIZE
from reconciler.errors import PageUnreadable
from reconciler.input.keys import entry_key_text, entry_key_texts
from reconciler.journal.listed import CursorPosition, ScanPosition
from reconciler.journal.page_reads import KeyedPage, ReadFigures
from reconciler.journal.store import Journal
from reconciler.lookup import CursorRecordSource, ListedPage, ListedRecord, RecordSource
from reconciler.stages.key_check import require_key_fields

PAGE_SIZE = MAX_PAGE_SIZE  # the default page: the most the API answers
logger = logging.getLogger("reconciler.scan")


def listed_key(record: ListedRecord, key_columns: Sequence[str]) -> str | None:
    """The key text of a listed record, or None when it lacks a key field or has a blank one."""
    return entry_key_text(record.entry, key_columns)


def keyed_page(page: ListedPage, key_columns: Sequence[str]) -> KeyedPage:
    """``page`` with the key text of each of its records (``listed_key``'s), read from its entries."""
    return KeyedPage(page, entry_key_texts(page.entries, key_columns))


class ListScanner:
    """Pages through the list into the journal; ``read`` counts what this process's pages met.

    When it has read the last page, every pending key the list holds is found; the others are not
    found, unless a page came out of order (of this run or of an interrupted one): they then stay
    pending (``confirming``), to be asked one by one.
    """

    def __init__(self, journal: Journal, source: RecordSource, key_columns: Sequence[str], *, page_size: int) -> None:
        self._journal, self._source, self._key_columns = journal, source, tuple(key_columns)
        self._page_size = page_size
        self._indexed = not isinstance(source, CursorRecordSource)
        self.pages = 0
        self.read = ReadFigures()
        self.stopped = False
        self.confirming = False

    def stop(self) -> None:
        """Fetch no further page; what is stored stays, and a rerun goes on from there."""
        self.stopped = True

    async def run(self) -> None:
        if self.stopped:
            return
        pages_read = list_pages(self._source, self._journal.listed.scan_position(), page_size=self._page_size)
        async with aclosing(require_key_fields(pages_read, self._key_columns, self._source)) as pages:
            async for page, position in pages:
                self.pages += 1
                self.read.add(self._journal.listed.record_page(keyed_page(page, self._key_columns), position,
                                                               datetime.now(UTC), indexed=self._indexed))
                if self.stopped:
                    return
        self.confirming = self._journal.listed.read_figures().pages_out_of_order > 0
        self._journal.listed.resolve_pending_keys(absent_is_not_found=not self.confirming)


async def list_pages(source: RecordSource, position: ScanPosition | None, *, page_size: int
                     ) -> AsyncGenerator[tuple[ListedPage, ScanPosition | None]]:
    """The list's pages from ``position`` on, each with the position of the one after it (None: the last).

    Classic and v2 page by index; a source that reads by cursor (v3) starts with no cursor at 0. A
    source's page of ``ListedRecord``s (a test's) comes as the ``ListedPage`` a client reads.
    """
    cursor_source = source if isinstance(source, CursorRecordSource) else None
    if cursor_source is not None and position == 0:
        position = CursorPosition(cursor=None, next_index=0)
    while position is not None:
        if isinstance(position, CursorPosition):
            if cursor_source is None:
                raise TypeError("a read by cursor needs a source that reads by cursor")
            size = _cursor_page_size(position, page_size)
            cursor_page = await cursor_source.fetch_records(position.cursor, size, position.next_index)
            page = ListedPage.of(cursor_page.records)
            position = None if cursor_page.next_cursor is None else CursorPosition(
                cursor=cursor_page.next_cursor, next_index=position.next_index + len(page), page_size=size)
        else:
            page = ListedPage.of(await source.fetch_page(position, page_size))
            position = following_index(page, position, page_size)
        yield page, position


def _cursor_page_size(position: CursorPosition, page_size: int) -> int:
    """A stored cursor goes on with the limit it was handed out for, whatever ``--page-size`` says tonight."""
    if position.cursor is None or position.page_size is None or position.page_size == page_size:
        return page_size
    logger.info("the list read goes on from its stored cursor in pages of %d, the size the cursor was made for "
                "(--page-size %d applies from the next read of the list)", position.page_size, page_size)
    return position.page_size


def following_index(page: ListedPage, from_index: int, page_size: int) -> int | None:
    """The ``fromIndex`` of the getAll page after ``page`` (asked from ``from_index``, ``page_size`` records at
    most); None when it was the last.

    Past the page's highest index, whatever order its records came in. A full page with no index
    from ``from_index`` on would be asked again and again: the run stops rather than loop or guess.
    """
    if len(page) < page_size:
        return None
    highest = max(page.indexes)
    if highest < from_index:
        raise PageUnreadable(from_index, f"its {len(page):,} records all lie below that index (the highest is "
                                         f"{highest:,}), so the list cannot be paged past it")
    return highest + 1
