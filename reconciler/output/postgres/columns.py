"""PostgreSQL column types for an output table, and its batches as CSV for ``COPY``.

Each Arrow type has one PostgreSQL type (``text``, ``boolean``, ``bigint``, ``timestamp with time
zone``, ``date``, ...), spelled as ``format_type`` spells it, so that an existing table's columns
can be compared with what a run writes. Key columns are ``text`` whatever their input type: they
hold the key as it was sent (``000123`` stays ``000123``; a Parquet integer key is its decimal text).

A batch goes to ``COPY ... (FORMAT csv)`` as pyarrow's CSV writer writes it, with no per-row Python:
a null is an unquoted empty field, which ``COPY`` reads as NULL, and ``""`` is quoted, which it reads
as the empty string; times carry their zone (``2021-02-19 19:12:21.000Z``).
"""

from __future__ import annotations

import io
from collections.abc import Collection

import pyarrow as pa
import pyarrow.csv as pacsv

TEXT = "text"
_SIMPLE: dict[pa.DataType, str] = {
    pa.string(): TEXT, pa.large_string(): TEXT, pa.string_view(): TEXT,
    pa.bool_(): "boolean",
    pa.int8(): "smallint", pa.int16(): "smallint", pa.uint8(): "smallint",
    pa.int32(): "integer", pa.uint16(): "integer",
    pa.int64(): "bigint", pa.uint32(): "bigint", pa.uint64(): "numeric(20,0)",
    pa.float16(): "real", pa.float32(): "real", pa.float64(): "double precision",
    pa.date32(): "date", pa.date64(): "date",
}


def postgres_type(type_: pa.DataType) -> str | None:
    """The column type for ``type_``; None when it has none here (binary, nested, durations, times)."""
    if pa.types.is_dictionary(type_):
        return postgres_type(type_.value_type)
    if pa.types.is_timestamp(type_):
        return "timestamp with time zone" if type_.tz else "timestamp without time zone"
    if pa.types.is_decimal(type_):
        return f"numeric({type_.precision},{type_.scale})"
    return _SIMPLE.get(type_)


def table_columns(schema: pa.Schema, text_columns: Collection[str]) -> dict[str, str]:
    """Each column of ``schema`` and its PostgreSQL type, in order; ``text_columns`` (the keys) as text.

    Raises ``ValueError`` naming the first column that has no PostgreSQL type.
    """
    columns: dict[str, str] = {}
    for field in schema:
        kind = TEXT if field.name in text_columns else postgres_type(field.type)
        if kind is None:
            raise ValueError(f"column {field.name!r} is of type {field.type}, which has no PostgreSQL "
                             "column type here; write a .parquet file instead")
        columns[field.name] = kind
    return columns


def csv_chunk(batch: pa.RecordBatch, text_columns: Collection[str]) -> bytes:
    """``batch`` as CSV lines without a header, for ``COPY ... FROM STDIN (FORMAT csv)``."""
    columns = [_copyable(column, name in text_columns) for name, column in zip(batch.schema.names, batch.columns,
                                                                                   strict=True)]
    sink = io.BytesIO()
    pacsv.write_csv(pa.RecordBatch.from_arrays(columns, names=batch.schema.names), sink,
                    pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


def _copyable(column: pa.Array, as_text: bool) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_string_view(column.type) or (as_text and not pa.types.is_string(column.type)):
        return column.cast(pa.string())
    return column
