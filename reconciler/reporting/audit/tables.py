"""Reading an output table of ``reconciler run`` batch by batch, with the checks that make it one.

A table is one file (``.parquet``, ``.csv``, ``.csv.gz``) or a folder of them: one Hive-style
partition (``status/run_date=2026-12-07/``) or a root of several (``status/``), read as one table
with the partition fields (``run_date``) as columns. Files whose path has a part starting with
``.`` or ``_`` (a run's journal, a table being written) are not part of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from reconciler.errors import InputError

BATCH_ROWS = 65_536
STATUS_COLUMNS = ("recon_status", "completed", "lastDisposition", "lastDate", "lastAgent", "totalAttempts")
CHANGE_FEED_COLUMN = "change_type"
_CSV_TYPES = {"completed": pa.bool_(), "totalAttempts": pa.int64()}
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError)


def is_csv(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz"))


def _is_table_file(path: Path, folder: Path) -> bool:
    hidden = any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)
    return not hidden and path.is_file() and path.name.lower().endswith((".parquet", ".csv", ".csv.gz"))


def table_files(folder: Path) -> list[Path]:
    """The table files under ``folder``, all of one kind (CSV or Parquet), in path order."""
    files = sorted(path for path in folder.rglob("*") if _is_table_file(path, folder))
    if not files:
        raise InputError(folder, "the folder holds no .parquet, .csv or .csv.gz table")
    if len({is_csv(path) for path in files}) > 1:
        raise InputError(folder, "the folder holds both CSV and Parquet tables; keep one kind under a root")
    return files


def _file_names(path: Path) -> list[str]:
    if is_csv(path):
        with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20)) as reader:
            return list(reader.schema.names)
    return list(pq.read_schema(path).names)


def _csv_convert(names: list[str], columns: list[str] | None = None) -> pacsv.ConvertOptions:
    # Strings everywhere but the two typed columns the figures count on: a CSV table is text,
    # so that a key such as 000123 keeps its zeros. No columns: every column of each file (a folder's
    # files need not all have the same ones).
    return pacsv.ConvertOptions(column_types={name: _CSV_TYPES.get(name, pa.string()) for name in names},
                                include_columns=columns or [], strings_can_be_null=True,
                                true_values=["true", "True"], false_values=["false", "False"])


def _dataset(folder: Path) -> ds.Dataset:
    files = table_files(folder)
    partitioning = ds.partitioning(flavor="hive")
    if is_csv(files[0]):
        names = list(dict.fromkeys(name for path in files for name in _file_names(path)))
        file_format: ds.FileFormat = ds.CsvFileFormat(convert_options=_csv_convert(names))
    else:
        file_format = ds.ParquetFileFormat()
    found = ds.dataset([str(path) for path in files], format=file_format, partitioning=partitioning,
                       partition_base_dir=str(folder))
    # Columns may differ from one night to the next (an entry field the list gained): read them all.
    schema = pa.unify_schemas([fragment.physical_schema for fragment in found.get_fragments()]
                              + [found.schema], promote_options="permissive")
    return ds.dataset([str(path) for path in files], schema=schema, format=file_format,
                      partitioning=partitioning, partition_base_dir=str(folder))


def column_names(path: Path) -> list[str]:
    """The table's columns; an error naming the file (or folder) when it cannot be read at all."""
    if not path.exists():
        raise InputError(path, "no such file or folder")
    kind = "CSV" if is_csv(path) else "Parquet"
    try:
        if path.is_dir():
            return list(_dataset(path).schema.names)
        return _file_names(path)
    except _ARROW_ERRORS as exc:
        raise InputError(path, f"cannot be read as {kind if path.is_file() else 'one table'}: "
                         f"{str(exc).splitlines()[0]}") from None


def require_status_table(path: Path) -> list[str]:
    """The columns of ``path``, refused unless it carries the recon_status and status columns of a run."""
    names = column_names(path)
    if CHANGE_FEED_COLUMN in names:
        raise InputError(path, "is a change feed (it has a change_type column), not a status table: "
                         "report on the run's --output table")
    missing = [name for name in STATUS_COLUMNS if name not in names]
    if missing:
        raise InputError(path, f"not a reconciler output table: missing column(s) {', '.join(missing)}")
    return names


def batches(path: Path, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The rows of ``path`` in batches of at most ``BATCH_ROWS``, only ``columns`` (all when None)."""
    try:
        if path.is_dir():
            yield from _dataset(path).to_batches(columns=columns, batch_size=BATCH_ROWS)
            return
        if is_csv(path):
            with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=4 << 20),
                                convert_options=_csv_convert(_file_names(path), columns)) as reader:
                yield from reader
            return
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)
    except _ARROW_ERRORS as exc:
        raise InputError(path, f"cannot be read: {str(exc).splitlines()[0]}") from None
