"""Which input columns disagree with the record the server holds: ``recon_differing_columns``.

The server answers a record by its key alone and sends its own values for every other field, so
a found row may carry an input ``First name`` of ``Name_F50`` beside the record's ``Name_First_C1``.
This names, for each found row, the input columns whose value is not the record's, as a JSON array
in input column order (``["First name","Phone"]``; ``[]`` when all agree; null when not found).

The rules: an input column is compared only when the record has an entry field of the same name,
case-insensitively; values are compared as the text they are (no trimming, case counts); an input
null or ``""`` equals a server ``""`` or a field the record lacks; text and integer columns (plain
or dictionary-encoded) compare by their text (``123`` is ``"123"``); other types are never listed,
as they have no single exact text form. All of it column-wise, in pyarrow: no loop over rows.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from reconciler.input.keys import as_key_strings, is_key_type


def comparable_columns(input_schema: pa.Schema, entry_folded: set[str]) -> tuple[str, ...]:
    """The input columns, in order, that have a same-named entry field and a type compared by text."""
    return tuple(f.name for f in input_schema if f.name.casefold() in entry_folded and is_key_type(f.type))


def differing_columns(batch: pa.RecordBatch, compared: tuple[str, ...], entries: Mapping[str, pa.Array],
                      found: pa.Array) -> pa.Array:
    """The JSON array of differing input columns of each row of ``batch``; null where ``found`` is not true.

    ``entries``: each entry field's values by folded name, aligned with ``batch``'s rows.
    """
    differs = [_differs(batch.column(name), entries[name.casefold()]) for name in compared]
    found = pc.fill_null(found, False)
    if len(compared) > _MOST_CODED:
        return pc.if_else(found, _joined(differs, compared), pa.scalar(None, pa.string()))
    # Each row's differing columns as the bits of a small number, which picks its text from a table of
    # every combination: a take, six times faster than joining texts row by row.
    code = pa.repeat(pa.scalar(0, pa.int16()), batch.num_rows)
    for bit, column in enumerate(differs):
        code = pc.bit_wise_or(code, pc.multiply(pc.cast(column, pa.int16()), pa.scalar(1 << bit, pa.int16())))
    return _texts(compared).take(pc.if_else(found, code, pa.scalar(None, pa.int16())))


_MOST_CODED = 10  # a table of 2 ** 10 texts; more compared columns are joined row by row


@functools.lru_cache(maxsize=8)
def _texts(compared: tuple[str, ...]) -> pa.Array:
    """The JSON array for each combination of differing columns, at the index whose bits name them."""
    names = [json.dumps(name, ensure_ascii=False) for name in compared]
    return pa.array(["[" + ",".join(name for bit, name in enumerate(names) if code >> bit & 1) + "]"
                     for code in range(1 << len(names))], pa.string())


def _joined(differs: list[pa.Array], compared: tuple[str, ...]) -> pa.Array:
    # Each differing column adds ',"name"'; the leading comma goes, as a JSON name starts with '"'.
    pieces = [pc.if_else(d, "," + json.dumps(name, ensure_ascii=False), "") for d, name in zip(differs, compared,
                                                                                                 strict=True)]
    names = pc.utf8_ltrim(pc.binary_join_element_wise(*pieces, ""), characters=",")
    return pc.binary_join_element_wise("[", names, "]", "")


def _differs(values: pa.Array, entry: pa.Array) -> pa.Array:
    return pc.not_equal(pc.fill_null(as_key_strings(values), ""), pc.fill_null(entry, ""))
