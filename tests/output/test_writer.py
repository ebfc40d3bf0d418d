"""Where the table goes: refused before any request when it cannot be written or would replace the input;
written whole, with the full schema even when there are no rows."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fakes import FakeSource
from privileges import unprivileged

from reconciler.config import Credentials, ReconcileConfig, Target
from reconciler.errors import InputError
from reconciler.output.writer import TableWriter, check_output_location, check_output_schema, output_format_for
from reconciler.wiring.pipeline import prepare, run

TARGET = Target(base_url="http://127.0.0.1:9", tenant="t.example.com", list_name="List_1.txt", campaign="C")
CREDENTIALS = Credentials(login="user", secret="s3cret")
UTC_MS = pa.timestamp("ms", tz="UTC")
# Every output has these columns, in this order, after the input's, whatever the server said.
STATUS_AND_RECON = [
    ("completed", pa.bool_()), ("lastDisposition", pa.string()), ("lastDate", UTC_MS),
    ("lastPhone", pa.string()), ("lastCallDuration", pa.int64()), ("lastAgent", pa.string()),
    ("totalAttempts", pa.int64()), ("globalInteractionID", pa.string()), ("completedTime", UTC_MS),
    ("extraStatus", pa.string()), ("recon_status", pa.string()), ("recon_http_status", pa.int32()),
    ("recon_error", pa.string()), ("recon_attempts", pa.int32()), ("recon_checked_at", UTC_MS),
    ("recon_source", pa.string()),
    ("recon_differing_columns", pa.string()), ("recon_run_id", pa.string()), ("recon_run_date", pa.date32()),
]


def config_for(input_path: Path, output_path: Path, **options: object) -> ReconcileConfig:
    return ReconcileConfig(input_path=input_path, output_path=output_path, target=TARGET, credentials=CREDENTIALS,
                           key_columns=("id",), fresh=True, **options)  # type: ignore[arg-type]


def refusal(output: Path, input_path: Path) -> str:
    """The message of the InputError for writing to ``output``; it names the output path first."""
    with pytest.raises(InputError) as caught:
        check_output_location(output, input_path)
    assert str(caught.value).startswith(f"{output}: ")
    return str(caught.value)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    (tmp_path / "in.csv").write_text("id\n1\n")
    return tmp_path / "in.csv"




# Location --------------------------------------------------------------------------------------------


def test_missing_folder(tmp_path: Path, keys: Path) -> None:
    assert f"the output folder {tmp_path / 'nope'} does not exist" in refusal(tmp_path / "nope" / "out.csv", keys)


def test_folder_is_a_file(tmp_path: Path, keys: Path) -> None:
    (tmp_path / "out").write_text("")
    assert "is a file, not a folder" in refusal(tmp_path / "out" / "table.csv", keys)


def test_output_is_a_folder(tmp_path: Path, keys: Path) -> None:
    (tmp_path / "out.csv").mkdir()
    assert "the output path is a folder" in refusal(tmp_path / "out.csv", keys)


def test_output_is_a_fifo(tmp_path: Path, keys: Path) -> None:
    os.mkfifo(tmp_path / "out.csv")
    assert "not a regular file" in refusal(tmp_path / "out.csv", keys)


def test_folder_not_writable() -> None:
    folder = Path(tempfile.mkdtemp(prefix="reconciler-test-"))
    try:
        folder.chmod(0o755)
        (folder / "in.csv").write_text("id\n1\n")
        (folder / "locked").mkdir(mode=0o555)
        with unprivileged():
            message = refusal(folder / "locked" / "out.csv", folder / "in.csv")
        assert f"cannot write in the output folder {folder / 'locked'} (Permission denied)" in message
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink", "relative"])
def test_output_is_the_input(tmp_path: Path, keys: Path, spelling: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x").mkdir()
    output = {"same": keys, "dotted": tmp_path / "x" / ".." / "in.csv", "symlink": tmp_path / "link.csv",
              "hardlink": tmp_path / "hard.csv", "relative": Path("in.csv")}[spelling]
    if spelling == "symlink":
        output.symlink_to(keys)
    if spelling == "hardlink":
        output.hardlink_to(keys)
    monkeypatch.chdir(tmp_path)
    assert f"the output path is the input file {keys}" in refusal(output, keys)


def test_good_location(tmp_path: Path, keys: Path) -> None:
    check_output_location(tmp_path / "out.parquet", keys)
    (tmp_path / "old.csv").write_text("x\n")
    check_output_location(tmp_path / "old.csv", keys)  # an earlier table is replaced whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "old.csv"]  # no probe left behind


@pytest.mark.parametrize(("name", "found"), [("out.xlsx", "unknown output extension '.xlsx'"),
                                             ("out", "the output name has no extension")])
def test_unknown_output_format(tmp_path: Path, name: str, found: str) -> None:
    with pytest.raises(InputError, match=found):
        output_format_for(tmp_path / name, None)
    assert output_format_for(tmp_path / name, "csv") == ("csv", False)


def test_formats() -> None:
    assert output_format_for(Path("t.csv.gz"), None) == ("csv", True)
    assert output_format_for(Path("t.PARQUET"), None) == ("parquet", False)
    assert output_format_for(Path("t.gz"), "parquet") == ("parquet", False)


def test_prepare_refuses_before_any_request(tmp_path: Path, keys: Path) -> None:
    for output in (tmp_path / "nope" / "out.csv", tmp_path / "x" / ".." / "in.csv", tmp_path / "out.txt"):
        with pytest.raises(InputError):
            prepare(config_for(keys, output))


def test_nested_columns_cannot_go_to_csv(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.string()), ("tags", pa.list_(pa.string())), ("m", pa.struct([("a", pa.int8())]))])
    with pytest.raises(InputError, match="columns 'tags', 'm' hold nested values, which CSV cannot carry"):
        check_output_schema(tmp_path / "out.csv", schema, "csv")
    check_output_schema(tmp_path / "out.parquet", schema, "parquet")


# Header only: an output with the full schema and zero rows -------------------------------------------


@pytest.mark.parametrize("header", ["id,name\n", "id,name\r\n", "\ufeffid,name", "id,name\n\n\n"])
def test_header_only_gives_an_empty_table_with_the_full_schema(tmp_path: Path, header: str) -> None:
    (tmp_path / "in.csv").write_text(header, newline="")
    source = FakeSource(records={}, key_columns=("id",))
    stats = run(config_for(tmp_path / "in.csv", tmp_path / "out.parquet"), source_factory=source.factory())
    assert (stats.rows, stats.exit_code, stats.requests_sent) == (0, 0, 0)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 0
    assert [(f.name, f.type) for f in table.schema] == [("id", pa.string()), ("name", pa.string()),
                                                        *STATUS_AND_RECON]

    stats = run(config_for(tmp_path / "in.csv", tmp_path / "out.csv"), source_factory=source.factory())
    assert stats.exit_code == 0
    names = ["id", "name", *(name for name, _ in STATUS_AND_RECON)]
    assert (tmp_path / "out.csv").read_text() == ",".join(f'"{n}"' for n in names) + "\n"
    assert not list(source.asked)


def test_header_only_parquet_input(tmp_path: Path) -> None:
    empty = pa.table({"id": pa.array([], pa.int64()), "when": pa.array([], pa.date32())})
    pq.write_table(empty, tmp_path / "in.parquet")
    source = FakeSource(records={}, key_columns=("id",))
    run(config_for(tmp_path / "in.parquet", tmp_path / "out.parquet"), source_factory=source.factory())
    table = pq.read_table(tmp_path / "out.parquet")
    assert [(f.name, f.type) for f in table.schema] == [("id", pa.int64()), ("when", pa.date32()),
                                                        *STATUS_AND_RECON]


# The writer ------------------------------------------------------------------------------------------


def test_csv_times_are_iso_8601_and_string_views_are_text(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.string_view()), ("at", UTC_MS)])
    batch = pa.record_batch([pa.array(["1", None], pa.string_view()), pa.array([1613762541000, None], UTC_MS)],
                            schema=schema)
    with TableWriter(tmp_path / "out.csv", schema, "csv", gzipped=False) as writer:
        writer.write(batch)
    assert (tmp_path / "out.csv").read_text() == '"id","at"\n"1","2021-02-19T19:22:21.000Z"\n,\n'


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    (tmp_path / "out.parquet").write_text("the previous table")
    schema = pa.schema([("id", pa.string())])
    with pytest.raises(RuntimeError), TableWriter(tmp_path / "out.parquet", schema, "parquet", gzipped=False):
        raise RuntimeError("stopped")
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]
    assert (tmp_path / "out.parquet").read_text() == "the previous table"
