"""What a live server was seen to answer, met over real HTTP: pages out of order, loosely matched keys.

The simulator's quirks (off by default) imitate recorded answers of a live BPCC 5.x server (API notes,
"What a live server was seen to answer"); each test runs the real CLI against them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli, write_list

from reconciler.simulator import FaultConfig, RunningSimulator
from reconciler.simulator.quirks import QuirkConfig

pytestmark = pytest.mark.anyio
LOOKUP = ["recon_status", "recon_http_status", "recon_error", "recon_attempts", "recon_checked_at", "recon_source",
          "recon_run_id", "recon_run_date"]


def by_endpoint(sim: RunningSimulator) -> dict[str, int]:
    counts = sim.stats()["by_endpoint"]
    assert isinstance(counts, dict)
    return {name: int(count) for name, count in counts.items()}


async def reconcile(sim: RunningSimulator, output: Path, *extra: str, dialect: str = "classic",
                    keys: Path = SAMPLES / "keys.csv") -> dict[str, object]:
    report = output.with_suffix(".json")
    done = await run_cli(run_args(sim.base_url, keys, output, "--rate", "inf", "--report", str(report), *extra,
                                  dialect=dialect), credentials(dialect))
    assert done.code == 0, done.stderr
    figures = json.loads(report.read_text(encoding="utf-8"))["figures"]
    assert isinstance(figures, dict)
    return figures


@pytest.mark.parametrize("dialect", ["classic", "v2", "v3"])
async def test_a_scan_of_pages_out_of_order_with_holes_writes_the_table_of_an_ordered_list(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    async with simulator() as sim:
        await reconcile(sim, tmp_path / "ordered.parquet", "--strategy", "scan", dialect=dialect)
    async with simulator(quirks=QuirkConfig(unordered_pages=True), faults=FaultConfig(seed=3)) as sim:
        figures = await reconcile(sim, tmp_path / "shuffled.parquet", "--strategy", "scan", dialect=dialect)
        asked = by_endpoint(sim)

    ordered = pq.read_table(tmp_path / "ordered.parquet").drop_columns(LOOKUP)
    shuffled = pq.read_table(tmp_path / "shuffled.parquet").drop_columns(LOOKUP)
    assert shuffled.equals(ordered)
    scan = figures["scan"]
    assert isinstance(scan, dict) and scan["records_read_twice"] == 0
    if dialect == "v3":  # the server's cursor pages on: no index to trust or distrust
        assert scan["pages_out_of_order"] == 0 and asked["query"] == 0
    else:
        # 3,000 records over indexes with holes: 3 full shuffled pages and the empty one past the end, each
        # paged on from past its highest index (not its last item's), so none is read twice; then, as the
        # pages came out of order, the 30 keys the scan did not find are asked one by one, and stay not found.
        assert asked["getAll"] - int(sim.stats()["digest_challenges"]) == 4, asked  # type: ignore[call-overload]
        assert scan["pages_out_of_order"] == 3
        assert scan["keys_asked"] == 30 and scan["keys_found_by_asking"] == 0
        assert asked["query"] >= 30


async def test_the_nightly_full_read_of_pages_out_of_order_equals_a_scan(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    async with simulator(quirks=QuirkConfig(unordered_pages=True), faults=FaultConfig(seed=5)) as sim:
        figures = await reconcile(sim, tmp_path / "night.parquet", "--strategy", "incremental", "--state",
                                  str(tmp_path / "list.state"))
        await reconcile(sim, tmp_path / "scan.parquet", "--strategy", "scan")

    sync = figures["sync"]
    assert isinstance(sync, dict) and sync["full_read"] is True and sync["pages_out_of_order"] == 3
    assert sync["records_read_twice"] == 0 and sync["asked_one_by_one"] == 30
    night = pq.read_table(tmp_path / "night.parquet").drop_columns(LOOKUP)
    assert night.equals(pq.read_table(tmp_path / "scan.parquet").drop_columns(LOOKUP))


@pytest.mark.parametrize("strategy", ["query", "scan"])
async def test_a_key_the_server_matched_loosely_shows_the_stored_value_and_is_named_as_differing(
        tmp_path: Path, simulator: SimulatorFactory, strategy: str) -> None:
    records = write_list(tmp_path / "list.csv", 100)  # phones 16505550000.. are unique here
    keys = tmp_path / "keys.csv"
    keys.write_text("phone,crm_name\n+16505550007,Ann\n16505550008,Bo\n", encoding="utf-8")
    async with simulator(records=records, key_fields=("phone",), quirks=QuirkConfig(loose_phone_keys=True)) as sim:
        args = run_args(sim.base_url, keys, tmp_path / "out.parquet", "--rate", "inf", "--strategy", strategy)
        args[args.index("--key") + 1] = "phone"
        done = await run_cli(args, credentials())

    assert done.code == 0, done.stderr
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    if strategy == "scan":  # a scan matches by the text it reads: "+16505550007" is not on the list
        assert [r["recon_status"] for r in rows] == ["not_found", "found"]
        return
    asked, exact = rows
    assert asked["recon_status"] == "found" and asked["phone"] == "+16505550007"
    assert asked["entry_phone"] == "16505550007"  # the server's stored value, not the one asked
    assert json.loads(asked["recon_differing_columns"]) == ["phone"]
    assert exact["entry_phone"] == "16505550008" and json.loads(exact["recon_differing_columns"]) == []
