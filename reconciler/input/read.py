"""Read key rows from CSV, gzipped CSV or Parquet, in bounded batches, never the whole file.

CSV columns are read as strings, every one, so that values pass through unchanged: ``000123``,
``+4412``, ``1e5``, ``NaN``, ``true``, ``NA`` and ``null`` stay those exact strings, and an empty
field is ``""``, never null. Parquet columns keep their types (and keep them in the output). A key
column must be text (``string``, ``large_string``, ``string_view``) or integers, dictionary-encoded
or not; ``reconciler.input.keys`` turns integers into their exact decimal text (``123`` -> ``"123"``) for
the request. Floating-point, binary and nested key columns are refused: they have no single exact
text form.

``open_input`` checks everything it can before the first request: the file is a readable regular
file, its content matches its name, the header has no duplicate names and holds the key columns
(which an input of more than one column must name: its only column is the key of an input of one).
Ragged CSV rows and unclosed quotes are found while reading (``reconciler.input.read_csv``), with the line
of the file where the row starts. pyarrow and OS errors are translated here and in ``read_csv``,
once, into ``InputError``.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from reconciler.config import FileFormat, format_from_name
from reconciler.errors import InputColumnMissing, InputError, KeyColumnsRequired
from reconciler.input.keys import is_key_type
from reconciler.input.read_csv import (
    BATCH_ROWS,
    MAX_ROW_BYTES,
    CsvFile,
    first_line,
    read_header,
    read_rows,
    text_codec,
)
from reconciler.input.read_csv import BadRows as BadRows

# Leading bytes of formats people save under a .csv name by mistake.
_MAGIC = ((b"PK\x03\x04", "a zip archive (an Excel workbook?)"), (b"\x1f\x8b", "gzip-compressed data"),
          (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook"), (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
          (b"\xfd7zXZ\x00", "xz-compressed data"))
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True, kw_only=True)
class InputSpec:
    """A checked input file: its format, columns and the key columns to query by."""

    path: Path
    format: FileFormat
    gzipped: bool
    encoding: str
    schema: pa.Schema
    key_columns: tuple[str, ...]
    total_rows: int | None  # known without reading (Parquet metadata, header-only CSV); else None
    total_bytes: int
    max_row_bytes: int = MAX_ROW_BYTES  # CSV: the longest row sure to be read (--max-row-bytes)


def format_for(path: Path, override: FileFormat | None, *, content: str | None = None) -> tuple[FileFormat, bool]:
    """The format a file name implies (or the override), and whether it is gzipped."""
    if (known := format_from_name(path, override)) is not None:
        return known
    suffix = "".join(path.suffixes[-2:])
    unknown = f"unknown file extension {suffix!r}" if suffix else "no file extension"
    found = f" and the content is {content}" if content else ""
    raise InputError(path, f"{unknown}{found}; name it .csv, .csv.gz or .parquet, or pass --input-format")


def open_input(path: Path, *, override: FileFormat | None, encoding: str, key_columns: Sequence[str],
               max_row_bytes: int = MAX_ROW_BYTES) -> InputSpec:
    """Check that ``path`` is a readable table of the expected format with the key columns."""
    size, head, tail = _check_file(path)
    found = _sniff(head, tail)
    fmt, gzipped = format_for(path, override, content=found)
    _check_content(path, fmt, gzipped, found, head, encoding)
    csv_file = CsvFile(path, gzipped, encoding, max_row_bytes)
    schema, total_rows = _csv_header(csv_file) if fmt == "csv" else _parquet_header(path)
    keys = _check_columns(path, schema, tuple(key_columns))
    return InputSpec(path=path, format=fmt, gzipped=gzipped, encoding=encoding, schema=schema,
                     key_columns=keys, total_rows=total_rows, total_bytes=size, max_row_bytes=max_row_bytes)


def read_batches(spec: InputSpec, bad_rows: BadRows | None = None,
                 on_bytes: Callable[[int], None] | None = None) -> Iterator[pa.RecordBatch]:
    """Every row of the input, in order, in batches of at most ``BATCH_ROWS`` rows.

    For CSV, whose row count is unknown until read, ``on_bytes`` hears how many bytes are read.
    """
    if spec.format == "parquet":
        yield from _parquet_batches(spec)
    elif spec.total_rows != 0:
        source = CsvFile(spec.path, spec.gzipped, spec.encoding, spec.max_row_bytes)
        yield from read_rows(source, spec.schema, bad_rows or BadRows(skip=False), on_bytes)


def _check_file(path: Path) -> tuple[int, bytes, bytes]:
    """The file's size, first 8 and last 4 bytes, read with a real open: root passes ``os.access``."""
    try:
        info = path.stat()
    except FileNotFoundError:
        problem = "is a symbolic link to a missing file" if path.is_symlink() else "no such file"
        raise InputError(path, f"{problem}; check the path") from None
    except NotADirectoryError:
        raise InputError(path, "a folder on the path is a file; check the path") from None
    except OSError as exc:
        raise InputError(path, f"cannot open the file ({exc.strerror or exc}); check the path") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(path, "is a folder, not a file; name the key file inside it")
    if not stat.S_ISREG(info.st_mode):
        # A pipe or device can be read once at most, and the input is read twice (keys, then output).
        raise InputError(path, "is not a regular file (a pipe, socket or device); save the keys to a file")
    if info.st_size == 0:
        raise InputError(path, "empty file (0 bytes): expected at least a header row naming the columns")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            handle.seek(max(0, info.st_size - 4))
            return info.st_size, head, handle.read(4)
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror or exc}); check its permissions") from None


def _sniff(head: bytes, tail: bytes) -> str:
    """What the content is, by its first and last bytes."""
    if head.startswith(b"PAR1") and tail == b"PAR1":
        return "Parquet"
    if found := next((name for magic, name in _MAGIC if head.startswith(magic)), None):
        return found
    if head.startswith(_UTF16_BOMS):
        return "UTF-16 text"
    return "binary data" if b"\x00" in head else "text"


def _check_content(path: Path, fmt: FileFormat, gzipped: bool, found: str, head: bytes, encoding: str) -> None:
    if fmt == "parquet":
        # A Parquet file with a damaged end still starts with PAR1: pyarrow describes the damage better.
        ok = found == "Parquet" or head.startswith(b"PAR1")
    elif gzipped:
        ok = found == "gzip-compressed data"
    elif _is_utf16(encoding):
        ok = found in ("text", "UTF-16 text", "binary data")  # UTF-16 without a BOM has zero bytes
    elif found == "UTF-16 text":
        raise InputError(path, "the content is UTF-16 text; pass --input-encoding utf-16")
    else:
        ok = found == "text"
    if not ok:
        named = {"parquet": "Parquet", "csv": "gzipped CSV" if gzipped else "CSV text"}[fmt]
        hint = {"Parquet": " parquet", "text": " csv"}.get(found, "")
        raise InputError(path, f"the content is {found}, but the file is read as {named}; "
                               f"give it the right extension or pass --input-format{hint}")


def _is_utf16(encoding: str) -> bool:
    return text_codec(encoding).name.startswith(("utf-16", "utf-32"))


def _check_columns(path: Path, schema: pa.Schema, wanted: tuple[str, ...]) -> tuple[str, ...]:
    names = schema.names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(path, f"duplicate column names in the header: {', '.join(map(repr, duplicates))}; "
                               "rename them so that each is unique")
    for column in wanted:
        if column not in names:
            raise InputColumnMissing(path, column, names)
    if not wanted and len(names) > 1:  # which columns identify a record is the user's to say, never guessed
        raise KeyColumnsRequired(str(path), names)
    keys = wanted or tuple(names)
    for column in keys:
        if not is_key_type(schema.field(column).type):
            only = "" if wanted else " (the input's only column, the key without --key)"
            raise InputError(path, f"key column {column!r} holds {schema.field(column).type} values{only}; "
                                   "a key must be text or integers: store it as text, or choose other --key columns")
    return keys


def _parquet_header(path: Path) -> tuple[pa.Schema, int]:
    try:
        meta = pq.ParquetFile(path)
        return meta.schema_arrow, meta.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"not a readable Parquet file ({first_line(exc)}); check that it was "
                               "copied whole") from exc


def _parquet_batches(spec: InputSpec) -> Iterator[pa.RecordBatch]:
    try:
        # pre_buffer=False: pyarrow's default reads a whole row group ahead, through Arrow's own default
        # allocator (mimalloc), whatever pool the process chose; a 1M-row row group then costs about
        # 15 MB more peak RSS than reading it column page by page (docs/BENCHMARKS.md, memory).
        parquet = pq.ParquetFile(spec.path, pre_buffer=False)
        yield from parquet.iter_batches(batch_size=BATCH_ROWS)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(spec.path, f"the Parquet file is damaged ({first_line(exc)}); write it again") from exc


def _csv_header(source: CsvFile) -> tuple[pa.Schema, int | None]:
    names, total_rows = read_header(source)
    return pa.schema([pa.field(name, pa.string()) for name in names]), total_rows
