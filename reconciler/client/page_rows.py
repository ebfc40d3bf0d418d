"""A page of the list read straight into the rows the journal stores (``ListedPage``): no object a record.

A full read and a scan store every record of the list. Reading each into a ``RecordStatus`` and a
``ListedRecord``, and then a row out of those, was most of the CPU a record (docs/BENCHMARKS.md,
9c and 9e). Here a record of the common shape goes straight to the tuple ``record_columns`` makes:
an object with a whole-number index, an entry of texts and nulls, and a status whose known fields
hold their documented JSON types (a boolean, a whole number, a text, a date the parser reads).
Any other record (a number where a text belongs, a date left empty with a warning, a record that
cannot be read at all) is read by the plain reader (``answer.read_listed``), and gets its row,
warning or reason from there. So the two cannot differ on an odd answer: the shortcut takes only
what it reads exactly as the plain reader does, and tests compare the two on awkward values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from reconciler.client.answer import (
    _STATUS_FIELDS,
    _TOO_DEEP,
    Unusable,
    _kind,
    _read_bool,
    _read_date,
    _read_int,
    _read_text,
    as_text,
    parse_last_date,
    read_cursor_page,
    read_listed,
)
from reconciler.lookup import (
    RECORD_FIELDS,
    CursorPage,
    ListedPage,
    ListedRecord,
    Row,
    epoch_ms,
    record_columns,
    to_json,
)

_TEXT, _WHOLE, _DATE, _BOOL, _OWN = range(5)  # how a status field's value becomes its column
_KINDS: Final[dict[Callable[[str, object], object], int]] = {
    _read_text: _TEXT, _read_int: _WHOLE, _read_date: _DATE, _read_bool: _BOOL}
# Status field names, folded -> (column, kind); the plain reader's table, so that both know the same names.
_FOLDED: Final = {name: (RECORD_FIELDS.index(attribute), _KINDS[reader])
                  for name, (attribute, reader) in _STATUS_FIELDS.items()}
_OWN_FIELD: Final = (RECORD_FIELDS.index("extra"), _OWN)
_EXTRA = RECORD_FIELDS.index("extra")
# Names as sent -> (column, kind), remembered; bounded, as a server inventing names must not grow it.
_NAMES: dict[str, tuple[int, int]] = {}
_NAMES_MOST = 4096
_TEXTS: Final = frozenset({str, type(None)})
_COMMON_DATE: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\d\d", re.ASCII)
_EPOCH: Final = datetime(1970, 1, 1)
_MICROSECOND: Final = timedelta(microseconds=1)
_EMPTY_STATUS: Final = (None,) * (len(RECORD_FIELDS) - 2) + (0,)  # no status: every column null, no warning


def read_page(document: object) -> ListedPage | Unusable:
    """The records of one getAll page, in the order sent, as rows."""
    if isinstance(document, Unusable):
        return document
    if not isinstance(document, list):
        return Unusable(f"HTTP 200 with a JSON {_kind(document)} instead of an array")
    return _read_rows(document, None, "item")


def read_cursor_rows(document: object, first_index: int, limit: int) -> CursorPage | Unusable:
    """A v3 getAllRecords page, its records numbered from ``first_index``, as rows."""
    return read_cursor_page(document, first_index, limit, functools.partial(_read_rows, label="record"))


def _read_rows(items: list[object], first_index: int | None, label: str) -> ListedPage | Unusable:
    try:
        return _rows(items, first_index, label)
    except RecursionError:  # parsed, but nested too deeply to copy a value out of it
        return Unusable(_TOO_DEEP)


def _rows(items: list[object], first_index: int | None, label: str) -> ListedPage | Unusable:
    indexes: list[int] = []
    entries: list[Mapping[str, str | None]] = []
    rows: list[Row] = []
    extra_names: dict[str, None] = {}
    for position, item in enumerate(items):
        given = None if first_index is None else first_index + position
        read: _Read | None = _row(item, given)
        if read is None:  # not the common shape: the plain reader, exactly
            listed = read_listed(item, given)
            if isinstance(listed, Unusable):
                return Unusable(f"{label} {position}: {listed.reason}")
            read = (listed.index, listed.entry, record_columns(listed.entry, listed.record),
                    None if listed.record is None else listed.record.extra)
        index, entry, row, extra = read
        indexes.append(index)
        entries.append(entry)
        rows.append(row)
        if extra:
            extra_names.update(dict.fromkeys(extra))
    return ListedPage(indexes, entries, rows, tuple(extra_names),
                      functools.partial(_records, items, first_index))


def _records(items: list[object], first_index: int | None) -> list[ListedRecord]:
    """The page's records read one by one (only when someone asks for them: the stages store the rows)."""
    records: list[ListedRecord] = []
    for position, item in enumerate(items):
        listed = read_listed(item, None if first_index is None else first_index + position)
        if isinstance(listed, Unusable):  # pragma: no cover - the page was read whole before
            raise ValueError(listed.reason)
        records.append(listed)
    return records


_Read = tuple[int, Mapping[str, str | None], Row, Mapping[str, str] | None]  # index, entry, row, fields of its own


def _row(item: object, index: int | None) -> _Read | None:
    """(index, entry, row, fields of its own) of an item of the common shape; None for any other."""
    if type(item) is not dict:
        return None
    if index is None:
        index = item.get("index")
        if type(index) is not int:
            return None
    entry = item.get("entry")
    if type(entry) is not dict or not _TEXTS.issuperset(map(type, entry.values())):
        return None
    status = item.get("status")
    if status is None:
        return index, entry, (to_json(entry), *_EMPTY_STATUS), None
    if type(status) is not dict:
        return None
    row: list[Any] = [to_json(entry), None, None, None, None, None, None, None, None, None, None, 0]
    extra: dict[str, str] | None = None
    for name, raw in status.items():
        if raw is None or raw == "":
            continue
        known = _NAMES.get(name)
        if known is None:
            known = _column(name)
        column, kind = known
        if kind == _TEXT:
            if type(raw) is not str:
                return None
            row[column] = raw
        elif kind == _WHOLE:
            if type(raw) is not int:
                return None
            row[column] = raw
        elif kind == _DATE:
            moment = _date_ms(raw) if type(raw) is str else None
            if moment is None:  # the plain reader leaves it null with a warning
                return None
            row[column] = moment
        elif kind == _BOOL:
            if raw is not True and raw is not False:
                return None
            row[column] = int(raw)
        else:
            if extra is None:
                extra = {}
            extra[name] = as_text(raw) or ""
    if extra:
        row[_EXTRA] = to_json(extra)
    return index, entry, tuple(row), extra


def _date_ms(text: str) -> int | None:
    """``epoch_ms(parse_last_date(text))``, sooner for the form a server mostly sends (``2021-02-19T19:12:21.000``).

    That form is UTC; ``epoch_ms`` of an aware datetime is ``int(microseconds since 1970 / 10**6 * 1000)``
    (``timestamp()``'s true division, then a float product): the same operations on the same integer here.
    """
    if _COMMON_DATE.fullmatch(text) is None:
        moment = parse_last_date(text)
        return None if moment is None else epoch_ms(moment)
    try:
        return int((datetime.fromisoformat(text) - _EPOCH) // _MICROSECOND / 1_000_000 * 1000)
    except ValueError:  # well-formed but impossible, e.g. month 13
        return None


def _column(name: str) -> tuple[int, int]:
    found = _FOLDED.get(name.lower(), _OWN_FIELD)
    if len(_NAMES) < _NAMES_MOST:
        _NAMES[name] = found
    return found
