"""Reading ``--previous``: the table an earlier run wrote, as the values a change feed compares with.

Any reconciler output table will do, CSV or Parquet, of this version or an older one (whose table
lacks ``globalInteractionID``, ``completedTime`` and ``recon_run_id``: those read as empty). It
must hold the run's key columns, ``recon_status`` and the status columns; anything else is a
one-line error naming the file and what is missing, before any request is sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from reconciler.errors import InputError
from reconciler.input.keys import key_texts
from reconciler.input.read import InputSpec, open_input, read_batches
from reconciler.input.read_csv import MAX_ROW_BYTES

REQUIRED = ("recon_status", "completed", "lastDisposition", "lastDate", "lastPhone", "lastCallDuration",
            "lastAgent", "totalAttempts")
OPTIONAL = ("recon_run_id", "globalInteractionID", "completedTime")
_UTC_MS = pa.timestamp("ms", tz="UTC")
_TYPES = {"completed": pa.bool_(), "lastDate": _UTC_MS, "completedTime": _UTC_MS, "lastCallDuration": pa.int64(),
          "totalAttempts": pa.int64()}


def open_previous(path: Path, key_columns: Sequence[str], *, max_row_bytes: int = MAX_ROW_BYTES) -> InputSpec:
    """Check that ``path`` is a reconciler table read by the same key columns (rows as long as the input's)."""
    spec = open_input(path, override=None, encoding="utf-8", key_columns=key_columns, max_row_bytes=max_row_bytes)
    missing = [name for name in REQUIRED if name not in spec.schema.names]
    if missing:
        raise InputError(path, f"--previous is not a reconciler output table: columns {', '.join(missing)} are "
                               "missing; name the table an earlier reconciler run wrote")
    return spec


def previous_rows(spec: InputSpec) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of ``(key, run_id, status, completed, ...)`` rows, as ``output.changes.PREVIOUS_COLUMNS``."""
    for batch in read_batches(spec):
        texts = key_texts(batch, spec.key_columns)
        columns = [_column(spec, batch, name) for name in
                   ("recon_run_id", "recon_status", "completed", "lastDisposition", "lastDate", "lastPhone",
                    "lastCallDuration", "lastAgent", "totalAttempts", "globalInteractionID", "completedTime")]
        rows = zip(texts.to_pylist(), *(column.to_pylist() for column in columns), strict=True)
        yield [(text, run_id or "", *rest) for text, run_id, *rest in rows if text is not None]


def _column(spec: InputSpec, batch: pa.RecordBatch, name: str) -> pa.Array:
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.string() if name not in _TYPES else _TYPES[name])
    column = batch.column(name)
    wanted = _TYPES.get(name, pa.string())
    if spec.format == "csv":  # CSV cannot tell an empty text from a missing value: both are missing here
        column = pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)
    try:
        if pa.types.is_string(column.type) and wanted == pa.bool_():
            column = pc.equal(pc.utf8_lower(column), "true")
        typed = column.cast(wanted)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(spec.path, f"--previous column {name!r} does not hold {wanted} values ({exc})") from None
    if wanted == _UTC_MS:
        return pc.cast(typed, pa.int64())  # journal form: milliseconds since the epoch
    if wanted == pa.bool_():
        return pc.cast(typed, pa.int64())
    return typed
