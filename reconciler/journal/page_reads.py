"""How a page of the list meets the records already read: every record is stored once, by key.

The reading of getAll taken here is the part of the API's word that no recorded answer contradicts:
a page asked from ``fromIndex`` holds the records with the lowest indexes from there on, in any
order, with holes where records were deleted (a live server was seen to answer 3, 23, 4, 2, ...).
So a page is not trusted blindly:

- a record that comes again (the same key text and the same list index; in v3, whose records carry
  no index of the server's, the same entry) replaces its earlier read, the later being the fresher,
  and is counted as read twice;
- a different record with a key text already read (another index, or in v3 another entry) is a
  duplicate key: the lowest index keeps the key, which is the first read when pages are in order,
  and whatever the order they come in;
- a record without a usable key is counted, never stored;
- a page whose indexes do not ascend from its ``fromIndex`` on is counted as out of order: the
  reader then cannot rule out a record skipped, and the stage asks the keys it did not find.

Both the scan's journal (``listed``) and the nightly state's full read store pages this way.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise

from reconciler.lookup import ListedPage, ListedRecord, Row

_LOOKUP_CHUNK = 500  # key texts a statement, well under SQLite's bound on parameters
Keyed = tuple[str | None, ListedRecord]  # (key text, or None when the record has no usable key; record)
StoredRow = tuple[str, int, Row]  # (key text, the list index to keep, ``record_row`` of the record)


@dataclass(frozen=True, slots=True)
class KeyedPage:
    """A page of the list, and the key text of each of its records (None: no usable key), in its order."""

    page: ListedPage
    texts: Sequence[str | None]

    @classmethod
    def of(cls, records: Sequence[Keyed]) -> KeyedPage:
        """The page of ``(key text, record)`` pairs."""
        return cls(ListedPage.of([record for _, record in records]), [text for text, _ in records])


@dataclass
class ReadFigures:
    """What a read of the list met, page by page; kept with the pages so that a resumed read adds to it."""

    pages_out_of_order: int = 0  # pages whose indexes did not ascend from their fromIndex on
    records_read_twice: int = 0  # the same record again: its later read replaced the earlier one
    duplicate_keys: int = 0  # another record with a key already read: the lowest index keeps the key
    unkeyed: int = 0  # records without a usable key: never stored

    def add(self, other: ReadFigures) -> None:
        self.pages_out_of_order += other.pages_out_of_order
        self.records_read_twice += other.records_read_twice
        self.duplicate_keys += other.duplicate_keys
        self.unkeyed += other.unkeyed

    def to_text(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_text(cls, text: str | None) -> ReadFigures:
        return cls() if not text else cls(**{name: int(value) for name, value in json.loads(text).items()})


def in_index_order(indexes: Sequence[int], from_index: int) -> bool:
    """Whether the page's indexes ascend strictly from ``from_index`` on (holes are fine)."""
    return all(low < high for low, high in pairwise([from_index - 1, *indexes]))


def shapes(entries: Iterable[Mapping[str, object]]) -> Iterator[Mapping[str, object]]:
    """``entries`` without those whose names are those of the entry just before (a page's are mostly alike).

    Remembering an entry's names twice in a row changes nothing, whatever the rule (first or last
    spelling of a name wins), so the fields remembered from these are those of all ``entries``.
    """
    before: tuple[str, ...] | None = None
    for entry in entries:
        names = tuple(entry)
        if names != before:
            before = names
            yield entry


def settle_page(keyed: KeyedPage, stored: Callable[[Sequence[str]], dict[str, tuple[int, str | None]]],
                *, indexed: bool) -> tuple[list[StoredRow], ReadFigures]:
    """The rows to store for one page, and what it met; see the module's docstring.

    ``stored``: the key texts already read -> (list index, entry as stored), for the given texts.
    ``indexed``: the server numbers its records (getAll), so a record read again has the same index;
    False for a read by cursor (v3), whose indexes are the reader's own count: the same entry then.
    """
    figures = ReadFigures()
    known = stored(list({text for text in keyed.texts if text is not None}))
    chosen: dict[str, StoredRow] = {}
    for text, index, row in zip(keyed.texts, keyed.page.indexes, keyed.page.rows, strict=True):
        if text is None:
            figures.unkeyed += 1
            continue
        if (before := known.get(text)) is not None:
            if (before[0] == index) if indexed else (before[1] == row[0]):
                figures.records_read_twice += 1
                index = min(before[0], index)  # v3: the record keeps the place of its first read
            else:
                figures.duplicate_keys += 1
                if index >= before[0]:
                    continue
        known[text] = (index, row[0])
        chosen[text] = (text, index, row)
    return list(chosen.values()), figures


def stored_rows(db: sqlite3.Connection, select: str, texts: Sequence[str],
                parameters: Iterable[object] = ()) -> dict[str, tuple[int, str | None]]:
    """``select`` (``SELECT key, list_index, entry FROM ... WHERE ... key IN ({marks})``) for ``texts``, by chunk."""
    found: dict[str, tuple[int, str | None]] = {}
    fixed = tuple(parameters)
    for start in range(0, len(texts), _LOOKUP_CHUNK):
        chunk = texts[start:start + _LOOKUP_CHUNK]
        for key, index, entry in db.execute(select.format(marks=",".join("?" * len(chunk))), (*fixed, *chunk)):
            found[str(key)] = (int(index), entry)
    return found
