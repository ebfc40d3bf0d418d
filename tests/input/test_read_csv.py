"""A CSV row longer than --max-row-bytes: a one-line error naming the line it starts on; a raised limit reads it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from reconciler.errors import BadInputRow
from reconciler.input.read import open_input, read_batches
from reconciler.input.read_csv import CsvFile, byte_size, first_long_row

MIB = 1 << 20


def rows_in(path: Path, max_row_bytes: int = MIB) -> int:
    spec = open_input(path, override=None, encoding="utf-8", key_columns=("id",), max_row_bytes=max_row_bytes)
    return sum(batch.num_rows for batch in read_batches(spec))


def refusal(path: Path, max_row_bytes: int = MIB) -> BadInputRow:
    with pytest.raises(BadInputRow) as raised:
        rows_in(path, max_row_bytes)
    assert "\n" not in str(raised.value)
    return raised.value


def long_value(size: int, *, quoted_lines: bool = False) -> str:
    if quoted_lines:  # a quoted value over many lines: only a reader that follows quotes sees one row
        return '"' + "line of a note\n" * (size // 15 + 1) + '"'
    return "x" * size


# pyarrow reads in blocks of the limit: a row up to it always fits, one over twice the limit never
# does, and one in between fits or not by where it starts. The cases are of rows that never fit.
@pytest.mark.parametrize(("before", "quoted_lines"), [
    (0, False),  # the first row after the header: pyarrow fails as it opens the file
    (10, True),  # inside the first block
    (100_000, False),  # far down, past several blocks
    (100_000, True),
])
def test_a_row_over_the_limit_is_named_by_the_line_it_starts_on(tmp_path: Path, before: int,
                                                                quoted_lines: bool) -> None:
    path = tmp_path / "keys.csv"
    rows = "".join(f"{n},a note\n" for n in range(before))
    path.write_text(f"id,note\n{rows}big,{long_value(2 * MIB + 10, quoted_lines=quoted_lines)}\nlast,x\n")
    error = refusal(path)
    assert error.line == before + 2
    assert str(error) == (f"{path}: line {before + 2}: a row is longer than 1 MiB (--max-row-bytes); "
                          "check the quoting, or raise --max-row-bytes")
    assert rows_in(path, max_row_bytes=3 * MIB) == before + 2  # raised past the row: every row read


@pytest.mark.parametrize("before", [0, 10, 5_000, 100_000])
def test_a_row_as_long_as_the_limit_is_always_read(tmp_path: Path, before: int) -> None:
    path = tmp_path / "keys.csv"
    rows = "".join(f"{n},a note\n" for n in range(before))
    path.write_text(f"id,note\n{rows}big,{'x' * (MIB - len('big,') - 1)}\nlast,x\n")  # its line end included
    assert rows_in(path) == before + 2


def test_a_header_over_the_limit_is_line_1(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv"
    path.write_text(f"id,{'h' * (2 * MIB)}\n1,a\n")
    with pytest.raises(BadInputRow, match=r": line 1: a row is longer than 1 MiB") as raised:
        open_input(path, override=None, encoding="utf-8", key_columns=("id",))
    assert raised.value.line == 1


def test_a_gzipped_file_counts_its_uncompressed_rows(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("id,note\n" + "".join(f"{n},x\n" for n in range(50)) + f"big,{'y' * (3 * MIB)}\n")
    assert refusal(path).line == 52


def test_an_unclosed_quote_is_found_where_its_row_starts(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv"
    path.write_text('id,note\n1,a\n2,"never closed\n' + "3,x\n" * 600_000)
    error = refusal(path)
    assert error.line == 3 and "check the quoting" in str(error)


@pytest.mark.parametrize(("text", "line"), [
    ('id,n\n1,"a ""quoted"" word\n' + "z" * 40 + '"\n2,b\n', 2),  # "" inside quotes keeps the field open
    ('id,n\n1,ab"c\n' + "z" * 40 + "\n", 3),  # a quote inside an unquoted field opens nothing
    ('id,n\n1,a\n2,"x\r\n' + "z" * 40 + '"\r\n', 3),
    ("id,n\n1,a\n2,b\n", None),
])
def test_rows_are_told_apart_by_their_quoting(tmp_path: Path, text: str, line: int | None) -> None:
    path = tmp_path / "keys.csv"
    path.write_bytes(text.encode())
    assert first_long_row(CsvFile(path, gzipped=False, encoding="utf-8", max_row_bytes=30)) == line


def test_the_limit_counts_utf8_bytes_not_characters(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv"
    path.write_text("id,n\n1," + "€" * 12 + "\n", encoding="utf-8")  # 12 characters, 36 bytes
    assert first_long_row(CsvFile(path, gzipped=False, encoding="utf-8", max_row_bytes=30)) == 2
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"id,n\n1," + "é".encode("latin-1") * 20 + b"\n")  # 20 bytes, 40 in UTF-8
    assert first_long_row(CsvFile(latin, gzipped=False, encoding="latin-1", max_row_bytes=30)) == 2


@pytest.mark.parametrize(("count", "shown"), [
    (MIB, "1 MiB"), (16 * MIB, "16 MiB"), (1 << 30, "1 GiB"), (512 * 1024, "512 KiB"), (MIB + 1, "1,048,577 bytes")])
def test_sizes_are_shown_as_a_person_writes_them(count: int, shown: str) -> None:
    assert byte_size(count) == shown
