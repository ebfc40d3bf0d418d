"""The scan strategy: read the whole calling list in getAll pages of 1,000 and join locally.

Pages go into the journal keyed by the same key text as the input (entry field names matched
case-insensitively, values compared as strings exactly as the API returns them), each page in one
transaction with the position of the next, so a crash resumes from the last finished page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from reconciler.input.keys import entry_key_text
from reconciler.journal.store import Journal
from reconciler.lookup import ListedRecord, RecordSource

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
        position = self._journal.listed.scan_position()
        while position is not None:
            if self.stopped:
                return
            page = await self._source.fetch_page(position, PAGE_SIZE)
            self.pages += 1
            position = page[-1].index + 1 if len(page) == PAGE_SIZE else None
            keyed = [(listed_key(record, self._key_columns), record) for record in page]
            self.unkeyed += self._journal.listed.record_page(keyed, position, datetime.now(UTC))
        self._journal.listed.resolve_pending_keys()
