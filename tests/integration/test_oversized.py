"""Inputs too large to send or to read: a key over 4 KiB is never sent; a CSV row over 1 MiB names its line.

The real CLI against the real simulator over loopback HTTP.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import RECORDS, SimulatorFactory, credentials, run_args, run_cli

pytestmark = pytest.mark.anyio
MIB = 1 << 20
A_RECORD = next(csv.DictReader(RECORDS.read_text(encoding="utf-8").splitlines()))["account_id"]
TOO_LONG = "a key value is longer than 4,096 bytes of UTF-8; not sent"


async def test_a_key_over_4_kib_is_invalid_input_and_never_sent(tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = {
        "found": A_RECORD,
        "2 MB": "k" * (2 * 1000 * 1000),
        "4,097 bytes": "y" * 4097,
        "4,098 bytes in 1,366 characters": "€" * 1366,  # 3 bytes each in UTF-8: the limit is in bytes
        "4,096 bytes": "z" * 4096,  # at the limit: sent, and not on the list
        "blank": " ",
    }
    path = tmp_path / "keys.parquet"  # a CSV row of 2 MB would be over the CSV row limit
    pq.write_table(pa.table({"account_id": list(keys.values()), "case": list(keys)}), path)
    output = tmp_path / "status.parquet"
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, path, output, "--strategy", "query", "--rate", "inf"),
                             credentials())
        counters = sim.stats()

    assert done.code == 0, done.stderr
    rows = {row["case"]: row for row in pq.read_table(output).to_pylist()}
    outcome = {case: (row["recon_status"], row["recon_error"], row["recon_attempts"], row["recon_http_status"])
               for case, row in rows.items()}
    assert outcome == {
        "found": ("found", None, 1, 200),
        "2 MB": ("invalid_input", TOO_LONG, 0, None),
        "4,097 bytes": ("invalid_input", TOO_LONG, 0, None),
        "4,098 bytes in 1,366 characters": ("invalid_input", TOO_LONG, 0, None),
        "4,096 bytes": ("not_found", "record is not found", 1, 404),
        "blank": ("invalid_input", "a key value is empty or blank; not sent", 0, None),
    }
    assert rows["2 MB"]["account_id"] == keys["2 MB"]  # the input's value passes through unchanged
    assert set(counters["requests_per_key"]) == {A_RECORD, "z" * 4096}
    assert "413" not in counters["by_status"]


def write_long_row(path: Path, line: int) -> None:
    """A key file whose row starting at ``line`` holds a quoted note of 2 MiB over many lines."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("account_id,note\n")
        for n in range(line - 2):
            handle.write(f"9{n:06d},row {n}\n")
        handle.write(f'{A_RECORD},"' + "a long note\n" * (2 * MIB // 12 + 1) + '"\n')
        handle.write("9999999,after\n")


async def test_a_csv_row_over_1_mib_names_its_line_and_the_limit_can_be_raised(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = tmp_path / "keys.csv"
    write_long_row(keys, line=3001)
    config = tmp_path / "nightly.toml"
    config.write_text('max-row-bytes = "3MiB"\n', encoding="utf-8")
    async with simulator() as sim:
        refused = await run_cli(run_args(sim.base_url, keys, tmp_path / "refused.parquet", "--strategy", "query"),
                                credentials())
        asked_before = sim.stats()["requests_total"]
        # Read whole (4 pages) rather than asked key by key (3,000 queries): the rows are read the same way.
        by_flag = await run_cli(run_args(sim.base_url, keys, tmp_path / "flag.parquet", "--strategy", "scan",
                                         "--rate", "inf", "--max-row-bytes", "3MiB"), credentials())
        by_file = await run_cli(run_args(sim.base_url, keys, tmp_path / "file.parquet", "--strategy", "scan",
                                         "--rate", "inf", "--config", str(config)), credentials())

    assert refused.code == 2, refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("reconciler: error:")]
    assert errors == [f"reconciler: error: {keys}: line 3001: a row is longer than 1 MiB (--max-row-bytes); "
                      "check the quoting, or raise --max-row-bytes"]
    assert asked_before == 0
    for done, output in ((by_flag, "flag.parquet"), (by_file, "file.parquet")):
        assert done.code == 0, done.stderr
        table = pq.read_table(tmp_path / output)
        assert table.num_rows == 3001
        long_row = table.slice(2999, 1).to_pylist()[0]
        assert (long_row["account_id"], long_row["recon_status"]) == (A_RECORD, "found")
        assert len(long_row["note"]) > 2 * MIB
