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
    listed = pa.scalar("[]", pa.string())
    if compared:
        # Each differing column adds ',"name"'; the leading comma goes, as a JSON name starts with '"'.
        pieces = [_piece(batch.column(name), entries[name.casefold()], name) for name in compared]
        names = pc.utf8_ltrim(pc.binary_join_element_wise(*pieces, ""), characters=",")
        listed = pc.binary_join_element_wise("[", names, "]", "")
    return pc.if_else(pc.fill_null(found, False), listed, pa.scalar(None, pa.string()))


def _piece(values: pa.Array, entry: pa.Array, name: str) -> pa.Array:
    differs = pc.not_equal(pc.fill_null(as_key_strings(values), ""), pc.fill_null(entry, ""))
    return pc.if_else(differs, "," + json.dumps(name, ensure_ascii=False), "")
