"""The CSV half of reading: every column as exact text, and every problem located in the file.

pyarrow parses; this module makes its failures precise. pyarrow numbers the rows it parsed (the
header is row 1; blank lines are not counted), which is not the file's line once a quoted value
spans lines, so a second, plain pass with ``csv`` finds the line where a row starts, only when a
message or the summary needs it. pyarrow reads an unclosed quote as one value running to the end of
the file, without complaint: that is caught here too.

pyarrow reads in blocks of ``max_row_bytes`` (1 MiB unless --max-row-bytes raises it): a row up to
that size always fits, a longer one may not, and then the line where the first such row starts is
found by a plain pass that follows the quoting.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pyarrow as pa
import pyarrow.csv as pacsv

from reconciler.errors import BadInputRow, InputError, InvalidOption

BATCH_ROWS = 65_536
MAX_BAD_ROW_LINES = 100  # skipped rows beyond these are counted, not located
MAX_ROW_BYTES = 1 << 20  # the default of --max-row-bytes: pyarrow's block size


@dataclass(frozen=True)
class CsvFile:
    """Where the text is and how to decode it."""

    path: Path
    gzipped: bool
    encoding: str
    max_row_bytes: int = MAX_ROW_BYTES  # the longest row sure to be read (UTF-8 bytes, its line end included)


@dataclass
class BadRows:
    """Ragged CSV rows met while reading: with ``skip`` they are skipped and counted, else an error."""

    skip: bool
    count: int = 0
    row_numbers: list[int] = field(default_factory=list)  # pyarrow's numbers of the first skipped rows
    locate: Callable[[Sequence[int]], dict[int, int]] | None = field(default=None, repr=False)

    @property
    def lines(self) -> list[int]:
        """File lines where the first ``MAX_BAD_ROW_LINES`` skipped rows start."""
        # Located lazily: it costs another pass over the file, wanted only for the run's summary.
        found = self.locate(self.row_numbers) if self.locate and self.row_numbers else {}
        return [found.get(number, number) for number in self.row_numbers]


def text_codec(encoding: str) -> codecs.CodecInfo:
    """The codec for ``--input-encoding``; rot13, base64 and the like are not text encodings."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise InvalidOption("--input-encoding", encoding, "a text encoding, e.g. utf-8, latin-1, cp1252 or utf-16")
    return info


def read_header(source: CsvFile) -> tuple[list[str], int | None]:
    """The column names, and 0 as the row count when the file is known to hold no rows."""
    # Ragged rows in the first block are left to read_rows, which names their lines.
    parse = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda row: "skip")
    try:
        # Closed before the stream: a reader left to the garbage collector may still read ahead on
        # Arrow's IO thread at exit, which aborts the process ("terminate called without an active exception").
        with _binary(source) as stream, pacsv.open_csv(stream, read_options=_read_options(source),
                                                       parse_options=parse) as reader:
            return reader.schema.names, None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        if _is_too_long(exc):
            raise _long_row(source) from exc
        if "Empty CSV file" not in str(exc):
            raise _read_error(source, exc) from exc
    # pyarrow cannot read a header that has no line end after it and no row below.
    return _lone_header(source), 0


def read_rows(source: CsvFile, schema: pa.Schema, bad_rows: BadRows,
              on_bytes: Callable[[int], None] | None = None) -> Iterator[pa.RecordBatch]:
    """Every row, as text, in batches of at most ``BATCH_ROWS``; ``on_bytes`` hears how far the file is read."""
    bad_rows.locate = lambda numbers: _row_lines(source, numbers)
    fatal: list[pacsv.InvalidRow] = []
    parse = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=_bad_row_handler(bad_rows, fatal))
    convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in schema.names},
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    rows, last = 0, None
    try:
        with (pa.OSFile(str(source.path)) as raw, _decompressed(raw, source) as stream,
              pacsv.open_csv(stream, read_options=_read_options(source), parse_options=parse,
                             convert_options=convert) as reader):
            for batch in reader:
                for part in _split(batch):
                    rows, last = rows + part.num_rows, part
                    yield part
                if on_bytes is not None:
                    on_bytes(raw.tell())  # of the file on disk, compressed or not, as its size is
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        if fatal:
            raise _ragged_row(source, fatal[0]) from None
        if _is_too_long(exc):
            raise _long_row(source) from exc
        raise _read_error(source, exc) from exc
    _check_last_quote(source, last, row_number=1 + rows + bad_rows.count)


def _lone_header(source: CsvFile) -> list[str]:
    try:
        with _text(source, errors="strict") as text:
            head = text.read(source.max_row_bytes + 1)
    except UnicodeDecodeError as exc:
        raise _read_error(source, exc) from exc
    # pyarrow saw no row in its first block: a header longer than that, unless the file holds no more.
    if len(head.encode("utf-8")) > source.max_row_bytes:
        raise _long_row(source)
    try:
        rows = [row for row in csv.reader(io.StringIO(head)) if row]
    except csv.Error as exc:  # a name beyond csv's field size limit (128 KiB)
        raise InputError(source.path, f"cannot read the header row ({exc})") from None
    if len(rows) > 1:
        raise _long_row(source)
    if not rows:
        raise InputError(source.path, "no header row: the file holds only blank lines")
    return [name.removeprefix("\ufeff") if i == 0 else name for i, name in enumerate(rows[0])]


def _bad_row_handler(bad_rows: BadRows, fatal: list[pacsv.InvalidRow]) -> Callable[[pacsv.InvalidRow], str]:
    def handle(row: pacsv.InvalidRow) -> str:
        if not bad_rows.skip:
            fatal.append(row)
            return "error"
        bad_rows.count += 1
        if len(bad_rows.row_numbers) < MAX_BAD_ROW_LINES:
            bad_rows.row_numbers.append(row.number)
        return "skip"

    return handle


def _ragged_row(source: CsvFile, row: pacsv.InvalidRow) -> BadInputRow:
    return _row_problem(source, row.number, f"{row.actual_columns} fields where the header has "
                                            f"{row.expected_columns}; fix the row, or pass --skip-bad-rows to "
                                            "skip such rows (they are counted in the summary)")


def _check_last_quote(source: CsvFile, last: pa.RecordBatch | None, row_number: int) -> None:
    # Only a quoted value holds a line break. An unclosed one runs to the end of the file, whose
    # last line then holds no quote; a closed one puts its closing quote on the last line.
    if last is None or not last.num_rows or not last.num_columns:
        return
    value = last.column(last.num_columns - 1)[-1].as_py()
    if "\n" not in value and "\r" not in value:
        return
    last_line = _tail(source).rstrip("\r\n").replace("\r", "\n").rpartition("\n")[2]
    if last_line and '"' not in last_line and value.rstrip("\r\n").endswith(last_line):
        raise _row_problem(source, row_number, "a quoted field is never closed (an unmatched \"), so the rest "
                                               "of the file would be read as one value; fix the quoting")


def _row_problem(source: CsvFile, number: int, problem: str) -> BadInputRow:
    line = _row_lines(source, [number]).get(number)
    where = "" if line is not None else f"row {number} (counting the header, not blank lines): "
    return BadInputRow(source.path, line, where + problem)


def _row_lines(source: CsvFile, numbers: Sequence[int]) -> dict[int, int]:
    """The file line where each of pyarrow's row numbers starts."""
    if not numbers:
        return {}
    wanted, last, found, row, line = set(numbers), max(numbers), {}, 0, 0
    try:
        with _text(source) as text:
            reader = csv.reader(text)
            for fields in reader:
                start, line = line + 1, reader.line_num
                row += bool(fields)  # pyarrow does not count blank lines as rows
                if fields and row in wanted:
                    found[row] = start
                if row >= last:
                    break
    except csv.Error:
        # A field beyond csv's size limit: the row it is in starts on the next line; later rows stay unknown.
        if row + 1 in wanted:
            found[row + 1] = line + 1
    return found


def _is_too_long(exc: BaseException) -> bool:
    return "straddling" in str(exc)  # pyarrow: a row did not fit in the block it started in and the next


def _long_row(source: CsvFile) -> BadInputRow:
    limit = byte_size(source.max_row_bytes)
    return BadInputRow(source.path, first_long_row(source), f"a row is longer than {limit} (--max-row-bytes); "
                                                            "check the quoting, or raise --max-row-bytes")


def first_long_row(source: CsvFile) -> int | None:
    """The line where the first row longer than ``max_row_bytes`` (in UTF-8) starts; None if there is none.

    Rows are told apart as a CSV reader does: a line break inside a quoted field does not end the row,
    and a quote opens a field only at the field's start (``""`` inside it is a quote).
    """
    start, size, quoted = 1, 0, False
    with _text(source) as text:
        for number, line in enumerate(text, 1):
            if not quoted:
                start, size = number, 0
            size += len(line.encode("utf-8"))
            if '"' in line or quoted:
                quoted = _still_quoted(line, quoted)
            if size > source.max_row_bytes:
                return start
    return None


def _still_quoted(line: str, quoted: bool) -> bool:
    """Whether a quoted field is still open at the end of ``line`` (``quoted``: open at its start)."""
    at_field_start, position = True, 0
    while position < len(line):
        char = line[position]
        if quoted:
            if char == '"' and line[position + 1:position + 2] == '"':
                position += 1  # an escaped quote
            elif char == '"':
                quoted, at_field_start = False, False
        elif char == '"' and at_field_start:
            quoted = True
        else:
            at_field_start = char == ","
        position += 1
    return quoted


def byte_size(count: int) -> str:
    """``count`` bytes as a person writes it: ``1 MiB``, ``512 KiB``, ``1,000,000 bytes``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count % size == 0:
            return f"{count // size:,} {unit}"
    return f"{count:,} bytes"


def _tail(source: CsvFile) -> str:
    with _binary(source) as stream:
        chunks: deque[bytes] = deque(maxlen=2)
        while chunk := stream.read(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks).decode(source.encoding, errors="replace")


def _decompressed(raw: pa.NativeFile, source: CsvFile) -> pa.NativeFile:
    return pa.CompressedInputStream(raw, "gzip") if source.gzipped else pa.input_stream(raw)


def _binary(source: CsvFile) -> pa.NativeFile:
    return pa.input_stream(str(source.path), compression="gzip" if source.gzipped else None)


def _text(source: CsvFile, errors: str = "replace") -> TextIO:
    if source.gzipped:
        return gzip.open(source.path, "rt", encoding=source.encoding, errors=errors, newline="")
    return source.path.open(encoding=source.encoding, errors=errors, newline="")


def _read_options(source: CsvFile) -> pacsv.ReadOptions:
    text_codec(source.encoding)
    # One thread: with several, pyarrow does not number the invalid rows it reports.
    return pacsv.ReadOptions(use_threads=False, block_size=source.max_row_bytes, encoding=source.encoding)


def _split(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, BATCH_ROWS):
        yield batch.slice(start, BATCH_ROWS)


def _read_error(source: CsvFile, exc: BaseException) -> InputError:
    message = first_line(exc)
    if "UTF8" in message.upper() or isinstance(exc, UnicodeDecodeError):
        offset = _first_undecodable_byte(source)
        where = f" at byte offset {offset}" if offset is not None else ""
        unzipped = " of the uncompressed text" if source.gzipped and offset is not None else ""
        return InputError(source.path, f"not valid {source.encoding} text{where}{unzipped}; "
                                       "pass --input-encoding (e.g. latin-1 or cp1252)")
    return InputError(source.path, f"cannot read as CSV ({message}); check that it is a CSV file")


def _first_undecodable_byte(source: CsvFile) -> int | None:
    decoder = codecs.getincrementaldecoder(source.encoding)()
    offset = 0
    with _binary(source) as stream:
        while True:
            chunk = stream.read(1 << 16)
            pending = len(decoder.getstate()[0])  # bytes held over from the previous chunk
            try:
                decoder.decode(chunk, final=not chunk)  # final: a sequence cut off by the end of the file
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            if not chunk:
                return None
            offset += len(chunk)


def first_line(exc: BaseException) -> str:
    """The first line of a foreign exception's message, for a one-line error."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
