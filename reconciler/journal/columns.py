"""The join's read of results as Arrow columns, built as text by SQLite (in C) and parsed by pyarrow (in C++).

Reading a batch's results through the ``sqlite3`` module makes a Python object of every value (1M
keys: 18M objects, about 4 s, docs/BENCHMARKS.md 9b). Here SQLite writes each column of a chunk's
rows as one JSON array (``json_group_array``: every array sees the rows in the same order), and
pyarrow's JSON reader turns the one document into typed columns. The values are those of the
tuples (``Journal.lookup``), column for column; where this path could differ, the tuple path is
taken instead: a wanted key holding a NUL (SQLite's ``json_each`` cuts it), a value the reader
refuses (e.g. a non-integer in an INTEGER column, which the tuple path reports as before), or a
chunk too big for one SQLite text.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.json as pa_json

from reconciler.journal.from_state import JOURNALLED
from reconciler.journal.rows import RESULT_COLUMNS

# Journal columns of INTEGER values (epoch-ms times, counts, ``completed`` as 0/1); the others are texts.
INTEGER_COLUMNS = frozenset({"http_status", "attempts", "checked_at", "completed", "last_date",
                             "last_call_duration", "total_attempts", "completed_time"})
RESULT_FIELDS = tuple(pa.field(name, pa.int64() if name in INTEGER_COLUMNS else pa.string())
                      for name in RESULT_COLUMNS)
KEY_FIELD = pa.field("key", pa.string())
KEYED_SCHEMA = pa.schema([KEY_FIELD, *RESULT_FIELDS])
_CHUNK = 20_000  # keys a statement: one JSON document of a few MB, far below SQLite's longest text
_DOCUMENT = "json_object(" + ", ".join(f"'{field.name}', json_group_array({field.name})"
                                       for field in KEYED_SCHEMA) + ")"
_LISTS = pa.schema([pa.field(field.name, pa.list_(field.type)) for field in KEYED_SCHEMA])

Rows = list[tuple[Any, ...]]


def results_table(rows: Rows, first: pa.Field = KEY_FIELD) -> pa.Table:
    """Rows ``(first, *RESULT_COLUMNS)`` as typed columns: the tuple path, and the fallback of ``read_results``."""
    schema = pa.schema([first, *RESULT_FIELDS])
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.table([pa.array(values, field.type) for values, field in zip(columns, schema, strict=True)],
                    schema=schema)


def read_results(db: sqlite3.Connection, texts: Sequence[str], tuples: Callable[[Sequence[str]], Rows],
                 source: str = JOURNALLED) -> pa.Table:
    """``KEYED_SCHEMA`` columns of those of ``texts`` that have a result, in no particular order.

    ``tuples`` is the row-by-row read (``Journal.lookup``), for the cases this path cannot take exactly;
    ``source``: the rows' statement (``from_state.JOURNALLED`` or ``ANSWERED``), ``{wanted}`` left open.
    """
    tables = []
    rows = source.format(wanted="k.key IN (SELECT value FROM json_each(?))")
    for start in range(0, len(texts), _CHUNK):
        chunk = texts[start:start + _CHUNK]
        table = _read_chunk(db, chunk, rows)
        tables.append(results_table(tuples(chunk)) if table is None else table)
    return pa.concat_tables(tables) if tables else KEYED_SCHEMA.empty_table()


def _read_chunk(db: sqlite3.Connection, texts: Sequence[str], rows: str) -> pa.Table | None:
    array = json.dumps(texts if isinstance(texts, list) else list(texts))
    if "\\u0000" in array:
        return None
    try:
        (document,) = db.execute(f"SELECT CAST({_DOCUMENT} AS BLOB) FROM ({rows})", (array,)).fetchone()
    except sqlite3.DataError:  # longer than SQLite's longest text
        return None
    try:
        lists = pa_json.read_json(
            io.BytesIO(document),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(document) + 1),
            parse_options=pa_json.ParseOptions(explicit_schema=_LISTS, unexpected_field_behavior="error"))
    except pa.ArrowInvalid:
        return None
    return pa.table([lists.column(field.name).combine_chunks().flatten() for field in KEYED_SCHEMA],
                    schema=KEYED_SCHEMA)
