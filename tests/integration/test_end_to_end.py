"""The real CLI against the real simulator over loopback HTTP, both dialects, with faults on."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import (
    CLIENT_SECRET,
    PASSWORD,
    RECORDS,
    SAMPLES,
    SimulatorFactory,
    credentials,
    run_args,
    run_cli,
)

from reconciler.simulator import FaultConfig

pytestmark = pytest.mark.anyio


def strings(path: Path) -> pa.Table:
    names = pacsv.read_csv(path).column_names
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False))


RECORD_ROWS = {row["account_id"]: row for row in strings(RECORDS).to_pylist()}
KEY_ROWS = strings(SAMPLES / "keys.csv").to_pylist()


def expected_status(account_id: str) -> str:
    if not account_id.strip():
        return "invalid_input"
    return "found" if account_id in RECORD_ROWS else "not_found"


@pytest.mark.parametrize("dialect", ["classic", "v2"])
async def test_sample_keys_reconcile_exactly_with_faults_on(tmp_path: Path, simulator: SimulatorFactory,
                                                             dialect: str) -> None:
    faults = FaultConfig(seed=11, fail_503=0.03, fail_429=0.02, retry_after=0.05, reset=0.02, html=0.02,
                         latency_ms=2, jitter_ms=2)
    output = tmp_path / "status.parquet"
    async with simulator(faults=faults) as sim:
        done = await run_cli(run_args(sim.base_url, SAMPLES / "keys.csv", output, "--rate", "inf",
                                      "--concurrency", "16", "--max-backoff", "0.2", "--strategy", "query",
                                      dialect=dialect),
                             credentials(dialect))
        counters = sim.stats()

    assert done.code == 0, done.stderr
    table = pq.read_table(output)
    rows = table.to_pylist()
    assert [r["account_id"] for r in rows] == [r["account_id"] for r in KEY_ROWS]
    assert [r["note"] for r in rows] == [r["note"] for r in KEY_ROWS]
    assert [r["recon_status"] for r in rows] == [expected_status(r["account_id"]) for r in KEY_ROWS]
    for row in rows:
        if row["recon_status"] == "found":
            source = RECORD_ROWS[row["account_id"]]
            assert row["completed"] == (source["status.completed"] == "true")
            assert row["lastDisposition"] == (source["status.lastDisposition"] or None)
            assert row["totalAttempts"] == int(source["status.totalAttempts"] or 0)
            first_name = row["firstName"] if dialect == "classic" else row["firstname"]
            assert first_name == source["firstName"]
    assert table.schema.field("lastDate").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("totalAttempts").type == pa.int64()

    distinct = {r["account_id"] for r in KEY_ROWS if r["account_id"].strip()}
    per_key = counters["requests_per_key"]
    assert set(per_key) == distinct
    attempts = {r["account_id"]: r["recon_attempts"] for r in rows if r["recon_status"] != "invalid_input"}
    assert sum(per_key.values()) == sum(attempts.values())  # every request the server saw is an attempt
    assert PASSWORD not in done.stderr + done.stdout and CLIENT_SECRET not in done.stderr + done.stdout


async def test_without_faults_each_distinct_key_is_asked_once_and_digest_is_paid_once(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, SAMPLES / "keys.parquet", tmp_path / "out.csv",
                                      "--rate", "inf", "--concurrency", "8", "--strategy", "query"), credentials())
        counters = sim.stats()

    assert done.code == 0, done.stderr
    assert counters["max_requests_per_key"] == 1
    assert counters["digest_challenges"] == 1
    table = strings(tmp_path / "out.csv")
    assert table.num_rows == pq.read_metadata(SAMPLES / "keys.parquet").num_rows
    assert "found" in done.stderr and str(tmp_path / "out.csv") in done.stderr


@pytest.mark.parametrize("dialect", ["classic", "v2"])
async def test_scan_and_query_write_the_same_table_for_a_composite_key(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    records = tmp_path / "records.csv"
    lines = ["Region,Account_ID,firstName,status.completed,status.lastDisposition,status.totalAttempts"]
    lines += [f"{'east' if i % 2 else 'west'},{i:06d},Name {i},{'true' if i % 3 == 0 else 'false'},"
              f"{'Sale' if i % 3 == 0 else ''},{i % 4}" for i in range(2500)]
    records.write_text("\n".join(lines) + "\n")
    keys = tmp_path / "keys.csv"
    key_rows = ["east,000001,a", "west,000002,b", "east,000001,dup", "north,000003,unknown", ",000004,empty",
                "west,002498,c"]
    # Query bodies name the fields as the list spells them; entry fields then match case-insensitively.
    keys.write_text("Region,Account_ID,note\n" + "\n".join(key_rows) + "\n")
    tables = {}
    async with simulator(records=records, key_fields=("Region", "Account_ID")) as sim:
        for strategy in ("scan", "query"):
            sim.reset_stats()
            output = tmp_path / f"{strategy}.parquet"
            args = run_args(sim.base_url, keys, output, "--strategy", strategy, "--rate", "inf", dialect=dialect)
            args[args.index("--key") + 1:args.index("--key") + 2] = ["Region", "--key", "Account_ID"]
            done = await run_cli(args, credentials(dialect))
            assert done.code == 0, done.stderr
            tables[strategy] = (pq.read_table(output), sim.stats())

    how_asked = ["recon_http_status", "recon_error", "recon_attempts", "recon_checked_at", "recon_source",
                 "recon_run_id"]  # 2 runs
    scan_table, scan_counters = tables["scan"]
    query_table, query_counters = tables["query"]
    assert scan_table.drop_columns(how_asked) == query_table.drop_columns(how_asked)
    assert scan_table.column("recon_status").to_pylist() == ["found", "found", "found", "not_found",
                                                             "invalid_input", "found"]
    # ceil(2,500 / 1,000) pages; with digest, the first request also met one challenge.
    challenges = scan_counters["digest_challenges"]
    assert scan_counters["by_endpoint"]["getAll"] - challenges == 3 and scan_counters["by_endpoint"]["query"] == 0
    assert query_counters["by_endpoint"]["query"] - query_counters["digest_challenges"] == 4
    assert query_counters["by_endpoint"]["getAll"] == 0


# The server answers its own record: the input's values and the server's side by side ---------------


@pytest.mark.parametrize("strategy", ["query", "scan"])
@pytest.mark.parametrize("dialect", ["classic", "v2"])
async def test_a_found_row_keeps_the_inputs_values_beside_the_servers_and_names_those_that_differ(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str, strategy: str) -> None:
    records = tmp_path / "records.csv"
    records.write_text("account_id,First Name,Phone,status.completed,status.totalAttempts\n"
                       "1001,Name_First_C1,5550001,false,0\n1002,Anna,,true,1\n")
    keys = tmp_path / "crm.csv"  # a row with an empty non-key cell (Phone) is asked like any other
    keys.write_text("account_id,First name,Phone,crm_owner\n1001,Name_F50,5550001,Alice\n1002,Anna,,\n"
                    "9999,Nobody,,Carl\n,Blank,,Dan\n")
    output = tmp_path / "out.parquet"
    async with simulator(records=records) as sim:
        done = await run_cli(run_args(sim.base_url, keys, output, "--strategy", strategy, "--rate", "inf",
                                      dialect=dialect), credentials(dialect))
    assert done.code == 0, done.stderr

    table = pq.read_table(output)
    spelled = {"classic": ["entry_account_id", "entry_First Name", "entry_Phone"],  # as the list spells them
               "v2": ["entry_account_id", "entry_first name", "entry_phone"]}[dialect]  # 5.x lower-cases
    assert table.column_names[:7] == ["account_id", "First name", "Phone", "crm_owner", *spelled]
    rows = table.to_pylist()
    assert [r["recon_status"] for r in rows] == ["found", "found", "not_found", "invalid_input"]
    assert [(r["First name"], r[spelled[1]]) for r in rows] == [("Name_F50", "Name_First_C1"), ("Anna", "Anna"),
                                                                 ("Nobody", None), ("Blank", None)]
    assert [r[spelled[0]] for r in rows] == ["1001", "1002", None, None]
    assert [r["recon_differing_columns"] for r in rows] == ['["First name"]', "[]", None, None]
    assert table.schema.field("recon_differing_columns").type == pa.string()


async def test_an_input_of_several_columns_without_key_stops_before_anything_is_sent(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = tmp_path / "crm.csv"
    keys.write_text("account_id,First name,Phone,crm_owner\n102529,Name_F50,,Alice\n")
    async with simulator() as sim:
        args = run_args(sim.base_url, keys, tmp_path / "out.parquet", "--strategy", "query")
        del args[args.index("--key"):args.index("--key") + 2]
        done = await run_cli(args, credentials())
        counters = sim.stats()
    assert done.code == 2
    assert done.stderr == (f"reconciler: error: the input {keys} has 4 columns (account_id, First name, Phone, "
                           "crm_owner): name the list's key field(s) with --key\n")
    assert counters["requests_total"] == 0
    assert not (tmp_path / "out.parquet").exists()
