"""Read the simulator's calling lists from records files (CSV or Parquet).

Records-file format
-------------------
One row per record; a file holds one calling list (or several, with a ``_list`` column).

- **Entry fields** are plain columns (``account_id``, ``firstName``, ``phone``, ...), answered as
  strings exactly as written (CSV is read with every column as a string, so ``000123`` stays
  ``000123``; Parquet columns are cast to strings, nulls become ``""``).
- **Status fields** are columns prefixed ``status.``: ``status.completed`` (``true``/``false``),
  ``status.lastDisposition``, ``status.lastDate`` (``2021-02-19T19:12:21.000``), ``status.lastPhone``,
  ``status.lastCallDuration``, ``status.lastAgent``, ``status.totalAttempts``,
  ``status.globalInteractionID``, and any other ``status.<name>`` (sent as a string).
  An empty cell means the field is absent from the answer, except ``completed`` (empty: ``false``)
  and ``totalAttempts`` (empty: ``0``), which are always sent. ``totalAttempts`` and
  ``lastCallDuration`` are sent as JSON integers, ``completed`` as a JSON boolean. A record whose
  status cells are all empty answers ``"status": {"totalAttempts": 0, "completed": false}``.
- ``_list`` (optional): the list the row belongs to (empty: the source's list name, by default the
  file's name, e.g. ``records.csv``). Records are indexed from 0 in file order within their list.
- ``_campaign`` (optional): the campaign the row's status columns belong to (empty: the source's
  campaigns, by default ``Campaign_1``). A list is bound to every campaign its rows name; in a bound
  campaign that a row does not name, the record answers as never called.
- The key fields (default: the first entry column) must be unique within a list; records are
  looked up by the exact string values of the key fields.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from reconciler.errors import InputError, InvalidOption
from reconciler.simulator.calling_list import CallingList, ListColumns
from reconciler.simulator.config import ListSource

LIST_COLUMN = "_list"
CAMPAIGN_COLUMN = "_campaign"
STATUS_PREFIX = "status."
INT_STATUS_FIELDS = frozenset({"totalAttempts", "lastCallDuration"})
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no", "")
PARQUET_SUFFIXES = (".parquet", ".pq")
RUNNING = "RUNNING"


@dataclass(frozen=True)
class Catalog:
    """Every calling list the simulator serves, by name, the campaigns they are bound to, and the
    campaigns declared without a list; each campaign's state (``RUNNING`` unless declared)."""

    lists: Mapping[str, CallingList]
    empty_campaigns: tuple[str, ...] = ()
    states: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def campaigns(self) -> dict[str, list[str]]:
        """Campaign name -> names of the lists bound to it, in first-seen order; the empty ones last."""
        bound: dict[str, list[str]] = {}
        for calling_list in self.lists.values():
            for campaign in calling_list.campaigns:
                bound.setdefault(campaign, []).append(calling_list.name)
        for campaign in self.empty_campaigns:
            bound.setdefault(campaign, [])
        return bound

    def state(self, campaign: str) -> str:
        return self.states.get(campaign, RUNNING)


def load_catalog(sources: Iterable[ListSource], *, empty_campaigns: tuple[str, ...] = (),
                 states: Mapping[str, str] | None = None, index_hole_every: int = 0) -> Catalog:
    """Read every source; list names must be unique across them, and states name campaigns that exist."""
    lists: dict[str, CallingList] = {}
    for source in sources:
        for calling_list in load_lists(source, index_hole_every=index_hole_every):
            if calling_list.name in lists:
                raise InputError(source.path, f"calling list {calling_list.name!r} is defined twice")
            lists[calling_list.name] = calling_list
    pa.default_memory_pool().release_unused()  # reading a big CSV leaves much freed memory held
    catalog = Catalog(lists, empty_campaigns, dict(states or {}))
    _check_campaigns(catalog)
    return catalog


def _check_campaigns(catalog: Catalog) -> None:
    bound = {campaign for calling_list in catalog.lists.values() for campaign in calling_list.campaigns}
    overlap = [campaign for campaign in catalog.empty_campaigns if campaign in bound]
    if overlap:
        raise InvalidOption("--empty-campaign", overlap[0], "a campaign no list is bound to")
    unknown = [campaign for campaign in catalog.states if campaign not in catalog.campaigns()]
    if unknown:
        raise InvalidOption("--campaign-state", unknown[0],
                            f"a campaign of the simulator ({', '.join(catalog.campaigns()) or 'none'})")


def load_lists(source: ListSource, *, index_hole_every: int = 0) -> list[CallingList]:
    """The calling lists of one records file (several when it has a ``_list`` column)."""
    table = read_records_table(source.path)
    layout = _Layout.of(source, table.column_names)
    default_name = source.list_name or source.path.name
    return [_build_list(source, layout, name, part, index_hole_every)
            for name, part in _split_by_list(table, default_name)]


def read_records_table(path: Path) -> Any:
    """The file as an Arrow table of string columns without nulls."""
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            return _read_parquet(path)
        return _read_csv(path)
    except (OSError, pa.ArrowException, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read the records file: {exc}") from exc


def _read_csv(path: Path) -> Any:
    with path.open(newline="", encoding="utf-8-sig") as stream:
        header = next(csv.reader(stream), None)
    if not header:
        raise InputError(path, "the records file is empty (no header row)")
    _check_names(path, header)
    return pa_csv.read_csv(
        path,
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in header}),
    )


def _read_parquet(path: Path) -> Any:
    table = pq.read_table(path)
    _check_names(path, table.column_names)
    columns = [pc.fill_null(pc.cast(column, pa.string()), "") for column in table.columns]
    return pa.table(columns, names=table.column_names)


def _check_names(path: Path, names: list[str]) -> None:
    if any(not name.strip() for name in names):
        raise InputError(path, "a column has an empty name")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(path, f"duplicate column names: {', '.join(duplicates)}")


@dataclass(frozen=True)
class _Layout:
    """Which columns of a records file are entry, status and key fields."""

    entry_fields: tuple[str, ...]
    status_fields: tuple[str, ...]  # without the "status." prefix
    key_fields: tuple[str, ...]

    @classmethod
    def of(cls, source: ListSource, names: list[str]) -> _Layout:
        special = (LIST_COLUMN, CAMPAIGN_COLUMN)
        entry = tuple(n for n in names if not n.startswith(STATUS_PREFIX) and n not in special)
        status = tuple(n.removeprefix(STATUS_PREFIX) for n in names if n.startswith(STATUS_PREFIX))
        if not entry:
            raise InputError(source.path, "the records file has no entry columns")
        if "" in status:
            raise InputError(source.path, f"a status column needs a name after {STATUS_PREFIX!r}")
        keys = source.key_fields or entry[:1]
        missing = [k for k in keys if k not in entry]
        if missing:
            raise InputError(source.path, f"key field {missing[0]!r} is not an entry column; "
                             f"entry columns: {', '.join(entry)}")
        return cls(entry, status, keys)


def _split_by_list(table: Any, default_name: str) -> list[tuple[str, Any]]:
    if LIST_COLUMN not in table.column_names:
        return [(default_name, table)]
    names = table.column(LIST_COLUMN)
    names = pc.if_else(pc.equal(names, ""), default_name, names)
    return [(name, table.filter(pc.equal(names, name))) for name in pc.unique(names).to_pylist()]


def _build_list(source: ListSource, layout: _Layout, name: str, table: Any, index_hole_every: int) -> CallingList:
    row_campaigns = _column(table, CAMPAIGN_COLUMN) if CAMPAIGN_COLUMN in table.column_names else None
    calling_list = CallingList(
        name=name,
        key_fields=layout.key_fields,
        columns=ListColumns(
            entries={field: _column(table, field) for field in layout.entry_fields},
            statuses=_typed_statuses(source.path, table, layout.status_fields),
            row_campaigns=row_campaigns,
        ),
        campaigns=_bound_campaigns(source.campaigns, row_campaigns),
        default_campaigns=source.campaigns,
        index_hole_every=index_hole_every,
    )
    duplicate = calling_list.duplicate_key()
    if duplicate is not None:
        raise InputError(source.path, f"list {name!r}: key {duplicate!r} is on more than one row")
    return calling_list


def _column(table: Any, name: str) -> Any:
    return table.column(name).combine_chunks()


def _bound_campaigns(defaults: tuple[str, ...], row_campaigns: Any | None) -> tuple[str, ...]:
    if row_campaigns is None:
        return defaults
    named = [c for c in pc.unique(row_campaigns).to_pylist() if c != ""]
    uses_defaults = pc.any(pc.equal(row_campaigns, "")).as_py() is True
    campaigns = [*defaults, *named] if uses_defaults else named
    return tuple(dict.fromkeys(campaigns))


def _typed_statuses(path: Path, table: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """Status columns typed for JSON, ``completed`` first and ``totalAttempts`` always present."""
    rows = table.num_rows
    typed: dict[str, Any] = {"completed": pa.array([False] * rows, pa.bool_())}
    for field in fields:
        typed[field] = _typed_status(path, field, _column(table, STATUS_PREFIX + field))
    if "totalAttempts" not in typed:
        typed["totalAttempts"] = pa.array([0] * rows, pa.int64())
    return typed


def _typed_status(path: Path, field: str, column: Any) -> Any:
    if field == "completed":
        return _booleans(path, column)
    values = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    if field not in INT_STATUS_FIELDS:
        return values
    try:
        numbers = pc.cast(pc.utf8_trim_whitespace(values), pa.int64())
    except pa.ArrowInvalid as exc:
        raise InputError(path, f"column {STATUS_PREFIX}{field}: {exc}; expected whole numbers") from exc
    return pc.fill_null(numbers, 0) if field == "totalAttempts" else numbers


def _booleans(path: Path, column: Any) -> Any:
    words = pc.utf8_lower(pc.utf8_trim_whitespace(column))
    is_true = pc.is_in(words, value_set=pa.array(TRUE_WORDS))
    known = pc.or_(is_true, pc.is_in(words, value_set=pa.array(FALSE_WORDS)))
    if not pc.all(known).as_py():
        bad = pc.filter(column, pc.invert(known))[0].as_py()
        raise InputError(path, f"column {STATUS_PREFIX}completed: {bad!r} is not true or false")
    return is_true
