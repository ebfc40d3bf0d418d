"""The seam between the pipeline and the Bright Pattern client: what a lookup returns.

The pipeline knows only ``RecordSource`` and these shapes; aiohttp, dialects, auth, retries and
pacing live behind it in ``reconciler.client``. Tests of the pipeline drive it with a plain fake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class LookupStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    INVALID_INPUT = "invalid_input"
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordStatus:
    """A record's calling status in one campaign; ``None`` where the server omitted the field."""

    completed: bool | None = None
    last_disposition: str | None = None
    last_date: datetime | None = None  # timezone-aware, UTC
    last_phone: str | None = None
    last_call_duration: int | None = None
    last_agent: str | None = None
    total_attempts: int | None = None
    global_interaction_id: str | None = None  # 5.x: the last interaction's id
    completed_time: datetime | None = None  # v3: when the record was completed, UTC
    # Further status fields the server sent (custom_* and any the API does not document), as strings.
    extra: Mapping[str, str] = field(default_factory=dict)
    # Values the parser could not read and so left null (e.g. a lastDate in an unknown format).
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupResult:
    """How one key's lookup ended; a row of the output table is built from it."""

    status: LookupStatus
    attempts: int
    http_status: int | None = None
    error: str | None = None
    entry: Mapping[str, str | None] | None = None  # entry values as strings, exactly as sent
    record: RecordStatus | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedRecord:
    """One item of a getAll page: the record's position in the list, its entry and status."""

    index: int
    entry: Mapping[str, str | None]
    record: RecordStatus | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangedRecord:
    """A record with activity since a time (a getChanged or getCompleted item)."""

    entry: Mapping[str, str | None]
    record: RecordStatus | None  # None: the item does not tell the whole status exactly; ask the record
    changed_at: datetime | None  # the server's time of this activity (paging, the high-water mark)


@dataclass(frozen=True, slots=True, kw_only=True)
class CursorPage:
    """One page of a list read by cursor (v3): its records, and the cursor of the next page."""

    records: list[ListedRecord]
    next_cursor: str | None  # None: this page was the last


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangesPage:
    """One page of v3's getUpdatedRecords or getCompletedRecords: records with activity, and the next cursor."""

    records: list[ChangedRecord]
    next_cursor: str | None  # None: this page was the last


class RecordSource(Protocol):
    """Answers for records of one calling list in one campaign."""

    async def query(self, key: Mapping[str, str]) -> LookupResult:
        """Look one record up by its key fields; fatal answers raise ``RunAborted``."""
        ...

    async def fetch_page(self, from_index: int, max_size: int) -> list[ListedRecord]:
        """One getAll page, retried like a query; ``[]`` past the end."""
        ...

    async def fetch_changes(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        """Records with any activity at or after ``since`` (getChanged), oldest activity first."""
        ...

    async def fetch_completed(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        """Records completed at or after ``since`` (getCompleted), with their whole status."""
        ...


@runtime_checkable
class CursorRecordSource(RecordSource, Protocol):
    """A source whose list is read by cursor (v3 getAllRecords) rather than by index (getAll).

    Its records carry no index of their own: the scan numbers them in list order, from
    ``first_index``, so that a resumed scan goes on numbering where it stopped.
    """

    async def fetch_records(self, cursor: str | None, limit: int, first_index: int) -> CursorPage:
        """The page after ``cursor`` (None: the first page), retried like a query."""
        ...

    async def record_count(self) -> int | None:
        """How many records the list holds, when the server said so without being asked again."""
        ...

    def list_instance(self) -> str:
        """The id of the list instance this source reads: a nightly state is bound to it."""
        ...

    async def fetch_updated_records(self, since: datetime, cursor: str | None, limit: int) -> ChangesPage:
        """Records with any activity at or after ``since`` (getUpdatedRecords), the page after ``cursor``."""
        ...

    async def fetch_completed_records(self, since: datetime, cursor: str | None, limit: int) -> ChangesPage:
        """Records completed at or after ``since`` (getCompletedRecords), the page after ``cursor``."""
        ...
