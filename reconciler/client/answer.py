"""Reading the server's JSON: pure functions from a parsed document to entries and statuses.

No I/O here. A value that cannot be read exactly makes the row an error (``Unusable``) rather than
a wrong value in the table; only an unreadable ``lastDate`` is left null with a warning, as the
date is informative and a format the parser does not know says nothing about the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final

from reconciler.errors import TargetNotFound
from reconciler.lookup import CursorPage, ListedRecord, RecordStatus


class _NotJson(Enum):
    NOT_JSON = "not JSON"


NOT_JSON: Final = _NotJson.NOT_JSON
"""Stands for a body that is not JSON (empty, cut off, an HTML page), as ``None`` is JSON ``null``."""

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}:?\d{2})?", re.ASCII)
_INTEGER = re.compile(r"-?\d+", re.ASCII)
_TOO_DEEP = "the answer is nested too deeply to read"


@dataclass(frozen=True, slots=True)
class Unusable:
    """Why a JSON answer cannot give the row a result (asking again would not help)."""

    reason: str


@dataclass(frozen=True, slots=True)
class FoundRecord:
    """A record the server found: its entry and its status in the requested campaign."""

    entry: Mapping[str, str | None]
    record: RecordStatus


def parse_document(body: bytes) -> object:
    """The JSON in ``body``: ``NOT_JSON`` when there is none to read, ``Unusable`` when it is not all text."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return NOT_JSON
    if b"\\u" in body and (problem := _not_storable(document)) is not None:
        return Unusable(problem)
    return document


def as_text(value: object) -> str | None:
    """A JSON value as the text the server meant: strings as sent, other values as their JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def read_record(document: object, campaign: str) -> FoundRecord | Unusable:
    """The record in a 200 answer to "Query a record"; a missing status aborts the run."""
    try:
        return _read_record(document, campaign)
    except RecursionError:  # parsed, but nested too deeply to copy a value out of it
        return Unusable(_TOO_DEEP)


def read_page(document: object) -> list[ListedRecord] | Unusable:
    """The records of one getAll page, in the order sent."""
    try:
        return _read_page(document)
    except RecursionError:
        return Unusable(_TOO_DEEP)


# A page's items (and the first one's index) -> its records, or why one cannot be read.
ItemsReader = Callable[[list[object], int], Sequence[ListedRecord] | Unusable]


def read_cursor_page(document: object, first_index: int, limit: int,
                     read_items: ItemsReader | None = None) -> CursorPage | Unusable:
    """A v3 getAllRecords page ``{"next_cursor", "records"}``; its records numbered from ``first_index``.

    ``read_items``: how its records are read (``page_rows`` reads them into rows); by default one by one.
    """
    try:
        return _read_cursor_page(document, first_index, limit, read_items or _read_cursor_items)
    except RecursionError:
        return Unusable(_TOO_DEEP)


def _read_cursor_page(document: object, first_index: int, limit: int, read_items: ItemsReader
                      ) -> CursorPage | Unusable:
    if isinstance(document, Unusable):
        return document
    if not isinstance(document, dict) or not isinstance(document.get("records"), list):
        return Unusable(f"HTTP 200 with a JSON {_kind(document)} instead of an object with records")
    cursor = document.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        return Unusable(f"next_cursor is a JSON {_kind(cursor)}, not a string")
    items: list[object] = document["records"]
    if len(items) > limit:  # a server ignoring the limit could skip records between pages unseen
        return Unusable(f"{len(items)} records in a page of at most {limit}")
    records = read_items(items, first_index)
    if isinstance(records, Unusable):
        return records
    # A short page is the last, whatever cursor came with it; so is a page without a cursor.
    last = len(records) < limit or not cursor
    return CursorPage(records=records, next_cursor=None if last else cursor)


def _read_record(document: object, campaign: str) -> FoundRecord | Unusable:
    chosen = _choose_binding(document, campaign) if isinstance(document, list) else document
    if isinstance(chosen, Unusable):
        return chosen
    if not isinstance(chosen, dict):
        return Unusable(f"HTTP 200 with a JSON {_kind(chosen)} instead of an object")
    entry = read_entry(chosen)
    if isinstance(entry, Unusable):
        return entry
    if chosen.get("status") is None:
        # v2 answers this way when the campaign does not exist or the list is not bound to it:
        # every row would fail alike, so this stops the run.
        raise TargetNotFound("campaign", f"{campaign!r}: the server answered without a status, so the campaign "
                                         "does not exist or the calling list is not bound to it")
    record = read_status(chosen["status"])
    return record if isinstance(record, Unusable) else FoundRecord(entry, record)


def _read_cursor_items(items: list[object], first_index: int) -> list[ListedRecord] | Unusable:
    records: list[ListedRecord] = []
    for position, item in enumerate(items):
        listed = read_listed(item, first_index + position)
        if isinstance(listed, Unusable):
            return Unusable(f"record {position}: {listed.reason}")
        records.append(listed)
    return records


def _read_page(document: object) -> list[ListedRecord] | Unusable:
    if isinstance(document, Unusable):
        return document
    if not isinstance(document, list):
        return Unusable(f"HTTP 200 with a JSON {_kind(document)} instead of an array")
    records: list[ListedRecord] = []
    for position, item in enumerate(document):
        listed = read_listed(item)
        if isinstance(listed, Unusable):
            return Unusable(f"item {position}: {listed.reason}")
        records.append(listed)
    return records


def read_status(status: object) -> RecordStatus | Unusable:
    """A ``status`` object as a ``RecordStatus``; ``""`` and null read as absent."""
    if not isinstance(status, dict):
        return Unusable(f"status is a JSON {_kind(status)}, not an object")
    values: list[Any] = [None] * len(_STATUS_SETTERS)  # RecordStatus's fields, in order
    extra: dict[str, str] = {}
    warnings: list[str] = []
    for name, raw in status.items():
        if raw is None or raw == "":
            continue
        known = _KNOWN.get(name, _UNSEEN)  # the dict's own get: a Python call a field cost more than the rest
        if known is _UNSEEN:
            known = _known_field(name)
        if known is None:
            extra[name] = as_text(raw) or ""
            continue
        position, reader = known
        value = reader(name, raw)
        if isinstance(value, Unusable):
            return Unusable(f"status field {value.reason}")
        if isinstance(value, _Warning):
            warnings.append(value.message)
            continue
        values[position] = value
    values[_EXTRA], values[_WARNINGS] = extra, tuple(warnings)
    return _new_status(values)


def parse_last_date(text: str) -> datetime | None:
    """An aware UTC datetime from ``2021-02-19T19:12:21.000`` (no zone: UTC), ``+0400``, ``+04:00`` or ``Z``."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        return None
    date, time, zone = match.groups()
    offset = "+00:00" if zone in (None, "Z") else f"{zone[:3]}:{zone[-2:]}"
    try:
        return datetime.fromisoformat(f"{date}T{time}{offset}").astimezone(UTC)
    except ValueError:  # well-formed but impossible, e.g. month 13
        return None


@dataclass(frozen=True, slots=True)
class _Warning:
    message: str


def _read_bool(name: str, raw: object) -> bool | Unusable:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return _not_a(name, "boolean", raw)


_EXACT_DOUBLE = 2**53  # every whole number up to it is exactly one double


def _read_int(name: str, raw: object) -> int | Unusable:
    if isinstance(raw, bool):  # bool is an int in Python, never in the API
        return _not_a(name, "whole number", raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        # Past 2**53 a number written with a fraction or an exponent (1e+16, 12345678901234567.0) was
        # rounded to the nearest double by the time it is read: its exact value is lost, not guessed.
        if abs(raw) <= _EXACT_DOUBLE:
            return int(raw)
        return Unusable(f"{name} is not a whole number reconciler can read exactly: {_show(raw)}")
    if isinstance(raw, str) and _INTEGER.fullmatch(raw):
        return int(raw)
    return _not_a(name, "whole number", raw)


def _read_text(name: str, raw: object) -> str | Unusable:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return as_text(raw) or ""
    return _not_a(name, "text", raw)


def _read_date(name: str, raw: object) -> datetime | _Warning:
    parsed = parse_last_date(raw) if isinstance(raw, str) else None
    if parsed is None:
        return _Warning(f"{name} {_show(raw)} is not a date reconciler can read; left empty")
    return parsed


_Reader = Callable[[str, object], object]
_STATUS_FIELDS: dict[str, tuple[str, _Reader]] = {
    "completed": ("completed", _read_bool),
    "lastdisposition": ("last_disposition", _read_text),
    "lastdate": ("last_date", _read_date),
    "lastphone": ("last_phone", _read_text),
    "lastcallduration": ("last_call_duration", _read_int),
    "lastagent": ("last_agent", _read_text),
    "totalattempts": ("total_attempts", _read_int),
    "globalinteractionid": ("global_interaction_id", _read_text),
    "completedtime": ("completed_time", _read_date),
}
# A page of 1,000 records builds 1,000 statuses: a frozen dataclass's __init__ (keywords, then
# object.__setattr__ a field) took about 2.7 µs of the few a record costs; its slots set directly,
# every one of them (a slot never set would fail when read), about 1 µs.
_FIELD_NAMES = tuple(field.name for field in fields(RecordStatus))
_STATUS_SETTERS = tuple(getattr(RecordStatus, name).__set__ for name in _FIELD_NAMES)
_EXTRA, _WARNINGS = _FIELD_NAMES.index("extra"), _FIELD_NAMES.index("warnings")
_POSITIONS = {attribute: (_FIELD_NAMES.index(attribute), reader) for attribute, reader in _STATUS_FIELDS.values()}
# Status field names as sent -> (position, reader), or None for a field of its own (``extra``).
_KNOWN: dict[str, tuple[int, _Reader] | None] = {}
_KNOWN_MOST = 4096  # a server inventing names cannot grow it without bound
_UNSEEN: Final = (-1, _read_text)  # a name not yet in ``_KNOWN``


def _known_field(name: str) -> tuple[int, _Reader] | None:
    try:
        return _KNOWN[name]
    except KeyError:
        known = _STATUS_FIELDS.get(name.lower())
        found = None if known is None else _POSITIONS[known[0]]
        if len(_KNOWN) < _KNOWN_MOST:
            _KNOWN[name] = found
        return found


def _new_status(values: list[Any]) -> RecordStatus:
    """``RecordStatus`` of ``values`` (its fields, in order), without the dataclass's keyword __init__."""
    status: RecordStatus = object.__new__(RecordStatus)
    for setter, value in zip(_STATUS_SETTERS, values, strict=True):
        setter(status, value)
    return status


def _choose_binding(items: list[object], campaign: str) -> object:
    """The element of a deprecated v3 array answer (one per binding) for the requested campaign."""
    matches = [item for item in items
               if isinstance(item, dict) and campaign in (item.get("campaign"), item.get("campaignName"))]
    if len(matches) == 1:
        return matches[0]
    if len(items) == 1:
        return items[0]
    if not items:
        return Unusable("HTTP 200 with an empty JSON array")
    return Unusable(f"ambiguous answer: {len(items)} bindings")


def read_entry(item: Mapping[str, object]) -> dict[str, str | None] | Unusable:
    if "entry" not in item:
        return Unusable("HTTP 200 with a JSON object without an entry")
    entry = item["entry"]
    if not isinstance(entry, dict):
        return Unusable(f"entry is a JSON {_kind(entry)}, not an object")
    return {name: as_text(value) for name, value in entry.items()}


def read_listed(item: object, index_given: int | None = None) -> ListedRecord | Unusable:
    """One item of a page (its own index, or ``index_given``), read field by field."""
    if not isinstance(item, dict):
        return Unusable(f"a JSON {_kind(item)} instead of an object")
    index = _read_int("index", item.get("index")) if index_given is None else index_given
    if isinstance(index, Unusable):
        return index
    entry = read_entry(item)
    if isinstance(entry, Unusable):
        return entry
    status = item.get("status")  # getAll items of a never-called record may come without one
    record = None if status is None else read_status(status)
    if isinstance(record, Unusable):
        return record
    return ListedRecord(index=index, entry=entry, record=record)


def _not_storable(document: object) -> str | None:
    # JSON may escape half of a surrogate pair alone ("\\ud800"); Python reads it into a string that
    # cannot be encoded, so the journal and the output table would fail on it.
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return "the answer holds a lone surrogate escape (\\uD800 to \\uDFFF), which no table can store"
    except RecursionError:
        return _TOO_DEEP
    return None


def _not_a(name: str, expected: str, raw: object) -> Unusable:
    return Unusable(f"{name} is not a {expected}: {_show(raw)}")


def _show(raw: object) -> str:
    text = json.dumps(raw, ensure_ascii=False)
    return text if len(text) <= 40 else text[:40] + "…"


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "null"
