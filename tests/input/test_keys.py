"""Keys are sent as the exact strings in the file; unusable keys are never sent."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fakes import FakeSource
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config import Credentials, ReconcileConfig, Target
from reconciler.input.keys import as_key_strings, is_key_type, key_fields, key_texts, oversized_keys
from reconciler.wiring.pipeline import run

TARGET = Target(base_url="http://127.0.0.1:9", tenant="t.example.com", list_name="List_1.txt", campaign="C")
CREDENTIALS = Credentials(login="user", secret="s3cret")


def reconcile(input_path: Path, output_path: Path, keys: tuple[str, ...]) -> FakeSource:
    """Run the pipeline against a fake source that knows no record; return what it was asked."""
    source = FakeSource(records={}, key_columns=keys)
    config = ReconcileConfig(input_path=input_path, output_path=output_path, target=TARGET,
                             credentials=CREDENTIALS, key_columns=keys, fresh=True)
    run(config, source_factory=source.factory())
    return source


def csv_output(path: Path) -> pa.Table:
    names = pacsv.open_csv(path).schema.names
    return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                          convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                               strings_can_be_null=False))


# Units -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("type_", "ok"), [
    (pa.string(), True), (pa.large_string(), True), (pa.string_view(), True), (pa.int8(), True),
    (pa.uint64(), True), (pa.dictionary(pa.int32(), pa.string()), True),
    (pa.dictionary(pa.int8(), pa.int64()), True), (pa.float64(), False), (pa.binary(), False),
    (pa.bool_(), False), (pa.date32(), False), (pa.decimal128(10, 2), False), (pa.list_(pa.string()), False),
    (pa.dictionary(pa.int32(), pa.float32()), False),
])
def test_key_types(type_: pa.DataType, ok: bool) -> None:
    assert is_key_type(type_) is ok


@pytest.mark.parametrize(("array", "texts"), [
    (pa.array([123, -7, None], pa.int64()), ["123", "-7", None]),
    (pa.array([2**64 - 1], pa.uint64()), ["18446744073709551615"]),
    (pa.array(["007", "007", "x"]).dictionary_encode(), ["007", "007", "x"]),
    (pa.array(["007"], pa.large_string()), ["007"]),
    (pa.array(["007"], pa.string_view()), ["007"]),
    (pa.chunked_array([["1"], ["2"]]), ["1", "2"]),
])
def test_key_strings_are_exact(array: pa.Array, texts: list[str | None]) -> None:
    strings = as_key_strings(array)
    assert strings.type == pa.string()
    assert strings.to_pylist() == texts


def test_blank_and_null_keys_have_no_text() -> None:
    batch = pa.record_batch({"id": pa.array(["1", "", "  ", "\t\u3000", None, " 2 "])})
    assert key_texts(batch, ["id"]).to_pylist() == ["1", None, None, None, None, " 2 "]


def test_a_blank_part_makes_a_composite_key_unusable() -> None:
    batch = pa.record_batch({"a": ["1", "1", "1"], "b": ["x", " ", "y"]})
    assert key_texts(batch, ["a", "b"]).to_pylist() == ["1\x1fx", None, "1\x1fy"]


def test_a_key_value_over_4_kib_of_utf8_has_no_text() -> None:
    values = ["1", "x" * 4096, "x" * 4097, "€" * 1365, "€" * 1366, None]  # € is 3 bytes: 4,095 and 4,098
    batch = pa.record_batch({"id": pa.array(values)})
    assert key_texts(batch, ["id"]).to_pylist() == ["1", "x" * 4096, None, "€" * 1365, None, None]
    assert oversized_keys(batch, ["id"]).to_pylist() == [False, False, True, False, True, False]


def test_one_oversized_part_makes_a_composite_key_unusable_each_part_counted_alone() -> None:
    batch = pa.record_batch({"a": ["1", "1", "x" * 4000], "b": ["y" * 4097, "y" * 4096, "y" * 4000]})
    assert key_texts(batch, ["a", "b"]).to_pylist() == [None, "1\x1f" + "y" * 4096, "x" * 4000 + "\x1f" + "y" * 4000]
    assert oversized_keys(batch, ["a", "b"]).to_pylist() == [True, False, False]


def test_an_oversized_key_says_why_in_its_row(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": ["1", "k" * 5000, " "], "n": ["a", "b", "c"]}), tmp_path / "keys.parquet")
    source = reconcile(tmp_path / "keys.parquet", tmp_path / "out.parquet", ("id",))
    assert sorted(source.asked) == [("1",)]
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("recon_status").to_pylist() == ["not_found", "invalid_input", "invalid_input"]
    assert table.column("recon_error").to_pylist()[1:] == [
        "a key value is longer than 4,096 bytes of UTF-8; not sent", "a key value is empty or blank; not sent"]


@given(pairs=st.lists(st.tuples(st.text(alphabet="ab\\u\x1f "), st.text(alphabet="ab\\u\x1f ")), max_size=8))
def test_composite_keys_survive_the_separator(pairs: list[tuple[str, str]]) -> None:
    usable = [pair for pair in pairs if pair[0].strip() and pair[1].strip()]
    batch = pa.record_batch({"a": pa.array([a for a, _ in usable], pa.string()),
                             "b": pa.array([b for _, b in usable], pa.string())})
    texts = key_texts(batch, ["a", "b"]).to_pylist()
    assert [tuple(key_fields(text, ["a", "b"]).values()) for text in texts] == usable
    assert len(set(texts)) == len(set(usable))  # distinct keys never share a text


# Through the pipeline: what the source is asked ------------------------------------------------------

LITERAL_KEYS = ["000123", "+4412345678", "1" * 30, "1e5", "NaN", "true", "null", "NA", "-0", " 42 "]


def test_csv_keys_are_sent_as_the_exact_strings(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("id,n\n" + "".join(f"{k},{i}\n" for i, k in enumerate(LITERAL_KEYS)))
    source = reconcile(tmp_path / "keys.csv", tmp_path / "out.parquet", ("id",))
    assert sorted(source.asked) == sorted((k,) for k in LITERAL_KEYS)
    assert pq.read_table(tmp_path / "out.parquet").column("id").to_pylist() == LITERAL_KEYS


def test_blank_keys_are_invalid_input_and_never_sent(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text('id,n\n1,a\n,b\n"  ",c\n"\t",d\n2,e\n')
    source = reconcile(tmp_path / "keys.csv", tmp_path / "out.parquet", ("id",))
    assert sorted(source.asked) == [("1",), ("2",)]
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("recon_status").to_pylist() == [
        "not_found", "invalid_input", "invalid_input", "invalid_input", "not_found"]
    assert table.column("id").to_pylist() == ["1", "", "  ", "\t", "2"]


def test_parquet_null_and_typed_keys(tmp_path: Path) -> None:
    table = pa.table({
        "id": pa.array([123, None, 7], pa.int64()),
        "code": pa.array(["007", "x", None]).dictionary_encode(),
        "name": pa.array(["ä", "b", "c"], pa.large_string()),
        "score": pa.array([0.5, 1.5, 2.5]),
        "seen": pa.array([True, False, None]),
    })
    pq.write_table(table, tmp_path / "keys.parquet")
    source = reconcile(tmp_path / "keys.parquet", tmp_path / "out.parquet", ("id", "code", "name"))
    assert list(source.asked) == [("123", "007", "ä")]
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column("recon_status").to_pylist() == ["not_found", "invalid_input", "invalid_input"]
    for name in table.column_names:  # passthrough columns keep their Parquet types and values
        assert out.schema.field(name).type == table.schema.field(name).type
        assert out.column(name).to_pylist() == table.column(name).to_pylist()


def test_parquet_keys_to_csv_output(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": pa.array([1, 20], pa.int16()), "v": [0.25, None]}), tmp_path / "keys.parquet")
    source = reconcile(tmp_path / "keys.parquet", tmp_path / "out.csv", ("id",))
    assert sorted(source.asked) == [("1",), ("20",)]
    out = csv_output(tmp_path / "out.csv")
    assert out.column("id").to_pylist() == ["1", "20"]
    assert out.column("v").to_pylist() == ["0.25", ""]


# Any text survives the trip: CSV in, CSV and Parquet out ---------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", " ", " 0 ", "a,b", 'q"r', '"', "x\ny", "\r", "\r\n", "\ufeff", "\ufeffid", "NA", "null", "\t"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=6), bom=st.booleans())
def test_any_text_round_trips(rows: list[tuple[str, str]], bom: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        buffer = io.StringIO(newline="")
        csv.writer(buffer, quoting=csv.QUOTE_ALL).writerows([("key", "note"), *rows])
        (base / "keys.csv").write_text(buffer.getvalue(), encoding="utf-8-sig" if bom else "utf-8", newline="")
        keys = [key for key, _ in rows]
        usable = {(key,) for key in keys if key.strip()}
        for output in (base / "out.csv", base / "out.parquet"):
            source = reconcile(base / "keys.csv", output, ("key",))
            assert set(source.asked) == usable
            table = csv_output(output) if output.suffix == ".csv" else pq.read_table(output)
            assert table.column("key").to_pylist() == keys
            assert table.column("note").to_pylist() == [note for _, note in rows]
            assert table.column("recon_status").to_pylist() == [
                "not_found" if key.strip() else "invalid_input" for key in keys]
