"""Read key rows from CSV, gzipped CSV or Parquet, in bounded batches, never the whole file.

CSV columns are read as strings, every one, so that values pass through unchanged (``000123`` stays
``000123``). Parquet columns keep their types; key columns are turned into strings only for the
request (see ``reconciler.keys``). pyarrow and OS errors are translated here, once, into
``InputError`` naming the file and, where known, the line.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reconciler.config import FileFormat
from reconciler.errors import BadInputRow, InputColumnMissing, InputError

BATCH_ROWS = 65_536
_CSV_BLOCK_BYTES = 1 << 20
_MAGIC = {b"PAR1": "Parquet", b"PK\x03\x04": "a zip archive", b"\x1f\x8b": "gzip-compressed data"}


@dataclass(frozen=True, kw_only=True)
class InputSpec:
    """A checked input file: its format, columns and the key columns to query by."""

    path: Path
    format: FileFormat
    gzipped: bool
    encoding: str
    schema: pa.Schema
    key_columns: tuple[str, ...]
    total_rows: int | None  # known without reading (Parquet metadata); None for CSV
    total_bytes: int


@dataclass
class BadRows:
    """Ragged CSV rows met while reading, when the user asked to skip them."""

    skip: bool
    lines: list[int] = field(default_factory=list)
    count: int = 0


def format_for(path: Path, override: FileFormat | None) -> tuple[FileFormat, bool]:
    """The format a file name implies (or the override), and whether it is gzipped."""
    name = path.name.lower()
    gzipped = name.endswith(".gz")
    if override is not None:
        return override, gzipped
    if name.endswith((".csv", ".csv.gz")):
        return "csv", gzipped
    if name.endswith((".parquet", ".pq")):
        return "parquet", False
    raise InputError(path, "unknown file extension; use .csv, .csv.gz or .parquet, or pass --input-format")


def open_input(path: Path, *, override: FileFormat | None, encoding: str,
               key_columns: Sequence[str]) -> InputSpec:
    """Check that ``path`` is a readable table of the expected format with the key columns."""
    fmt, gzipped = format_for(path, override)
    size = _check_file(path)
    _check_magic(path, fmt, gzipped)
    schema, total_rows = _csv_header(path, gzipped, encoding) if fmt == "csv" else _parquet_header(path)
    names = schema.names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(path, f"duplicate column names in the header: {', '.join(duplicates)}")
    keys = tuple(key_columns) or tuple(names)
    for column in keys:
        if column not in names:
            raise InputColumnMissing(path, column, names)
    return InputSpec(path=path, format=fmt, gzipped=gzipped, encoding=encoding, schema=schema,
                     key_columns=keys, total_rows=total_rows, total_bytes=size)


def read_batches(spec: InputSpec, bad_rows: BadRows | None = None) -> Iterator[pa.RecordBatch]:
    """Every row of the input, in order, in batches of at most ``BATCH_ROWS`` rows."""
    if spec.format == "parquet":
        yield from _parquet_batches(spec)
    else:
        yield from _csv_batches(spec, bad_rows or BadRows(skip=False))


def _check_file(path: Path) -> int:
    try:
        if path.is_dir():
            raise InputError(path, "is a folder, not a file")
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except PermissionError:
        raise InputError(path, "permission denied: cannot read the file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if size == 0:
        raise InputError(path, "empty file (0 bytes): expected a header row at least")
    return size


def _check_magic(path: Path, fmt: FileFormat, gzipped: bool) -> None:
    with path.open("rb") as handle:
        head = handle.read(4)
    found = next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)
    expected = "gzip-compressed data" if gzipped else ("Parquet" if fmt == "parquet" else None)
    if found != expected:
        what = found or "text, not Parquet"
        raise InputError(path, f"the content is {what}, which does not match its name "
                               f"(read as {'gzipped ' if gzipped else ''}{fmt}); pass --input-format")


def _parquet_header(path: Path) -> tuple[pa.Schema, int]:
    try:
        meta = pq.ParquetFile(path)
        return meta.schema_arrow, meta.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"not a readable Parquet file: {_first_line(exc)}") from exc


def _parquet_batches(spec: InputSpec) -> Iterator[pa.RecordBatch]:
    try:
        yield from pq.ParquetFile(spec.path).iter_batches(batch_size=BATCH_ROWS)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(spec.path, f"Parquet read failed: {_first_line(exc)}") from exc


def _csv_source(spec_path: Path, gzipped: bool) -> pa.NativeFile:
    return pa.input_stream(str(spec_path), compression="gzip" if gzipped else None)


def _csv_header(path: Path, gzipped: bool, encoding: str) -> tuple[pa.Schema, None]:
    try:
        with _csv_source(path, gzipped) as source:
            reader = pacsv.open_csv(source, read_options=_read_options(encoding),
                                    parse_options=pacsv.ParseOptions(newlines_in_values=True))
            names = reader.schema.names
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise _csv_error(path, encoding, gzipped, exc, None) from exc
    except LookupError:
        raise InputError(path, f"unknown --input-encoding {encoding!r}") from None
    return pa.schema([pa.field(name, pa.string()) for name in names]), None


def _csv_batches(spec: InputSpec, bad_rows: BadRows) -> Iterator[pa.RecordBatch]:
    first_bad: list[int | None] = []
    parse = pacsv.ParseOptions(newlines_in_values=True,
                               invalid_row_handler=_bad_row_handler(bad_rows, first_bad))
    convert = pacsv.ConvertOptions(column_types={f.name: pa.string() for f in spec.schema},
                                   strings_can_be_null=False)
    try:
        with _csv_source(spec.path, spec.gzipped) as source:
            reader = pacsv.open_csv(source, read_options=_read_options(spec.encoding),
                                    parse_options=parse, convert_options=convert)
            for batch in reader:
                yield from _split(batch)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        line = first_bad[0] if first_bad else None
        raise _csv_error(spec.path, spec.encoding, spec.gzipped, exc, line) from exc


def _read_options(encoding: str) -> pacsv.ReadOptions:
    codecs.lookup(encoding)
    return pacsv.ReadOptions(use_threads=False, block_size=_CSV_BLOCK_BYTES, encoding=encoding)


def _bad_row_handler(bad_rows: BadRows, first_bad: list[int | None]) -> Callable[[object], str]:
    def handle(row: object) -> str:
        line = getattr(row, "number", None)
        if not bad_rows.skip:
            first_bad.append(line)
            return "error"
        bad_rows.count += 1
        if line is not None and len(bad_rows.lines) < 100:
            bad_rows.lines.append(line)
        return "skip"

    return handle


def _split(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, BATCH_ROWS):
        yield batch.slice(start, BATCH_ROWS)


def _csv_error(path: Path, encoding: str, gzipped: bool, exc: BaseException, line: int | None) -> InputError:
    message = _first_line(exc)
    if "Expected" in message and "columns" in message:
        detail = message.split(":", 2)[1].strip() if message.count(":") >= 2 else message
        return BadInputRow(path, line, f"{detail}; fix the row or pass --skip-bad-rows")
    if "UTF8" in message.upper() or isinstance(exc, UnicodeDecodeError):
        offset = _first_undecodable_byte(path, encoding, gzipped)
        where = f" at byte offset {offset}" if offset is not None else ""
        return InputError(path, f"not valid {encoding} text{where}; pass --input-encoding (e.g. latin-1)")
    return InputError(path, f"cannot read as CSV: {message}")



def _first_undecodable_byte(path: Path, encoding: str, gzipped: bool) -> int | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with _csv_source(path, gzipped) as source:
        while chunk := source.read(1 << 16):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            offset += len(chunk)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
