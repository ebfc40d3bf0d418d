"""Nightly runs over real HTTP: the incremental table equals a fresh scan's after any calling activity.

The simulator moves its campaign on between runs (``RunningSimulator.move_on``, as ``reconciler
simulate activity`` does): call attempts, completions, records added and deleted. Each night the
incremental run's table is compared, every column but the recon_* lookup columns, with what a fresh
``--strategy scan`` writes against the same server state.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import (
    SAMPLES,
    SimulatorFactory,
    credentials,
    run_args,
    run_cli,
    said,
    started_cli,
    stop_when,
    write_list,
)

from reconciler.simulator import FaultConfig, RunningSimulator
from reconciler.simulator.quirks import QuirkConfig

pytestmark = pytest.mark.anyio
# Lists of 2,000 records read in pages of 100 (--page-size) cost the 21 pages that 20,000 in pages of 1,000
# do, so that the nights' plans (changes, or a full read dearer than the few keys asked) are the same,
# for a tenth of the records to serve, parse and store.
PAGE = 100
SMALL_PAGES = ("--page-size", str(PAGE))

LOOKUP_COLUMNS = ["recon_status", "recon_http_status", "recon_error", "recon_attempts", "recon_checked_at",
                  "recon_source", "recon_run_id", "recon_run_date"]
SAMPLE_KEYS = (SAMPLES / "keys.csv").read_text(encoding="utf-8")
def with_added_keys(path: Path, added: list[dict[str, str]]) -> Path:
    """The sample keys file, plus rows for the records the list gained (as tonight's CRM export would)."""
    width = len(SAMPLE_KEYS.splitlines()[0].split(","))
    path.write_text(SAMPLE_KEYS + "".join(key["account_id"] + "," * (width - 1) + "\n" for key in added),
                    encoding="utf-8")
    return path


def status_columns(path: Path) -> pa.Table:
    return pq.read_table(path).drop_columns(LOOKUP_COLUMNS)


def assert_same_but_lookup(incremental: Path, scan: Path) -> None:
    got, want = status_columns(incremental), status_columns(scan)
    assert got.schema == want.schema
    assert got.num_rows == want.num_rows
    if not got.equals(want):
        rows = zip(got.to_pylist(), want.to_pylist(), strict=True)
        differing = next(n for n, (a, b) in enumerate(rows) if a != b)
        pytest.fail(f"row {differing}: incremental {got.slice(differing, 1).to_pylist()} != "
                    f"scan {want.slice(differing, 1).to_pylist()}")


def endpoint_counts(sim: RunningSimulator) -> dict[str, int]:
    by_endpoint = sim.stats()["by_endpoint"]
    assert isinstance(by_endpoint, dict)
    return {name: int(count) for name, count in by_endpoint.items()}


def challenges(sim: RunningSimulator) -> int:
    return int(sim.stats()["digest_challenges"])  # type: ignore[call-overload]


async def reconcile(sim: RunningSimulator, keys: Path, output: Path, *extra: str, dialect: str) -> None:
    done = await run_cli(run_args(sim.base_url, keys, output, "--rate", "inf", *extra, dialect=dialect),
                         credentials(dialect))
    assert done.code == 0, done.stderr


def list_keys(path: Path, size: int, added: list[dict[str, str]]) -> Path:
    """Every fourth record of a ``write_list`` list, one key not on it, and the records the list gained."""
    path.write_text("account_id\n" + "".join(f"{n:09d}\n" for n in range(0, size, 4)) + "999999999\n"
                    + "".join(key["account_id"] + "\n" for key in added), encoding="utf-8")
    return path


@pytest.mark.parametrize("dialect", ["classic", "v2", "v3"])
async def test_after_each_day_of_calling_the_incremental_table_equals_a_fresh_scan(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    size = 2_000  # a full read is 21 pages: dearer than the few keys a night asks one by one
    state, keys, records = tmp_path / "list.state", tmp_path / "keys.csv", write_list(tmp_path / "list.csv", size)
    # The injected 503s are retried as ever; this test is not about how long a retry waits.
    nightly = ["--strategy", "incremental", "--state", str(state), *SMALL_PAGES, "--max-backoff", "0.2"]
    days = [dict(attempts=100, complete=20, add=6, seed=1), dict(attempts=60, complete=10, add=3, seed=2),
            dict(attempts=1, seed=3), dict()]  # a quiet day too
    added: list[dict[str, str]] = []
    async with simulator(records=records, faults=FaultConfig(seed=7, fail_503=0.05)) as sim:
        list_keys(keys, size, added)
        await reconcile(sim, keys, tmp_path / "night-0.parquet", *nightly, dialect=dialect)
        for night, day in enumerate(days, start=1):
            did = sim.move_on(**day)  # type: ignore[arg-type]
            added += did["added"]  # type: ignore[arg-type]
            list_keys(keys, size, added)
            sim.reset_stats()
            output = tmp_path / f"night-{night}.parquet"
            await reconcile(sim, keys, output, *nightly, "--changes", str(tmp_path / f"changes-{night}.parquet"),
                            dialect=dialect)
            asked = endpoint_counts(sim)
            await reconcile(sim, keys, tmp_path / f"scan-{night}.parquet", "--strategy", "scan", "--max-backoff", "0.2",
                            dialect=dialect)

            assert_same_but_lookup(output, tmp_path / f"scan-{night}.parquet")
            # The changes are read (the simulator counts v3's getUpdatedRecords and getCompletedRecords as
            # getChanged and getCompleted), and the list is read whole only where they cannot tell enough:
            # in v3, when Get Campaign's totalRecords moved (records were added).
            assert asked["getChanged"] >= 1 and asked["getCompleted"] >= 1, asked
            whole = dialect == "v3" and day.get("add", 0) > 0
            assert asked["getAll"] == (size // PAGE + 1 if whole else 0), asked
    completed_now = {r["account_id"] for r in status_columns(tmp_path / "night-1.parquet").to_pylist()
                     if r["completed"]}
    completed_before = {r["account_id"] for r in status_columns(tmp_path / "night-0.parquet").to_pylist()
                        if r["completed"]}
    feed = pq.read_table(tmp_path / "changes-1.parquet").to_pylist()
    assert {r["account_id"] for r in feed if r["change_type"] == "completed"} == completed_now - completed_before
    assert {r["account_id"] for r in feed if r["change_type"] == "new"} == {k["account_id"] for k in added[:6]}


@pytest.mark.parametrize("dialect", ["classic", "v3"])
async def test_a_deleted_record_is_seen_by_v3_at_once_and_by_classic_at_the_next_full_read(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    size, state = 2_000, tmp_path / "list.state"  # 21 pages of 100
    keys, records = list_keys(tmp_path / "keys.csv", size, []), write_list(tmp_path / "list.csv", size)
    nightly = ["--strategy", "incremental", "--state", str(state), *SMALL_PAGES]
    asked_keys = {f"{n:09d}" for n in range(0, size, 4)}
    async with simulator(records=records) as sim:
        await reconcile(sim, keys, tmp_path / "night-0.parquet", *nightly, dialect=dialect)
        did = sim.move_on(attempts=50, delete=40, seed=5)
        gone = {key["account_id"] for key in did["deleted"]} & asked_keys  # type: ignore[union-attr, index]
        await reconcile(sim, keys, tmp_path / "night-1.parquet", *nightly, dialect=dialect)
        await reconcile(sim, keys, tmp_path / "night-2.parquet", *nightly, "--full-refresh-after", "0s",
                        dialect=dialect)
        await reconcile(sim, keys, tmp_path / "scan.parquet", "--strategy", "scan", dialect=dialect)

    def found(path: Path) -> set[str]:
        rows = pq.read_table(path, columns=["account_id", "recon_status"]).to_pylist()
        return {r["account_id"] for r in rows if r["recon_status"] == "found"}

    assert gone, "the seeded deletions should hit keys the input asks for"
    if dialect == "v3":  # Get Campaign's totalRecords moved: the list is read whole that night
        assert not gone & found(tmp_path / "night-1.parquet")
    else:  # getChanged does not tell deletions: the state keeps the record's last status ...
        assert gone <= found(tmp_path / "night-1.parquet")
    # ... until a full read, which sees it gone, as a scan does.
    assert not gone & found(tmp_path / "night-2.parquet")
    assert_same_but_lookup(tmp_path / "night-2.parquet", tmp_path / "scan.parquet")


async def test_a_night_reads_the_list_whole_when_that_costs_less_than_asking_the_keys_the_state_lacks(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    """The sample list is 3,000 records (4 pages); its input holds 30 keys that are not on it."""
    state, keys, report = tmp_path / "list.state", with_added_keys(tmp_path / "keys.csv", []), tmp_path / "r.json"
    nightly = ["--strategy", "incremental", "--state", str(state), "--report", str(report)]
    asked_keys = {row.split(",")[0] for row in SAMPLE_KEYS.splitlines()[1:]}
    async with simulator() as sim:
        await reconcile(sim, keys, tmp_path / "night-0.parquet", *nightly, dialect="classic")
        did = sim.move_on(attempts=50, delete=40, seed=5)
        gone = {key["account_id"] for key in did["deleted"]} & asked_keys  # type: ignore[union-attr, index]
        sim.reset_stats()
        await reconcile(sim, keys, tmp_path / "night-1.parquet", *nightly, dialect="classic")
        asked = endpoint_counts(sim)
        await reconcile(sim, keys, tmp_path / "scan.parquet", "--strategy", "scan", dialect="classic")

    sync = json.loads(report.read_text(encoding="utf-8"))["figures"]["sync"]
    assert sync["full_read"] is True and "more requests than reading the list whole (4 pages)" in sync["reason"]
    # 2,960 records after the deletions: 3 pages; the 30 keys off the list are not asked one by one.
    assert asked["getAll"] == 3 and asked["query"] == 0, asked
    assert asked["getChanged"] >= 1, asked
    rows = pq.read_table(tmp_path / "night-1.parquet", columns=["account_id", "recon_status"]).to_pylist()
    assert gone and not gone & {r["account_id"] for r in rows if r["recon_status"] == "found"}
    assert_same_but_lookup(tmp_path / "night-1.parquet", tmp_path / "scan.parquet")


async def kill_9_then_rerun(args: list[str], tmp_path: Path, moment: Callable[[], bool], what: str,
                            dialect: str) -> None:
    """Start the run, kill -9 it once ``moment`` holds, then rerun the same command to its end."""
    async with started_cli(args, credentials(dialect), tmp_path / "logs") as cli:
        killed = await stop_when(cli, moment, signal.SIGKILL, what=what)
    assert killed.code == -signal.SIGKILL
    done = await run_cli(args, credentials(dialect))
    assert done.code == 0, done.stderr


@pytest.mark.parametrize("dialect", ["classic", "v3"])  # pages by time and index; by cursor
async def test_kill_9_mid_sync_then_rerun_goes_on_and_still_equals_a_fresh_scan(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    size = 2_000  # 21 pages of 100
    records = write_list(tmp_path / "records.csv", size)
    keys = tmp_path / "keys.csv"
    # Records that no agent reached before (write_list gives every sixth one an agent): a new attempt tells
    # their whole status, so the night asks few keys one by one and takes the changes, not a full read.
    keys.write_text("account_id\n" + "".join(f"{n:09d}\n" for n in range(1, size, 4)) + "999999999\n")
    nightly = run_args("", keys, tmp_path / "night.parquet", "--strategy", "incremental", "--state",
                       str(tmp_path / "list.state"), "--rate", "inf", *SMALL_PAGES, dialect=dialect)
    # Each process's first request is answered by a digest challenge (classic) or fetches a token (v3).
    first_requests = challenges if dialect == "classic" else (lambda sim: 0)
    async with simulator(records=records, faults=FaultConfig(latency_ms=60)) as sim:
        args = [sim.base_url if arg == "" else arg for arg in nightly]
        await kill_9_then_rerun(args, tmp_path, lambda: endpoint_counts(sim)["getAll"] >= 5, "the full read's 5th page",
                                dialect)
        # The rerun went on from the last stored page: at most the page in flight was read twice.
        assert endpoint_counts(sim)["getAll"] - first_requests(sim) <= size // PAGE + 1 + 1

        sim.move_on(attempts=500, complete=50, seed=9)  # none added: v3 would read whole on the count
        sim.reset_stats()
        await kill_9_then_rerun(args, tmp_path, lambda: endpoint_counts(sim)["getChanged"] >= 2,
                                "the second getChanged page", dialect)
        counts = endpoint_counts(sim)
        counts["getChanged"] -= first_requests(sim)
        await reconcile(sim, keys, tmp_path / "scan.parquet", "--strategy", "scan", dialect=dialect)

    assert counts["getAll"] == 0, counts
    # 500 changes are 6 pages of 100 by time (each page after the first starts at the last one's latest
    # time), 5 by cursor; the rerun went on from the stored position, so at most the page in flight
    # came twice (starting over would ask at least 2 + all of them).
    pages = 6 if dialect == "classic" else 5
    assert counts["getChanged"] <= pages + 1, counts
    assert_same_but_lookup(tmp_path / "night.parquet", tmp_path / "scan.parquet")


@pytest.mark.parametrize(("make_bad", "extra", "message"), [
    ("another target", ["--key", "crm_owner"], "this state belongs to another target (key_columns: was"),
    ("not a state", [], "file is not a database"),
    ("bad template", ["--output", "out/{date/status.parquet"], "is not a usable path template"),
    ("previous of another schema", ["--changes", "changes.parquet", "--previous", "other.csv"],
     "--previous is not a reconciler output table"),
])
async def test_bad_nightly_input_is_one_line_exit_2_and_nothing_sent(
        tmp_path: Path, simulator: SimulatorFactory, make_bad: str, extra: list[str], message: str) -> None:
    state, keys = tmp_path / "list.state", with_added_keys(tmp_path / "keys.csv", [])
    if make_bad == "not a state":
        state.write_bytes(b"this is no database" * 200)
    (tmp_path / "other.csv").write_text("account_id,score\n102529,3\n", encoding="utf-8")
    async with simulator() as sim:
        if make_bad == "another target":  # last night's state, of the list keyed by account_id
            await reconcile(sim, keys, tmp_path / "last-night.parquet", "--strategy", "incremental", "--state",
                            str(state), dialect="classic")
            before = state.read_bytes()
            sim.reset_stats()
        files = [str(tmp_path / a) if a.endswith((".csv", ".parquet")) else a for a in extra]
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "night.parquet", "--strategy", "incremental",
                                      "--state", str(state), *files), credentials())
        sent = sim.stats()["requests_total"]
    lines = said(done.stderr)
    assert done.code == 2 and len(lines) == 1 and message in lines[0], done.stderr
    assert sent == 0
    assert not (tmp_path / "night.parquet").exists() and not (tmp_path / "changes.parquet").exists()
    if make_bad == "another target":
        assert state.read_bytes() == before  # nothing lost: the other target's state is untouched


async def test_a_v3_dry_run_after_a_first_night_says_it_would_read_changes_by_cursor(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    state, keys = tmp_path / "list.state", with_added_keys(tmp_path / "keys.csv", [])
    nightly = ["--strategy", "incremental", "--state", str(state)]
    async with simulator() as sim:
        await reconcile(sim, keys, tmp_path / "night-0.parquet", *nightly, dialect="v3")
        sim.reset_stats()
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "night-1.parquet", *nightly, "--dry-run",
                                      dialect="v3"), credentials("v3"))
        asked = endpoint_counts(sim)
    assert done.code == 0, done.stderr
    assert "getUpdatedRecords and getCompletedRecords pages from " in " ".join(done.stderr.split()), done.stderr
    # A dry run proves the credentials and the list with one one-record read; it reads no change.
    assert (asked["query"], asked["getAll"], asked["getChanged"], asked["getCompleted"]) == (0, 1, 0, 0), asked
    assert not (tmp_path / "night-1.parquet").exists()


async def test_a_bad_row_found_while_the_list_syncs_is_one_line_and_leaves_the_state_good_for_the_rerun(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    # The keys load while the list syncs: a bad row at the end of a long file is found after the sync
    # stored its pages. Those stay valid, so the rerun with the fixed file still equals a fresh scan.
    size = 5_000
    records = write_list(tmp_path / "records.csv", size)
    state, keys = tmp_path / "list.state", tmp_path / "keys.csv"
    good = "account_id\n" + "".join(f"{n:09d}\n" for n in range(0, size, 2))
    nightly = ["--strategy", "incremental", "--state", str(state)]
    async with simulator(records=records) as sim:
        keys.write_text(good, encoding="utf-8")
        await reconcile(sim, keys, tmp_path / "night-1.parquet", *nightly, dialect="classic")
        sim.move_on(attempts=1500, complete=100, seed=4)
        filler = "".join(f"{n:09d}\n" for n in range(0, size, 2)) * 60  # the same keys again: slow to load
        keys.write_text(good + filler + "000000002,an extra field\n", encoding="utf-8")
        sim.reset_stats()
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "night-2.parquet", "--rate", "inf", *nightly),
                             credentials())
        synced, written = endpoint_counts(sim)["getChanged"], (tmp_path / "night-2.parquet").exists()
        keys.write_text(good, encoding="utf-8")
        await reconcile(sim, keys, tmp_path / "night-2.parquet", *nightly, dialect="classic")
        await reconcile(sim, keys, tmp_path / "scan.parquet", "--strategy", "scan", dialect="classic")
    # Beside progress lines (a slow machine prints one as the sync starts), the error is one line.
    message = said(done.stderr)
    assert done.code == 2 and len(message) == 1 and message[0].startswith("reconciler: error: "), done.stderr
    assert f"{keys}: line {2 + size // 2 * 61}: 2 fields where the header has 1" in message[0], message
    assert synced >= 2, "the list was not synced while the keys loaded"
    assert not written
    assert_same_but_lookup(tmp_path / "night-2.parquet", tmp_path / "scan.parquet")


async def test_changes_answered_in_index_order_are_not_paged_by_time_but_read_whole(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    size, report = 2_000, tmp_path / "report.json"  # 21 pages of 100
    keys, records = list_keys(tmp_path / "keys.csv", size, []), write_list(tmp_path / "list.csv", size)
    nightly = ["--strategy", "incremental", "--state", str(tmp_path / "list.state"), "--report", str(report),
               *SMALL_PAGES]
    async with simulator(records=records, quirks=QuirkConfig(changes_in_index_order=True)) as sim:
        await reconcile(sim, keys, tmp_path / "night-0.parquet", *nightly, dialect="classic")
        sim.move_on(attempts=150, complete=10, seed=8)  # more than a page of changes, at many times
        sim.reset_stats()
        await reconcile(sim, keys, tmp_path / "night-1.parquet", *nightly, dialect="classic")
        asked, challenged = endpoint_counts(sim), challenges(sim)  # the process's first request is challenged
        await reconcile(sim, keys, tmp_path / "scan.parquet", "--strategy", "scan", dialect="classic")

    sync = json.loads(report.read_text(encoding="utf-8"))["figures"]["sync"]
    assert sync["full_read"] is True and "came out of time order" in sync["reason"], sync
    assert asked["getChanged"] - challenged == 1 and asked["getAll"] == size // PAGE + 1, asked
    # Paging on from the first page's latest time would have kept yesterday's status for the records
    # changed before it; read whole, the night equals a scan.
    assert_same_but_lookup(tmp_path / "night-1.parquet", tmp_path / "scan.parquet")
