"""One calling list held in memory: its records, the key index and the answers' shapes.

Columns are kept as Arrow arrays (a million records fit in a few hundred MB); the only Python
objects per record are its key and the index entry that maps the key to the record's position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
        self._size = len(next(iter(columns.entries.values())))

    def __len__(self) -> int:
        return self._size

    @property
    def entry_fields(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def duplicate_key(self) -> Key | None:
        """A key found on more than one row, or ``None`` when every key is unique."""
        if len(self._index) == self._size:
            return None
        seen: set[Key] = set()
        key: Key
        for key in _iter_keys(self.key_fields, self._entries):
            if key in seen:
                return key
            seen.add(key)
        return None  # pragma: no cover - the index was smaller, so a duplicate exists

    def find(self, key_values: tuple[str, ...]) -> int | None:
        """The index of the record with these key-field values, or ``None``."""
        return self._index.get(make_key(key_values))

    def record(self, index: int, campaign: str, *, lower_names: bool) -> dict[str, object]:
        """The Query-a-record answer: ``entry``, and ``status`` when the list is bound to the campaign."""
        return self._rows(index, index + 1, campaign, lower_names=lower_names, with_index=False)[0]

    def page(self, from_index: int, max_size: int, campaign: str, *, lower_names: bool) -> list[dict[str, object]]:
        """A getAll page: ``{"index", "entry", "status"}`` items from ``from_index`` on."""
        stop = min(from_index + max_size, self._size)
        if from_index >= stop:
            return []
        return self._rows(from_index, stop, campaign, lower_names=lower_names, with_index=True)

    def _rows(
        self, start: int, stop: int, campaign: str, *, lower_names: bool, with_index: bool
    ) -> list[dict[str, object]]:
        entries = self._entry_dicts(start, stop, lower_names)
        statuses = self._status_dicts(start, stop, campaign)
        rows: list[dict[str, object]] = []
        for offset, entry in enumerate(entries):
            row: dict[str, object] = {"index": start + offset} if with_index else {}
            row["entry"] = entry
            if statuses is not None:
                row["status"] = statuses[offset]
            rows.append(row)
        return rows

    def _entry_dicts(self, start: int, stop: int, lower_names: bool) -> list[dict[str, str]]:
        names = [self._lower_names[name] if lower_names else name for name in self._entries]
        columns = [array.slice(start, stop - start).to_pylist() for array in self._entries.values()]
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]

    def _status_dicts(self, start: int, stop: int, campaign: str) -> list[dict[str, object]] | None:
        if campaign not in self.campaigns:
            return None
        names = list(self._statuses)
        columns = [array.slice(start, stop - start).to_pylist() for array in self._statuses.values()]
        owners = self._owned_rows(start, stop, campaign)
        return [
            {name: value for name, value in zip(names, values, strict=True) if value is not None}
            if owned
            else dict(NEVER_CALLED)
            for values, owned in zip(zip(*columns, strict=True), owners, strict=True)
        ]

    def _owned_rows(self, start: int, stop: int, campaign: str) -> list[bool]:
        """Whether each row's status columns are its status in ``campaign`` (else: never called there)."""
        if self._row_campaigns is None:
            return [True] * (stop - start)
        in_default = campaign in self._default_campaigns
        row_campaigns: list[str] = self._row_campaigns.slice(start, stop - start).to_pylist()
        return [value == campaign or (value == "" and in_default) for value in row_campaigns]


def _iter_keys(key_fields: tuple[str, ...], entries: Mapping[str, Any]) -> Any:
    columns = [entries[field].to_pylist() for field in key_fields]
    if len(columns) == 1:
        return iter(columns[0])
    return zip(*columns, strict=True)


def _build_index(key_fields: tuple[str, ...], entries: Mapping[str, Any]) -> dict[Key, int]:
    return {key: position for position, key in enumerate(_iter_keys(key_fields, entries))}

