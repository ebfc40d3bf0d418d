"""One calling list held in memory: its records, the key index and the answers' shapes.

Columns are kept as Arrow arrays (a million records fit in a few hundred MB); the only Python
objects per record are its key and the index entry that maps the key to the record's position.
What happened since the list was loaded (calls, completions, records added or deleted) lives in
its ``ListOverlay``, which answers win over the loaded columns.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from reconciler.simulator.overlay import ListOverlay

# A record's key: the key field's value, or a tuple of them when the list has several key fields.
Key = str | tuple[str, ...]

NEVER_CALLED: Mapping[str, object] = {"totalAttempts": 0, "completed": False}


def make_key(values: tuple[str, ...]) -> Key:
    """The index key for these key-field values (a bare string for one key field)."""
    return values[0] if len(values) == 1 else values


@dataclass(frozen=True, kw_only=True)
class ListColumns:
    """The typed columns of one list, as ``records`` prepared them."""

    entries: Mapping[str, Any]  # field name -> pa.StringArray, no nulls
    statuses: Mapping[str, Any]  # field name -> typed pa.Array (bool, int64 or string), null = absent
    row_campaigns: Any | None  # pa.StringArray from `_campaign` ("" = the default campaigns), or None


class CallingList:
    """The records of one list, indexed by their key fields, bound to some campaigns."""

    def __init__(
        self,
        *,
        name: str,
        key_fields: tuple[str, ...],
        columns: ListColumns,
        campaigns: tuple[str, ...],
        default_campaigns: tuple[str, ...],
        index_hole_every: int = 0,
    ) -> None:
        self.name = name
        self.key_fields = key_fields
        self.campaigns = campaigns
        self._default_campaigns = frozenset(default_campaigns)
        self._entries = columns.entries
        self._lower_names = {field: field.lower() for field in columns.entries}
        self._statuses = columns.statuses
        self._row_campaigns = columns.row_campaigns
        self._index = _build_index(key_fields, columns.entries)
        self._loaded = len(next(iter(columns.entries.values())))
        self.overlay = ListOverlay(self._loaded)
        # Every n-th index unused, as deleted records leave them on a live list (0: none); the
        # records' positions stay contiguous, only the indexes the API shows skip.
        self._hole_every = index_hole_every

    def __len__(self) -> int:
        """The records on the list now (loaded, plus added, less deleted)."""
        return self.overlay.end - len(self.overlay.deleted)

    @property
    def end(self) -> int:
        """One past the highest record index ever given (deleted records keep their index)."""
        return self.overlay.end

    @property
    def loaded_count(self) -> int:
        return self._loaded

    @property
    def entry_fields(self) -> tuple[str, ...]:
        return tuple(self._entries)

    @property
    def status_fields(self) -> tuple[str, ...]:
        """The status fields the records file has columns for (``completed`` and ``totalAttempts`` always)."""
        return tuple(self._statuses)

    @property
    def end_index(self) -> int:
        """One past the highest index the API shows for a record ever given."""
        return self.index_of(self.overlay.end - 1) + 1 if self.overlay.end else 0

    def index_of(self, position: int) -> int:
        """The getAll ``index`` of the record at ``position`` (its place in load and add order)."""
        return position + position // (self._hole_every - 1) if self._hole_every else position

    def first_position(self, index: int) -> int:
        """The position of the first record whose getAll ``index`` is ``index`` or more."""
        return index - index // self._hole_every if self._hole_every else index

    def latest_loaded_ms(self) -> int | None:
        """The latest ``lastDate`` or ``completedTime`` of the loaded records (epoch ms, UTC), if any reads."""
        latest: int | None = None
        for field in ("lastDate", "completedTime"):
            column = self._statuses.get(field)
            text = pc.max(column).as_py() if column is not None and column.type == pa.string() else None
            moment = api_moment(text) if isinstance(text, str) else None
            if moment is not None and (latest is None or moment > latest):
                latest = moment
        return latest

    def largest_loaded_number(self) -> tuple[int, int] | None:
        """The largest all-digit value of the first key field and the widest such value, if any."""
        keys = self._entries[self.key_fields[0]]
        digits = pc.filter(keys, pc.and_(pc.match_substring_regex(keys, r"^[0-9]+$"),
                                         pc.less_equal(pc.utf8_length(keys), 18)))
        if not len(digits):
            return None
        largest = pc.max(pc.cast(digits, pa.int64())).as_py()
        width = pc.max(pc.utf8_length(digits)).as_py()
        return (int(largest), int(width)) if largest is not None and width is not None else None

    def duplicate_key(self) -> Key | None:
        """A key found on more than one row, or ``None`` when every key is unique."""
        if len(self._index) == self._loaded:
            return None
        seen: set[Key] = set()
        key: Key
        for key in _iter_keys(self.key_fields, self._entries):
            if key in seen:
                return key
            seen.add(key)
        return None  # pragma: no cover - the index was smaller, so a duplicate exists

    def find(self, key_values: tuple[str, ...], *, loose_plus: bool = False) -> int | None:
        """The position of the record with these key-field values, or ``None``.

        ``loose_plus``: failing an exact match, a stored value may differ from the one asked by a
        leading ``+`` (as a live server matched a phone key).
        """
        found = self._index.get(make_key(key_values))
        if found is not None or not loose_plus:
            return found
        variants = [(value, value[1:] if value.startswith("+") else "+" + value) for value in key_values]
        for candidate in itertools.product(*variants):
            if candidate != key_values and all(candidate) and make_key(candidate) in self._index:
                return self._index[make_key(candidate)]
        return None

    def key_of(self, index: int) -> Key:
        entry = self.entry(index, lower_names=False)
        return make_key(tuple(entry[field] for field in self.key_fields))

    def live(self, index: int) -> bool:
        return 0 <= index < self.overlay.end and index not in self.overlay.deleted

    def add(self, entry: Mapping[str, str]) -> int:
        """Append a never-called record; its key must be new. Returns its index."""
        key = make_key(tuple(entry[field] for field in self.key_fields))
        if key in self._index:
            raise ValueError(f"key {key!r} is already on list {self.name!r}")
        index = self.overlay.add({field: str(entry.get(field, "")) for field in self._entries})
        self._index[key] = index
        return index

    def delete(self, index: int) -> None:
        """Take a record off the list: it is no longer found, listed or changed."""
        self._index.pop(self.key_of(index), None)
        self.overlay.delete(index)

    def entry(self, index: int, *, lower_names: bool) -> dict[str, str]:
        if index >= self._loaded:
            entry = self.overlay.added[index - self._loaded]
        else:
            entry = {field: array[index].as_py() for field, array in self._entries.items()}
        return {self._lower_names[name]: value for name, value in entry.items()} if lower_names else dict(entry)

    def status(self, index: int, campaign: str) -> dict[str, object] | None:
        """The record's status in ``campaign`` now; ``None`` when the list is not bound to it."""
        if campaign not in self.campaigns:
            return None
        changed = self.overlay.status(campaign, index)
        if changed is not None:
            return dict(changed)
        if index >= self._loaded:
            return dict(NEVER_CALLED)
        return self._loaded_statuses(pa.array([index], pa.int64()), campaign)[0]

    def record(self, index: int, campaign: str, *, lower_names: bool) -> dict[str, object]:
        """The Query-a-record answer: ``entry``, and ``status`` when the list is bound to the campaign."""
        return self._rows([index], campaign, lower_names=lower_names, with_index=False)[0]

    def page(self, from_index: int, max_size: int, campaign: str, *, lower_names: bool) -> list[dict[str, object]]:
        """A getAll page: ``{"entry", "index", "status"}`` of the ``max_size`` records with the lowest
        indexes from ``from_index`` on, in index order."""
        indices: list[int] = []
        index = self.first_position(max(from_index, 0))
        while len(indices) < max_size and index < self.overlay.end:
            if index not in self.overlay.deleted:
                indices.append(index)
            index += 1
        return self._rows(indices, campaign, lower_names=lower_names, with_index=True) if indices else []

    def records(self, indices: list[int], campaign: str, *, lower_names: bool) -> list[dict[str, object]]:
        """``{"entry", "status"}`` of each of ``indices``, in that order."""
        return self._rows(indices, campaign, lower_names=lower_names, with_index=False) if indices else []

    def _rows(self, indices: list[int], campaign: str, *, lower_names: bool,
              with_index: bool) -> list[dict[str, object]]:
        loaded = [i for i in indices if i < self._loaded]
        taken = pa.array(loaded, pa.int64())
        entries = iter(self._entry_dicts(taken, lower_names))
        statuses = iter(self._loaded_statuses(taken, campaign) or [])
        bound = campaign in self.campaigns
        rows: list[dict[str, object]] = []
        for index in indices:
            row: dict[str, object] = {}
            if index < self._loaded:
                row["entry"], status = next(entries), next(statuses) if bound else None
            else:
                row["entry"], status = self.entry(index, lower_names=lower_names), dict(NEVER_CALLED)
            if with_index:  # after the entry, as a live server writes a getAll item
                row["index"] = self.index_of(index)
            if bound:
                changed = self.overlay.status(campaign, index)
                row["status"] = dict(changed) if changed is not None else status
            rows.append(row)
        return rows

    def _entry_dicts(self, taken: Any, lower_names: bool) -> list[dict[str, str]]:
        names = [self._lower_names[name] if lower_names else name for name in self._entries]
        columns = [array.take(taken).to_pylist() for array in self._entries.values()]
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]

    def _loaded_statuses(self, taken: Any, campaign: str) -> list[dict[str, object]]:
        if campaign not in self.campaigns:
            return []
        names = list(self._statuses)
        columns = [array.take(taken).to_pylist() for array in self._statuses.values()]
        owners = self._owned_rows(taken, campaign)
        return [
            _in_recorded_order({name: value for name, value in zip(names, values, strict=True) if value is not None})
            if owned
            else dict(NEVER_CALLED)
            for values, owned in zip(zip(*columns, strict=True), owners, strict=True)
        ]

    def _owned_rows(self, taken: Any, campaign: str) -> list[bool]:
        """Whether each row's status columns are its status in ``campaign`` (else: never called there)."""
        if self._row_campaigns is None:
            return [True] * len(taken)
        in_default = campaign in self._default_campaigns
        row_campaigns: list[str] = self._row_campaigns.take(taken).to_pylist()
        return [value == campaign or (value == "" and in_default) for value in row_campaigns]


def _in_recorded_order(status: dict[str, object]) -> dict[str, object]:
    """A status of ``completed`` and ``totalAttempts`` alone in a live server's order, totalAttempts first."""
    if status.keys() == NEVER_CALLED.keys():
        return {"totalAttempts": status["totalAttempts"], "completed": status["completed"]}
    return status


def _iter_keys(key_fields: tuple[str, ...], entries: Mapping[str, Any]) -> Any:
    columns = [entries[field].to_pylist() for field in key_fields]
    if len(columns) == 1:
        return iter(columns[0])
    return zip(*columns, strict=True)


def _build_index(key_fields: tuple[str, ...], entries: Mapping[str, Any]) -> dict[Key, int]:
    return {key: position for position, key in enumerate(_iter_keys(key_fields, entries))}


def api_moment(text: str) -> int | None:
    """Epoch ms of an API time (``2021-02-19T19:12:21.000``, UTC); None when it does not read."""
    try:
        moment = datetime.fromisoformat(text.strip()[:23])
    except ValueError:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int(moment.timestamp() * 1000)
