"""The three dialects against one simulator over real HTTP: the same table, and v3's look-up refusals."""

from __future__ import annotations

import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli, said, started_cli, stop_when, write_list

from reconciler.simulator import FaultConfig, RunningSimulator
from reconciler.simulator.v3 import campaign_id, instance_id

pytestmark = pytest.mark.anyio

LOOKUP_COLUMNS = ["recon_status", "recon_http_status", "recon_error", "recon_attempts", "recon_checked_at",
                  "recon_source", "recon_run_id", "recon_run_date"]


def folded(table: pa.Table) -> pa.Table:
    """5.x sends entry field names lower-cased, and the table names them as sent (README, "Which dialect")."""
    return table.rename_columns([name.casefold() for name in table.column_names])


@pytest.mark.parametrize("strategy", ["query", "scan"])
async def test_classic_v2_and_v3_write_the_same_table(tmp_path: Path, simulator: SimulatorFactory,
                                                       strategy: str) -> None:
    tables = {}
    async with simulator(faults=FaultConfig(seed=3, fail_503=0.05)) as sim:
        sim.move_on(attempts=200, complete=40, seed=4)  # statuses written by the simulator too, not only loaded
        for dialect in ("classic", "v2", "v3"):
            output = tmp_path / f"{dialect}.parquet"
            # The 503s are retried as ever; how long a retry waits is not what this test is about.
            done = await run_cli(run_args(sim.base_url, SAMPLES / "keys.csv", output, "--strategy", strategy,
                                          "--rate", "inf", "--max-backoff", "0.2", dialect=dialect),
                                 credentials(dialect))
            assert done.code == 0, f"{dialect}: {done.stderr}"
            tables[dialect] = pq.read_table(output)
    statuses = set(tables["v3"].column("recon_status").to_pylist())
    assert statuses == {"found", "not_found", "invalid_input"}
    classic = folded(tables["classic"].drop_columns(LOOKUP_COLUMNS))
    for dialect in ("v2", "v3"):
        other = folded(tables[dialect].drop_columns(LOOKUP_COLUMNS))
        assert other.schema == classic.schema, dialect
        for name in classic.column_names:
            assert other.column(name).equals(classic.column(name)), f"{dialect}: column {name} differs"
        assert tables[dialect].column("recon_status").equals(tables["classic"].column("recon_status"))


@pytest.mark.parametrize(("option", "name", "message"), [
    ("--campaign", "Campaign_9", "Campaign_1"),  # a name not found: the message names the campaigns there are
    ("--list", "other.csv", "records.csv"),  # a list not bound: the message names the lists that are
])
async def test_a_v3_campaign_name_not_found_stops_before_any_record_is_asked(
        tmp_path: Path, simulator: SimulatorFactory, option: str, name: str, message: str) -> None:
    async with simulator() as sim:
        args = run_args(sim.base_url, SAMPLES / "keys.csv", tmp_path / "out.parquet", dialect="v3")
        args[args.index(option) + 1] = name
        done = await run_cli(args, credentials("v3"))
        by_endpoint = sim.stats()["by_endpoint"]
    lines = said(done.stderr)
    assert done.code == 3 and len(lines) == 1 and name in lines[0] and message in lines[0], done.stderr
    assert by_endpoint["query"] == 0 and by_endpoint["getAll"] == 0  # type: ignore[index]
    assert not (tmp_path / "out.parquet").exists()


async def test_kill_9_during_a_v3_cursor_scan_then_rerun_goes_on_from_the_stored_cursor(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    # 2,000 records in pages of 100: the 21 pages of 20,000 in pages of 1,000, a tenth of the records to handle.
    size, page = 2_000, 100
    records = write_list(tmp_path / "records.csv", size)
    keys = tmp_path / "keys.csv"
    keys.write_text("account_id\n" + "".join(f"{n:09d}\n" for n in range(0, size, 3)) + "999999999\n")
    async with simulator(records=records, faults=FaultConfig(latency_ms=60)) as sim:
        baseline = run_args(sim.base_url, keys, tmp_path / "baseline.parquet", "--strategy", "scan", "--rate", "inf",
                            "--page-size", str(page), dialect="v3")
        assert (await run_cli(baseline, credentials("v3"))).code == 0
        sim.reset_stats()
        args = run_args(sim.base_url, keys, tmp_path / "resumed.parquet", "--strategy", "scan", "--rate", "inf",
                        "--page-size", str(page), dialect="v3")
        async with started_cli(args, credentials("v3"), tmp_path / "logs") as cli:
            killed = await stop_when(cli, lambda: pages(sim) >= 5, signal.SIGKILL, what="the 5th getAllRecords page")
        assert killed.code == -signal.SIGKILL
        done = await run_cli(args, credentials("v3"))
        read = pages(sim)
    assert done.code == 0, done.stderr
    # 20 pages in all: the rerun went on from the last stored cursor, at most the page in flight came twice.
    assert read <= size // page + 1, read
    same = ["recon_checked_at", "recon_run_id", "recon_run_date"]
    assert pq.read_table(tmp_path / "resumed.parquet").drop_columns(same).equals(
        pq.read_table(tmp_path / "baseline.parquet").drop_columns(same))


def pages(sim: RunningSimulator) -> int:
    by_endpoint = sim.stats()["by_endpoint"]
    return int(by_endpoint["getAll"])  # type: ignore[index]


async def test_a_v3_dry_run_names_the_campaign_and_instance_ids_it_found_and_asks_no_record(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, SAMPLES / "keys.csv", tmp_path / "out.parquet", "--strategy",
                                      "query", "--dry-run", dialect="v3"), credentials("v3"))
        by_endpoint = sim.stats()["by_endpoint"]
    assert done.code == 0, done.stderr
    ids = [line for line in done.stderr.splitlines() if line.startswith("  ids ")]
    assert ids == [f"  ids              campaign id {campaign_id('Campaign_1')} (found by name), list instance id "
                   f"{instance_id('Campaign_1', 'records.csv')} (found by name)"], done.stderr
    assert by_endpoint["query"] == 0  # type: ignore[index]
    assert not (tmp_path / "out.parquet").exists()


async def test_simulate_help_documents_the_v3_routes() -> None:
    done = await run_cli(["simulate", "--help"], {})
    text = " ".join(done.stdout.split())
    assert done.code == 0, done.stderr
    for part in ("v3 (/configapi/v3/campaign/...", "getAllRecords/ID", "queryRecord/ID", "getUpdatedRecords/ID",
                 "getCompletedRecords/ID", "409", "415"):
        assert part in text, part
