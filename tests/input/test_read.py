"""Hostile input files: each fails before any request with a message naming the file and the fix,
or is read exactly."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fakes import FakeSource
from privileges import unprivileged

from reconciler.config import Credentials, ReconcileConfig, Target
from reconciler.errors import BadInputRow, InputColumnMissing, InputError, InvalidOption, KeyColumnsRequired
from reconciler.input.read import BadRows, InputSpec, open_input, read_batches
from reconciler.wiring.pipeline import prepare, run

TARGET = Target(base_url="http://127.0.0.1:9", tenant="t.example.com", list_name="List_1.txt", campaign="C")
CREDENTIALS = Credentials(login="user", secret="s3cret")


def spec_for(path: Path, *keys: str, encoding: str = "utf-8", override: str | None = None) -> InputSpec:
    return open_input(path, override=override, encoding=encoding, key_columns=keys)  # type: ignore[arg-type]


def rows_of(spec: InputSpec, bad_rows: BadRows | None = None) -> list[dict[str, object]]:
    return [row for batch in read_batches(spec, bad_rows) for row in batch.to_pylist()]


def problem(path: Path, *keys: str, **options: str) -> str:
    """The message of the InputError that opening ``path`` raises; it must start with the path."""
    with pytest.raises(InputError) as caught:
        spec_for(path, *keys, **options)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message




@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder anyone may enter (pytest's tmp_path is closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="reconciler-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


# The file itself -------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file; check the path" in problem(tmp_path / "nope.csv")


def test_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "keys.csv"
    link.symlink_to(tmp_path / "gone.csv")
    assert "symbolic link to a missing file" in problem(link)


def test_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.csv").write_text("id\n1\n")
    assert "a folder on the path is a file" in problem(tmp_path / "file.csv" / "keys.csv")


def test_folder(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").mkdir()
    assert "is a folder, not a file" in problem(tmp_path / "keys.csv")


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "keys.csv"
    os.mkfifo(fifo)
    assert "not a regular file" in problem(fifo)


def test_unreadable_file(shared_dir: Path) -> None:
    path = shared_dir / "keys.csv"
    path.write_text("id\n1\n")
    path.chmod(0o000)
    with unprivileged():
        message = problem(path, "id")
    assert "cannot read the file (Permission denied); check its permissions" in message


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_bytes(b"")
    assert "empty file (0 bytes)" in problem(tmp_path / "keys.csv")


def test_blank_lines_only(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_bytes(b"\r\n\n\n")
    assert "no header row" in problem(tmp_path / "keys.csv")


# Name and content ------------------------------------------------------------------------------------


def test_unknown_extension_names_it_and_the_content(tmp_path: Path) -> None:
    path = tmp_path / "keys.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("sheet.xml", "<x/>")
    message = problem(path)
    assert "unknown file extension '.xlsx' and the content is a zip archive" in message
    assert "--input-format" in message


def test_no_extension(tmp_path: Path) -> None:
    (tmp_path / "keys").write_text("id\n1\n")
    assert "no file extension and the content is text" in problem(tmp_path / "keys")


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.mark.parametrize(("name", "content", "found"), [
    ("keys.csv", parquet_bytes(pa.table({"id": ["1"]})), "the content is Parquet, but the file is read as CSV text"),
    ("keys.csv", b"PK\x03\x04rest-of-a-zip", "the content is a zip archive (an Excel workbook?)"),
    ("keys.csv", gzip.compress(b"id\n1\n", mtime=0),
     "the content is gzip-compressed data, but the file is read as CSV"),
    ("keys.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "the content is an Excel 97-2003 workbook"),
    ("keys.csv.gz", b"id\n1\n", "the content is text, but the file is read as gzipped CSV"),
    ("keys.parquet", b"id\n1\n", "the content is text, but the file is read as Parquet"),
    ("keys.csv", "id\n1\n".encode("utf-16"), "the content is UTF-16 text; pass --input-encoding utf-16"),
])
def test_content_not_matching_the_name(tmp_path: Path, name: str, content: bytes, found: str) -> None:
    (tmp_path / name).write_bytes(content)
    assert found in problem(tmp_path / name)


def test_parquet_named_csv_suggests_the_format(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_bytes(parquet_bytes(pa.table({"id": ["1"]})))
    assert problem(tmp_path / "keys.csv").endswith("--input-format parquet")
    spec = spec_for(tmp_path / "keys.csv", override="parquet")
    assert rows_of(spec) == [{"id": "1"}]


def test_truncated_parquet(tmp_path: Path) -> None:
    (tmp_path / "keys.parquet").write_bytes(parquet_bytes(pa.table({"id": ["1"]}))[:-10])
    assert "not a readable Parquet file" in problem(tmp_path / "keys.parquet")


def test_csv_header_that_starts_like_parquet(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("PAR1,PAR2\n1,2\n")
    assert rows_of(spec_for(tmp_path / "keys.csv", "PAR1")) == [{"PAR1": "1", "PAR2": "2"}]


def test_utf16_with_its_encoding(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_bytes("id,name\n1,Zoë\n".encode("utf-16"))
    assert rows_of(spec_for(tmp_path / "keys.csv", "id", encoding="utf-16")) == [{"id": "1", "name": "Zoë"}]


# Columns ---------------------------------------------------------------------------------------------


def test_key_column_missing_lists_the_columns(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("account,phone\n1,2\n")
    with pytest.raises(InputColumnMissing) as caught:
        spec_for(tmp_path / "keys.csv", "id")
    assert str(caught.value) == (f"{tmp_path / 'keys.csv'}: key column 'id' is not in the file; "
                                 "columns present: account, phone")


def test_duplicate_column_names(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("id,name,id,x,name\n1,2,3,4,5\n")
    assert "duplicate column names in the header: 'id', 'name'" in problem(tmp_path / "keys.csv")


@pytest.mark.parametrize(("array", "named"), [(pa.array([1.5]), "double"), (pa.array([b"\x00"]), "binary"),
                                              (pa.array([[1]]), "list<element: int64>"), (pa.array([True]), "bool")])
def test_parquet_key_without_an_exact_text_form(tmp_path: Path, array: pa.Array, named: str) -> None:
    pq.write_table(pa.table({"id": array}), tmp_path / "keys.parquet")
    message = problem(tmp_path / "keys.parquet", "id")
    assert f"key column 'id' holds {named} values; a key must be text or integers" in message


def test_an_input_of_several_columns_must_name_its_key_columns(tmp_path: Path) -> None:
    # The old default (every column a key) made a row with an empty non-key cell invalid_input.
    (tmp_path / "crm.csv").write_text("account_id,First name,Phone,crm_owner\n1,Anna,,Bob\n")
    with pytest.raises(KeyColumnsRequired) as caught:
        spec_for(tmp_path / "crm.csv")
    assert str(caught.value) == (f"the input {tmp_path / 'crm.csv'} has 4 columns (account_id, First name, Phone, "
                                 "crm_owner): name the list's key field(s) with key_columns")
    assert caught.value.exit_code == 2


def test_the_only_column_of_an_input_is_its_key_without_key_flag(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n1\n")
    assert spec_for(tmp_path / "keys.csv").key_columns == ("account_id",)
    pq.write_table(pa.table({"score": [0.5]}), tmp_path / "keys.parquet")
    assert "key column 'score' holds double values (the input's only column, the key without --key)" in problem(
        tmp_path / "keys.parquet")


def test_parquet_keeps_its_types(tmp_path: Path) -> None:
    table = pa.table({"id": pa.array([7], pa.int32()), "code": pa.array(["a"]).dictionary_encode(),
                      "name": pa.array(["x"], pa.large_string()), "score": [0.5]})
    pq.write_table(table, tmp_path / "keys.parquet")
    spec = spec_for(tmp_path / "keys.parquet", "id", "code", "name")
    assert spec.schema.field("id").type == pa.int32()
    assert pa.types.is_dictionary(spec.schema.field("code").type)
    assert spec.total_rows == 1


# Encodings -------------------------------------------------------------------------------------------


def test_latin1_data_names_the_byte_offset(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_bytes(b"id,name\n1,caf\xe9\n")
    spec = spec_for(tmp_path / "keys.csv", "id")
    with pytest.raises(InputError) as caught:
        rows_of(spec)
    assert str(caught.value) == (f"{tmp_path / 'keys.csv'}: not valid utf-8 text at byte offset 13; "
                                 "pass --input-encoding (e.g. latin-1 or cp1252)")


def test_latin1_header_names_the_byte_offset(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_bytes(b"id,n\xe9\n1,2\n")
    assert "not valid utf-8 text at byte offset 4;" in problem(tmp_path / "keys.csv")


def test_bad_byte_far_into_the_file(tmp_path: Path) -> None:
    body = b"".join(b"%d,x\n" % i for i in range(300_000))  # several read blocks
    (tmp_path / "keys.csv").write_bytes(b"id,name\n" + body + b"1,\xff\n")
    with pytest.raises(InputError, match=f"at byte offset {8 + len(body) + 2};"):
        rows_of(spec_for(tmp_path / "keys.csv", "id"))


def test_sequence_cut_off_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_bytes(b"id,name\n1,\xe2\x82")
    with pytest.raises(InputError, match="at byte offset 10;"):
        rows_of(spec_for(tmp_path / "keys.csv", "id"))


def test_gzipped_offset_is_in_the_uncompressed_text(tmp_path: Path) -> None:
    (tmp_path / "keys.csv.gz").write_bytes(gzip.compress(b"id,name\n1,caf\xe9\n"))
    with pytest.raises(InputError, match="at byte offset 13 of the uncompressed text"):
        rows_of(spec_for(tmp_path / "keys.csv.gz", "id"))


def test_latin1_read_with_its_encoding(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_bytes(b"id,name\n1,caf\xe9\n")
    spec = spec_for(tmp_path / "keys.csv", "id", encoding="latin-1")
    assert rows_of(spec) == [{"id": "1", "name": "café"}]


def test_unknown_encoding(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("id\n1\n")
    with pytest.raises(InvalidOption, match="--input-encoding: 'klingon' is not valid; expected a text encoding"):
        spec_for(tmp_path / "keys.csv", encoding="klingon")


# Values ----------------------------------------------------------------------------------------------


def test_bom_crlf_and_quoting_read_exactly(tmp_path: Path) -> None:
    content = ('\ufeffid,note\r\n"007","a, b"\r\n008,"say ""hi"""\r\n"009","two\r\nlines"\r\n'
               '010,"lf\nonly"\r\n011, padded \r\n')
    (tmp_path / "keys.csv").write_bytes(content.encode())
    spec = spec_for(tmp_path / "keys.csv", "id")
    assert spec.schema.names == ["id", "note"]
    assert rows_of(spec) == [
        {"id": "007", "note": "a, b"}, {"id": "008", "note": 'say "hi"'}, {"id": "009", "note": "two\r\nlines"},
        {"id": "010", "note": "lf\nonly"}, {"id": "011", "note": " padded "},
    ]


def test_values_are_never_guessed(tmp_path: Path) -> None:
    values = ["000123", "+4412345", "1" * 30, "1e5", "NaN", "true", "null", "NA", "", "N/A", "-0", "0x1F"]
    (tmp_path / "keys.csv").write_text("id\n" + "\n".join(f'"{v}"' if v == "" else v for v in values) + "\n")
    assert [row["id"] for row in rows_of(spec_for(tmp_path / "keys.csv"))] == values


def test_header_only(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("id,name\n")
    spec = spec_for(tmp_path / "keys.csv", "id")
    assert spec.schema.names == ["id", "name"]
    assert rows_of(spec) == []


def test_header_only_without_a_line_end(tmp_path: Path) -> None:
    # pyarrow alone refuses this file ("Empty CSV file or block").
    (tmp_path / "keys.csv").write_bytes(b"\xef\xbb\xbfid,name")
    spec = spec_for(tmp_path / "keys.csv", "id")
    assert spec.schema.names == ["id", "name"]
    assert rows_of(spec) == []


def test_many_rows_come_in_bounded_batches(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(200_000)))
    batches = list(read_batches(spec_for(tmp_path / "keys.csv")))
    assert sum(b.num_rows for b in batches) == 200_000
    assert max(b.num_rows for b in batches) <= 65_536


@pytest.mark.parametrize("content", [
    'id,name\n1,"never closed\n' + "2,x\n" * 400_000,  # beyond one read block
    'id,name\n1,"never closed\n2,x\n\n\n',
    'id,name\n0,a\n1,"never closed\r\n2,x',
])
def test_unclosed_quote(tmp_path: Path, content: str) -> None:
    # pyarrow alone reads the rest of the file as one value, without a word.
    (tmp_path / "keys.csv").write_text(content)
    with pytest.raises(BadInputRow, match=r"line \d: a quoted field is never closed \(an unmatched \"\)") as caught:
        rows_of(spec_for(tmp_path / "keys.csv", "id"))
    assert caught.value.line == content.splitlines().index('1,"never closed') + 1


def test_unclosed_quote_after_skipped_rows(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text('id,name\n1,2,3\n\n2,"open\n3,x\n')
    with pytest.raises(BadInputRow, match="line 4: a quoted field is never closed"):
        rows_of(spec_for(tmp_path / "keys.csv", "id"), BadRows(skip=True))


@pytest.mark.parametrize("content", ['id,name\n1,"two\nlines"\n\n', 'id,name\n1,"two\nlines"', 'id,name\n1,"a\nb"  \n'])
def test_closed_quote_at_the_end(tmp_path: Path, content: str) -> None:
    (tmp_path / "keys.csv").write_text(content)
    assert rows_of(spec_for(tmp_path / "keys.csv", "id"))[0]["id"] == "1"


# Ragged rows -----------------------------------------------------------------------------------------

# A quoted value over two lines and a blank line put the bad rows on file lines 6 and 7, while pyarrow
# numbers them 4 and 5 (it counts parsed rows, the header being row 1, and skips blank lines).
RAGGED = 'id,name\n1,a\n\n2,"multi\nline"\n3,c,extra\n4\n5,e\n'


def test_pyarrow_numbers_rows_not_lines(tmp_path: Path) -> None:
    numbers: list[int] = []

    def handle(row: pacsv.InvalidRow) -> str:
        numbers.append(row.number)
        return "skip"

    pacsv.read_csv(io.BytesIO(RAGGED.encode()), read_options=pacsv.ReadOptions(use_threads=False),
                   parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handle))
    assert numbers == [4, 5]  # with use_threads=True pyarrow reports None


def test_ragged_row_names_the_file_line(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text(RAGGED)
    with pytest.raises(BadInputRow) as caught:
        rows_of(spec_for(tmp_path / "keys.csv", "id"))
    assert caught.value.line == 6
    assert str(caught.value) == (f"{tmp_path / 'keys.csv'}: line 6: 3 fields where the header has 2; fix the row, "
                                 "or pass --skip-bad-rows to skip such rows (they are counted in the summary)")


def test_short_row_names_the_file_line(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("id,name\r\n1,a\r\n2\r\n")
    with pytest.raises(BadInputRow, match="line 3: 1 fields where the header has 2"):
        rows_of(spec_for(tmp_path / "keys.csv", "id"))


def test_ragged_row_in_the_first_block_is_left_to_reading(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text(RAGGED)
    assert spec_for(tmp_path / "keys.csv", "id").schema.names == ["id", "name"]


def test_skipped_rows_are_counted_and_located(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text(RAGGED)
    bad_rows = BadRows(skip=True)
    rows = rows_of(spec_for(tmp_path / "keys.csv", "id"), bad_rows)
    assert [row["id"] for row in rows] == ["1", "2", "5"]
    assert (bad_rows.count, bad_rows.lines) == (2, [6, 7])


def test_skipped_rows_in_a_gzipped_file_far_down(tmp_path: Path) -> None:
    body = "".join(f"{i},x\n" for i in range(100_000))
    (tmp_path / "keys.csv.gz").write_bytes(gzip.compress(f"id,name\n{body}1,2,3\n".encode()))
    bad_rows = BadRows(skip=True)
    assert len(rows_of(spec_for(tmp_path / "keys.csv.gz", "id"), bad_rows)) == 100_000
    assert bad_rows.lines == [100_002]


# Through the library: every input check happens in prepare(), before a request could be sent --------


def config_for(tmp_path: Path, input_path: Path, **options: object) -> ReconcileConfig:
    return ReconcileConfig(input_path=input_path, output_path=tmp_path / "out.parquet", target=TARGET,
                           credentials=CREDENTIALS, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("content", "found"), [
    (b"", "empty file"),
    (b"account\n1\n", "key column 'id' is not in the file; columns present: account"),
    (b"id,id\n1,2\n", "duplicate column names"),
    (parquet_bytes(pa.table({"id": ["1"]})), "the content is Parquet"),
])
def test_prepare_raises_input_errors(tmp_path: Path, content: bytes, found: str) -> None:
    (tmp_path / "keys.csv").write_bytes(content)
    with pytest.raises(InputError, match=found):
        prepare(config_for(tmp_path, tmp_path / "keys.csv", key_columns=("id",)))


def test_ragged_row_stops_the_run_before_any_request(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text(RAGGED)
    source = FakeSource(records={}, key_columns=("id",))
    with pytest.raises(BadInputRow, match="line 6: 3 fields where the header has 2"):
        run(config_for(tmp_path, tmp_path / "keys.csv", key_columns=("id",)), source_factory=source.factory())
    assert not source.asked
    assert not (tmp_path / "out.parquet").exists()


def test_skipped_rows_reach_the_run_stats(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text(RAGGED)
    source = FakeSource(records={}, key_columns=("id",))
    config = config_for(tmp_path, tmp_path / "keys.csv", key_columns=("id",), skip_bad_rows=True)
    stats = run(config, source_factory=source.factory())
    assert (stats.bad_rows_skipped, stats.bad_row_lines) == (2, (6, 7))
    assert sorted(source.asked) == [("1",), ("2",), ("5",)]
    assert pq.read_table(tmp_path / "out.parquet").column("id").to_pylist() == ["1", "2", "5"]
