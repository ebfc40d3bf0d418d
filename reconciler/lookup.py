"""The seam between the pipeline and the Bright Pattern client: what a lookup returns.

The pipeline knows only ``RecordSource`` and these shapes; aiohttp, dialects, auth, retries and
pacing live behind it in ``reconciler.client``. Tests of the pipeline drive it with a plain fake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from json.encoder import JSONEncoder, c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Protocol, overload, runtime_checkable


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


# A found row is built once for every key the server answered: the frozen dataclass's keyword
# __init__ (each field through object.__setattr__) took 1.7 µs of it, its slots set directly 0.6.
_STATUS_SLOT, _ATTEMPTS_SLOT, _HTTP_SLOT, _ERROR_SLOT, _ENTRY_SLOT, _RECORD_SLOT = (
    getattr(LookupResult, name).__set__ for name in ("status", "attempts", "http_status", "error", "entry", "record"))


def found_result(attempts: int, entry: Mapping[str, str | None], record: RecordStatus) -> LookupResult:
    """``LookupResult(status=FOUND, attempts=attempts, http_status=200, entry=entry, record=record)``, built faster."""
    result: LookupResult = object.__new__(LookupResult)
    _STATUS_SLOT(result, LookupStatus.FOUND)
    _ATTEMPTS_SLOT(result, attempts)
    _HTTP_SLOT(result, 200)
    _ERROR_SLOT(result, None)
    _ENTRY_SLOT(result, entry)
    _RECORD_SLOT(result, record)
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedRecord:
    """One item of a getAll page: the record's position in the list, its entry and status."""

    index: int
    entry: Mapping[str, str | None]
    record: RecordStatus | None


# A listed record as the journal stores it (``record_columns``): these columns, in this order.
RECORD_FIELDS = ("entry", "completed", "last_disposition", "last_date", "last_phone", "last_call_duration",
                 "last_agent", "total_attempts", "global_interaction_id", "completed_time", "extra", "warnings")
Row = tuple[Any, ...]


class ListedPage(Sequence[ListedRecord]):
    """A page of the list read straight into the rows the journal stores: no object a record.

    ``indexes``, ``entries`` and ``rows`` (``record_columns`` of each record) run in the page's
    order; ``extra_names``: the names of the status fields of their own (``extra``) that its
    records hold, in first-seen order. As a sequence it is its ``ListedRecord``s, made only when
    one is asked for (``records`` reads them from the page's answer), so that it compares equal to them.
    """

    __slots__ = ("_made", "_records", "entries", "extra_names", "indexes", "rows")

    def __init__(self, indexes: list[int], entries: list[Mapping[str, str | None]], rows: list[Row],
                 extra_names: tuple[str, ...], records: Callable[[], list[ListedRecord]]) -> None:
        self.indexes, self.entries, self.rows, self.extra_names = indexes, entries, rows, extra_names
        self._records = records
        self._made: list[ListedRecord] | None = None

    @classmethod
    def of(cls, records: Sequence[ListedRecord]) -> ListedPage:
        """The page of ``records`` (as a source without a reader of its own, e.g. a test's, returns them)."""
        if isinstance(records, ListedPage):
            return records
        made = list(records)
        extra_names = dict.fromkeys(name for listed in made if listed.record for name in listed.record.extra)
        return cls([listed.index for listed in made], [listed.entry for listed in made],
                   [record_columns(listed.entry, listed.record) for listed in made], tuple(extra_names),
                   lambda: made)

    def _listed(self) -> list[ListedRecord]:
        if self._made is None:
            self._made = self._records()
        return self._made

    def __len__(self) -> int:
        return len(self.indexes)

    @overload
    def __getitem__(self, position: int) -> ListedRecord: ...
    @overload
    def __getitem__(self, position: slice) -> list[ListedRecord]: ...
    def __getitem__(self, position: int | slice) -> ListedRecord | list[ListedRecord]:
        return self._listed()[position]

    def __iter__(self) -> Iterator[ListedRecord]:
        return iter(self._listed())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and self._listed() == list(other)

    __hash__ = None  # type: ignore[assignment]  # equal to a list, which has none

    def __repr__(self) -> str:
        return f"ListedPage({self._listed()!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangedRecord:
    """A record with activity since a time (a getChanged or getCompleted item)."""

    entry: Mapping[str, str | None]
    record: RecordStatus | None  # None: the item does not tell the whole status exactly; ask the record
    changed_at: datetime | None  # the server's time of this activity (paging, the high-water mark)


@dataclass(frozen=True, slots=True, kw_only=True)
class CursorPage:
    """One page of a list read by cursor (v3): its records, and the cursor of the next page."""

    records: Sequence[ListedRecord]  # a ``ListedPage`` from a client
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

    async def fetch_page(self, from_index: int, max_size: int) -> Sequence[ListedRecord]:
        """One getAll page, retried like a query; empty past the end (a client's is a ``ListedPage``)."""
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


# json.dumps(..., ensure_ascii=False) builds a new encoder on every call, and JSONEncoder.encode()
# the C encoder underneath anew (half the time of an entry's text): that C encoder, made once, with
# the same settings. Without a circular check, which a mapping of texts cannot need. The plain
# encode() where the C encoder is missing.
_ENCODER = JSONEncoder(ensure_ascii=False)


def _c_encoder() -> Any:
    # An internal of CPython's json module: taken only where it is there and writes what encode() writes.
    try:
        encoder = c_make_encoder(None, _ENCODER.default, encode_basestring, None, _ENCODER.key_separator,
                                 _ENCODER.item_separator, False, False, True)
        probe = {"a": "é\u2028\"", "b": None}
        return encoder if "".join(encoder(probe, 0)) == _ENCODER.encode(probe) else None
    except Exception:  # any failure of an internal means: the public encode()
        return None


_C_ENCODER = _c_encoder()


def to_json(values: Mapping[str, str | None]) -> str:
    """``values`` (a mapping of texts) as ``json.dumps(values, ensure_ascii=False)`` writes it."""
    if _C_ENCODER is None:
        return _ENCODER.encode(values)
    return "".join(_C_ENCODER(values if type(values) is dict else dict(values), 0))


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def record_columns(entry: Mapping[str, str | None] | None, record: RecordStatus | None) -> Row:
    """The journal's columns for an entry and a status (``RECORD_FIELDS``, in order)."""
    return (
        to_json(entry) if entry is not None else None,
        None if record is None or record.completed is None else int(record.completed),
        record.last_disposition if record else None,
        epoch_ms(record.last_date) if record and record.last_date else None,
        record.last_phone if record else None,
        record.last_call_duration if record else None,
        record.last_agent if record else None,
        record.total_attempts if record else None,
        record.global_interaction_id if record else None,
        epoch_ms(record.completed_time) if record and record.completed_time else None,
        to_json(record.extra) if record and record.extra else None,
        len(record.warnings) if record else 0,
    )
