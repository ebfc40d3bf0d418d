"""Reading an output table of ``reconciler run`` batch by batch, with the checks that make it one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reconciler.errors import InputError

BATCH_ROWS = 65_536
STATUS_COLUMNS = ("recon_status", "completed", "lastDisposition", "lastDate", "lastAgent", "totalAttempts")
_CSV_TYPES = {"completed": pa.bool_(), "totalAttempts": pa.int64()}


def is_csv(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz"))


def column_names(path: Path) -> list[str]:
    """The table's columns; an error naming the file when it cannot be read at all."""
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        if is_csv(path):
            with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20)) as reader:
                return list(reader.schema.names)
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(path, f"cannot be read as {'CSV' if is_csv(path) else 'Parquet'}: "
                         f"{str(exc).splitlines()[0]}") from None


def require_status_table(path: Path) -> list[str]:
    """The columns of ``path``, refused unless it carries the recon_status and status columns of a run."""
    names = column_names(path)
    missing = [name for name in STATUS_COLUMNS if name not in names]
    if missing:
        raise InputError(path, f"not a reconciler output table: missing column(s) {', '.join(missing)}")
    return names


def batches(path: Path, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The rows of ``path`` in batches of at most ``BATCH_ROWS``, only ``columns`` (all when None)."""
    try:
        if is_csv(path):
            # Strings everywhere but the two typed columns the figures count on: a CSV table is text.
            names = column_names(path)
            types = {name: _CSV_TYPES.get(name, pa.string()) for name in names}
            convert = pacsv.ConvertOptions(column_types=types, include_columns=columns or names,
                                           strings_can_be_null=True, true_values=["true", "True"],
                                           false_values=["false", "False"])
            with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=4 << 20),
                                convert_options=convert) as reader:
                yield from reader
            return
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(path, f"cannot be read: {str(exc).splitlines()[0]}") from None
