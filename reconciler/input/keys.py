"""A row's key as one canonical text: the identity used to de-duplicate, journal and join.

One key column: the value itself. Several: the values joined by a unit separator, each escaped so
that no value can imitate the separator. A row whose key has an empty, whitespace-only or null
value gets a null key text: it is ``invalid_input`` and never sent ("whitespace" is what Python's
``str.isspace`` calls so, which is what pyarrow trims). So does a row with a key value longer than
``MAX_KEY_BYTES`` of UTF-8: no calling list's key is that long, and a server or proxy refuses such
a body (a 2 MB key came back as HTTP 413, an error row after its retries).

Key values are text. A text column (``string``, ``large_string``, ``string_view``, or any of them
dictionary-encoded) is used as it is; an integer column is turned into its exact decimal form
(``123`` -> ``"123"``, ``-7`` -> ``"-7"``). Other types (floats, binary, dates, nested values) have
no single exact text form, so ``is_key_type`` refuses them and the reader reports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

_SEPARATOR = "\x1f"
_ESCAPE = "\\"
MAX_KEY_BYTES = 4096  # per key value, in UTF-8
OVERSIZED_KEY_ERROR = f"a key value is longer than {MAX_KEY_BYTES:,} bytes of UTF-8; not sent"


def is_key_type(type_: pa.DataType) -> bool:
    """Whether a column of this type can be a key column: text or integers, dictionary-encoded or not."""
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    return bool(pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_string_view(type_)
                or pa.types.is_integer(type_))


def as_key_strings(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A key column's values as ``string``: text as it is, integers in decimal (``123`` -> ``"123"``)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_string(column.type):
        return column
    return pc.cast(column, pa.string())


def key_texts(batch: pa.RecordBatch, key_columns: Sequence[str]) -> pa.Array:
    """The canonical key text of every row of ``batch``; null where the key is not usable."""
    values = [as_key_strings(batch.column(name)) for name in key_columns]
    unusable = pc.or_(_any_blank(values), _any_oversized(values))
    if len(values) == 1:
        text = values[0]
    else:
        escaped = [_escape(v) for v in values]
        text = pc.binary_join_element_wise(*escaped, _SEPARATOR)
    return pc.if_else(unusable, pa.scalar(None, pa.string()), text)


def key_text_of(values: Sequence[str]) -> str:
    """The key text of one row's key values (the scalar form of ``key_texts``)."""
    if len(values) == 1:
        return values[0]
    escaped = (value.replace(_ESCAPE, _ESCAPE + _ESCAPE).replace(_SEPARATOR, _ESCAPE + "u") for value in values)
    return _SEPARATOR.join(escaped)


def entry_key_text(entry: Mapping[str, str | None], key_columns: Sequence[str]) -> str | None:
    """The key text of a record's entry (field names matched case-insensitively), None when a key is blank.

    Where two names of one entry fold alike, the later one is the key field.
    """
    signature = (tuple(entry), tuple(key_columns))
    chosen = _KEY_NAMES.get(signature)
    if chosen is None:
        chosen = _key_names(*signature)
    values = [None if name is None else entry[name] for name in chosen]
    if any(value is None or not value.strip() for value in values):
        return None
    return key_text_of([value for value in values if value is not None])


def entry_key_texts(entries: Iterable[Mapping[str, str | None]], key_columns: Sequence[str]) -> list[str | None]:
    """``entry_key_text`` of each of ``entries``: a page's, whose names mostly come in one order."""
    columns = tuple(key_columns)
    if len(columns) != 1:
        return [entry_key_text(entry, columns) for entry in entries]
    texts: list[str | None] = []
    before: tuple[str, ...] | None = None
    name: str | None = None
    for entry in entries:
        names = tuple(entry)
        if names != before:  # the entry name the key column matches, as ``entry_key_text`` finds it
            before, (name,) = names, _KEY_NAMES.get((names, columns)) or _key_names(names, columns)
        value = None if name is None else entry[name]
        texts.append(value if value is not None and value.strip() else None)
    return texts


# A list's entries share a few orders of field names: (entry's names, key columns) -> the entry name
# each key column matches (None: none). Folding every name of every record cost more than the rest
# of the key text; the cache is bounded, as a list may have records of many shapes.
_KEY_NAMES: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str | None, ...]] = {}
_KEY_NAMES_MOST = 4096


def _key_names(names: tuple[str, ...], key_columns: tuple[str, ...]) -> tuple[str | None, ...]:
    folded = {name.casefold(): name for name in names}  # the later of two names folding alike wins
    chosen = tuple(folded.get(column.casefold()) for column in key_columns)
    if len(_KEY_NAMES) < _KEY_NAMES_MOST:
        _KEY_NAMES[(names, key_columns)] = chosen
    return chosen


def key_fields(text: str, key_columns: Sequence[str]) -> dict[str, str]:
    """The request body for a key text: key column name -> value."""
    if len(key_columns) == 1:
        return {key_columns[0]: text}
    parts = [_unescape(part) for part in text.split(_SEPARATOR)]
    return dict(zip(key_columns, parts, strict=True))


def _any_blank(values: list[pa.Array]) -> pa.Array:
    blank = None
    for value in values:
        this = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(value), ""), True)
        blank = this if blank is None else pc.or_(blank, this)
    return blank


def oversized_keys(batch: pa.RecordBatch, key_columns: Sequence[str]) -> pa.Array:
    """Whether each row of ``batch`` has a key value longer than ``MAX_KEY_BYTES`` (its key text is null)."""
    return _any_oversized([as_key_strings(batch.column(name)) for name in key_columns])


def _any_oversized(values: list[pa.Array]) -> pa.Array:
    oversized = None
    for value in values:
        this = pc.fill_null(pc.greater(pc.binary_length(value), MAX_KEY_BYTES), False)
        oversized = this if oversized is None else pc.or_(oversized, this)
    return oversized


def _escape(values: pa.Array) -> pa.Array:
    escaped = pc.replace_substring(values, _ESCAPE, _ESCAPE + _ESCAPE)
    return pc.replace_substring(escaped, _SEPARATOR, _ESCAPE + "u")


def _unescape(part: str) -> str:
    out: list[str] = []
    chars = iter(part)
    for char in chars:
        if char == _ESCAPE:
            out.append(_SEPARATOR if next(chars) == "u" else _ESCAPE)
        else:
            out.append(char)
    return "".join(out)
