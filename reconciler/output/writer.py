"""Write the output table batch by batch, and publish it only when it is whole.

Rows go to a hidden temporary file in the output's folder; ``commit`` flushes, fsyncs and renames
it over the output, so a reader sees the previous table or the new one, never a part. An output in
object storage or a Delta table is staged in a local folder (the journal's) and published whole by
``reconciler.output.publish``. CSV carries times as ISO 8601 with a zone (``2021-02-19T19:12:21.000Z``).
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reconciler.config import FileFormat, delta_table, format_from_name, remote_url, shown
from reconciler.errors import InputError
from reconciler.input.stores import check_bucket
from reconciler.output.join import plan_output
from reconciler.output.publish import check_table_columns, commit_delta, upload


def output_format_for(path: Path, override: FileFormat | None) -> tuple[FileFormat, bool]:
    """The format an output name implies (or the override), and whether to gzip it."""
    if delta_table(path) is not None:
        if override not in (None, "parquet"):
            raise InputError(shown(path), "a Delta table holds Parquet files; drop --output-format")
        return "parquet", False
    if (known := format_from_name(path, override)) is not None:
        return known
    suffix = "".join(path.suffixes[-2:])
    unknown = f"unknown output extension {suffix!r}" if suffix else "the output name has no extension"
    raise InputError(path, f"{unknown}; name it .csv, .csv.gz or .parquet, or pass --output-format")


def check_output_location(path: Path, input_path: Path) -> None:
    """Fail before any request when the table could not be written there, or would replace the input."""
    if (url := remote_url(path)) is not None:
        check_bucket(url, "the output")
        return
    if delta_table(path) is not None:
        return  # reconciler.output.tables checks the table and its columns
    if _same_file(path, input_path):
        raise InputError(path, f"the output path is the input file {input_path}; choose another output file")
    folder = path.parent
    if not folder.exists():
        raise InputError(path, f"the output folder {folder} does not exist; create it or choose another")
    if not folder.is_dir():
        raise InputError(path, f"{folder} is a file, not a folder; choose an output path inside a folder")
    if path.is_dir():
        raise InputError(path, "the output path is a folder; name a file inside it")
    if path.exists() and not path.is_file():
        raise InputError(path, "the output path exists and is not a regular file; choose another output file")
    try:
        # A real file, not os.access: root passes os.access on a read-only mount.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(path, f"cannot write in the output folder {folder} ({exc.strerror or exc}); "
                               "choose another folder") from None


def check_output_schema(path: Path, schema: pa.Schema, fmt: FileFormat) -> None:
    """Fail before any request when a column of ``schema`` cannot be written in ``fmt``, or a Delta table differs."""
    if (table := delta_table(path)) is not None:
        names = plan_output(schema, ()).schema.names
        check_table_columns(table, names[:len(schema)], names[len(schema):], exact=False)
    if fmt == "csv":
        nested = [f.name for f in schema if pa.types.is_nested(f.type)]
        if nested:
            raise InputError(path, f"columns {', '.join(map(repr, nested))} hold nested values, which CSV "
                                   "cannot carry; write .parquet instead")


def _same_file(output: Path, input_path: Path) -> bool:
    try:
        if output.resolve() == input_path.resolve():
            return True
        return output.exists() and output.samefile(input_path)  # a hard link
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop, which the later checks report
        return False


class TableWriter:
    """Collects batches into a temporary file; ``commit`` publishes it atomically.

    ``staging``: the local folder for the temporary file of an object or a Delta table (else the
    output's own folder); ``replacing``: for a Delta table, the rows the commit replaces.
    """

    def __init__(self, path: Path, schema: pa.Schema, fmt: FileFormat, *, gzipped: bool,
                 staging: Path | None = None, replacing: str = "false") -> None:
        self.path, self.schema = path, schema
        self._format, self._replacing = fmt, replacing
        local = remote_url(path) is None and delta_table(path) is None
        folder = path.parent if local or staging is None else staging
        # A killed run's temporary table; the journal's lock means no other run is writing this output.
        for stale in folder.glob(f".{glob.escape(path.name)}.*.partial"):
            stale.unlink(missing_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
        os.close(handle)
        self._temp = Path(temp)
        self._sink = pa.output_stream(str(self._temp), compression="gzip" if gzipped else None)
        self._writer: pq.ParquetWriter | pacsv.CSVWriter
        if fmt == "parquet":
            hinted = schema if delta_table(path) is not None else with_pandas_hints(schema)
            self._writer = pq.ParquetWriter(self._sink, hinted, compression="zstd")
        else:
            self._writer = pacsv.CSVWriter(self._sink, _csv_schema(schema))
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self._format == "csv":
            batch = _csv_batch(batch)
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def commit(self) -> None:
        self._writer.close()
        self._sink.close()
        table, url = delta_table(self.path), remote_url(self.path)
        if table is not None or url is not None:
            try:
                if table is not None:
                    commit_delta(self._temp, table, self._replacing)
                elif url is not None:
                    upload(self._temp, url)
            finally:
                self._temp.unlink(missing_ok=True)
            return
        with self._temp.open("rb+") as handle:
            os.fsync(handle.fileno())
        self._temp.chmod(0o644)
        self._temp.replace(self.path)
        _fsync_folder(self.path.parent)

    def abort(self) -> None:
        try:
            self._writer.close()
            self._sink.close()
        finally:
            self._temp.unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def with_pandas_hints(schema: pa.Schema) -> pa.Schema:
    """``schema`` noting pandas' nullable dtypes for its integer and boolean columns.

    A plain ``pandas.read_parquet`` would turn an integer column with a null into float64 and a
    boolean one into object; with these hints it reads ``Int64`` and ``boolean``, as a BI user
    expects. Other readers (DuckDB, Spark, pyarrow) ignore the hint.
    """
    columns = [{"name": f.name, "field_name": f.name, "pandas_type": _PANDAS_TYPE[kind],
                "numpy_type": _NULLABLE_DTYPE[kind], "metadata": None}
               for f in schema if (kind := _kind(f.type)) is not None]
    if not columns:
        return schema
    hint = {"index_columns": [], "column_indexes": [], "columns": columns, "attributes": {},
            "creator": {"library": "reconciler"}}
    return schema.with_metadata({**(schema.metadata or {}), b"pandas": json.dumps(hint).encode()})


_NULLABLE_DTYPE = {"int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64", "uint8": "UInt8",
                   "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64", "bool": "boolean"}
_PANDAS_TYPE = {name: "bool" if name == "bool" else name for name in _NULLABLE_DTYPE}


def _kind(type_: pa.DataType) -> str | None:
    name = str(type_)
    return name if name in _NULLABLE_DTYPE else None


def _is_utc_time(type_: pa.DataType) -> bool:
    return pa.types.is_timestamp(type_) and type_.tz in ("UTC", "+00:00", "Z")


def _as_csv_text(type_: pa.DataType) -> bool:
    # pyarrow's CSV writer cannot write string_view; it would write UTC times without the ISO "T".
    return _is_utc_time(type_) or pa.types.is_string_view(type_)


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string()) if _as_csv_text(f.type) else f for f in schema])


def _csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = [_csv_column(column) for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=_csv_schema(batch.schema))


def _csv_column(column: pa.Array) -> pa.Array:
    if _is_utc_time(column.type):
        # pyarrow would write "2021-02-19 19:12:21.000Z"; BI loaders expect "2021-02-19T19:12:21.000Z".
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
    return column.cast(pa.string()) if pa.types.is_string_view(column.type) else column


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
