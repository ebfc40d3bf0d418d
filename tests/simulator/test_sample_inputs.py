"""The committed sample files are what ``sample_inputs/generate.py`` makes, and hold what they promise."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from reconciler.simulator import ListSource
from reconciler.simulator.records import load_lists

SAMPLES = Path(__file__).resolve().parents[2] / "sample_inputs"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    subprocess.run([sys.executable, str(SAMPLES / "generate.py"), "--out", str(out)], check=True)
    return out


@pytest.mark.parametrize("name", ["records.csv", "keys.csv"])
def test_the_committed_csv_files_are_regenerated_byte_for_byte(regenerated: Path, name: str) -> None:
    assert (regenerated / name).read_bytes() == (SAMPLES / name).read_bytes()


def test_the_committed_parquet_file_holds_the_regenerated_table(regenerated: Path) -> None:
    assert pq.read_table(regenerated / "keys.parquet").equals(pq.read_table(SAMPLES / "keys.parquet"))


def test_records_csv_is_a_realistic_list() -> None:
    records = rows(SAMPLES / "records.csv")
    assert 2500 <= len(records) <= 3500 and (SAMPLES / "records.csv").stat().st_size < 1_000_000
    dispositions = Counter(r["status.lastDisposition"] for r in records)
    assert len(dispositions) >= 8
    never_called = [r for r in records if r["status.totalAttempts"] == "0"]
    assert never_called and all(r["status.lastDisposition"] == "" for r in never_called)
    assert {r["status.completed"] for r in records} == {"true", "false"}
    assert any(r["status.lastAgent"] for r in records) and any(r["status.globalInteractionID"] for r in records)
    assert any(r["account_id"].startswith("0") for r in records)
    assert any("," in r["lastName"] for r in records) and any("'" in r["lastName"] for r in records)
    calling_list = load_lists(ListSource(path=SAMPLES / "records.csv"))[0]
    assert (calling_list.name, calling_list.key_fields, len(calling_list)) == (
        "records.csv", ("account_id",), len(records))


def test_keys_csv_has_the_awkward_rows() -> None:
    known = {r["account_id"] for r in rows(SAMPLES / "records.csv")}
    keys = [r["account_id"] for r in rows(SAMPLES / "keys.csv")]
    assert 1900 <= len(keys) <= 2100
    assert keys.count("") == 2 and keys.count("   ") == 1
    assert 25 <= len({k for k in keys if k.strip() and k not in known}) <= 35
    assert 45 <= len(keys) - len(set(keys)) <= 55
    assert any(k.startswith("0") for k in keys)
    notes = [r["note"] for r in rows(SAMPLES / "keys.csv")]
    assert any("\n" in n for n in notes) and any('"' in n for n in notes) and any("," in n for n in notes)


def test_keys_parquet_has_string_columns() -> None:
    table = pq.read_table(SAMPLES / "keys.parquet")
    assert all(str(field.type) == "string" for field in table.schema)
    assert "account_id" in table.column_names and table.num_rows > 100
