"""Runs that survive: kill -9, SIGTERM/SIGINT, bad credentials, gateways, token expiry and dead servers.

Each test drives the real CLI in a subprocess against the real simulator over loopback HTTP, and
judges the run by what a user sees (exit code, message, output table) and by what the server saw
(the simulator's counters). Timings are kept short: small key files, high ``--rate``, latencies
of a few milliseconds.
"""

from __future__ import annotations

import csv
import random
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import (
    CLIENT_SECRET,
    PASSWORD,
    RECORDS,
    TENANT,
    SimulatorFactory,
    credentials,
    run_args,
    run_cli,
    said,
    started_cli,
    stop_when,
    wait_until,
)

from reconciler.simulator import Account, FaultConfig, ListSource, RunningSimulator, SimulatorConfig, run_simulator

pytestmark = pytest.mark.anyio

CONCURRENCY = 8
RECORD_IDS = [row["account_id"] for row in csv.DictReader(RECORDS.read_text(encoding="utf-8").splitlines())]
RESUME_HINT = "rerun the same command to resume"


# -- inputs and outputs ----------------------------------------------------------------------------

def write_keys(path: Path, *, found: int, missing: int = 0, duplicates: int = 0, seed: int = 0) -> Path:
    """A key file: ``found`` ids of the sample list, ``missing`` ids it lacks, some rows repeated, shuffled."""
    ids = RECORD_IDS[:found] + [f"9{n:06d}" for n in range(missing)]
    shuffler = random.Random(seed)
    shuffler.shuffle(ids)
    rows = ids + shuffler.sample(ids, duplicates)
    table = pa.table({"account_id": rows, "note": [f"row {n}" for n in range(len(rows))]})
    pacsv.write_csv(table, path)
    return path


def write_many_rows(path: Path, *, rows: int, distinct: int = 50) -> Path:
    """A long key file over few distinct keys: reading and writing take a while, querying does not."""
    ids = pa.array(RECORD_IDS[:distinct])
    table = pa.table({"account_id": ids.take(pa.array([n % distinct for n in range(rows)])),
                      "note": pa.array([f"row {n}" for n in range(rows)])})
    pacsv.write_csv(table, path)
    return path


def query_args(base_url: str, input_path: Path, output: Path, *extra: str, dialect: str = "classic") -> list[str]:
    return run_args(base_url, input_path, output, "--strategy", "query", "--concurrency", str(CONCURRENCY),
                    *extra, dialect=dialect)


def journal_of(output: Path) -> Path:
    return output.with_name(output.name + ".reconciler-journal")


def partials(folder: Path) -> list[Path]:
    """Temporary tables left in the output's folder."""
    return sorted(folder.glob(".*.partial"))


def comparable(path: Path) -> pa.Table:
    """The output table without the column that records when each key was checked."""
    return pq.read_table(path).drop_columns(["recon_checked_at", "recon_run_id"])  # another run than the baseline


def assert_same_table(output: Path, expected: Path) -> None:
    got, want = comparable(output), comparable(expected)
    assert got.schema == want.schema
    assert got.num_rows == want.num_rows
    if not got.equals(want):
        differing = next(n for n, (a, b) in enumerate(zip(got.to_pylist(), want.to_pylist(), strict=True)) if a != b)
        pytest.fail(f"row {differing} differs: {got.slice(differing, 1).to_pylist()} != "
                    f"{want.slice(differing, 1).to_pylist()}")


def statuses(path: Path) -> dict[str, int]:
    counts = pq.read_table(path, columns=["recon_status"]).column(0).value_counts().to_pylist()
    return {item["values"]: item["counts"] for item in counts}


def asked(sim: RunningSimulator) -> dict[str, int]:
    per_key = sim.stats()["requests_per_key"]
    assert isinstance(per_key, dict)
    return per_key


def endpoint(sim: RunningSimulator, name: str) -> int:
    by_endpoint = sim.stats()["by_endpoint"]
    assert isinstance(by_endpoint, dict)
    return int(by_endpoint[name])


async def baseline(sim: RunningSimulator, input_path: Path, folder: Path, *extra: str) -> Path:
    """An uninterrupted run's table, to compare a resumed run with; the simulator's counters are reset."""
    await anyio.Path(folder).mkdir()
    output = folder / "status.parquet"
    done = await run_cli(query_args(sim.base_url, input_path, output, "--rate", "inf", *extra), credentials())
    assert done.code == 0, done.stderr
    sim.reset_stats()
    return output


# -- kill -9 ---------------------------------------------------------------------------------------

KILL_SEED = 20261127
KILLS = 3


async def test_kill_9_at_random_moments_then_rerun_writes_the_uninterrupted_table(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=1350, missing=150, duplicates=40, seed=1)
    distinct, rate = 1500, 300
    moments = random.Random(KILL_SEED)
    killed_with_asked: list[int] = []
    async with simulator(faults=FaultConfig(latency_ms=5)) as sim:
        expected = await baseline(sim, keys, tmp_path / "baseline")
        output = tmp_path / "resumed" / "status.parquet"
        output.parent.mkdir()
        args = query_args(sim.base_url, keys, output, "--rate", str(rate))
        for kill in range(KILLS):
            # Anywhere from interpreter start-up to well before the end of the querying.
            remaining = distinct - len(asked(sim))
            delay = moments.uniform(0.2, 0.6 + 0.8 * remaining / rate)
            # On a slow machine every random moment can fall in the interpreter's start-up: the last kill
            # then waits for the run to ask a key, so that one kill always lands mid-query.
            last_chance = kill == KILLS - 1 and not any(0 < n < distinct for n in killed_with_asked)
            asked_before = len(asked(sim))
            async with started_cli(args, credentials(), tmp_path / "logs") as cli:
                if last_chance:
                    killed = await stop_when(cli, lambda: len(asked(sim)) > asked_before,  # noqa: B023
                                             signal.SIGKILL, what="the run to ask a key")
                else:
                    await anyio.sleep(delay)
                    assert cli.running, f"run {kill} ended before the kill at {delay:.2f} s: {cli.stderr()}"
                    cli.send(signal.SIGKILL)
                    killed = await cli.finish(10)
            assert killed.code == -signal.SIGKILL
            killed_with_asked.append(len(asked(sim)))
        done = await run_cli(args, credentials())
        per_key = asked(sim)

    assert done.code == 0, done.stderr
    assert any(0 < n < distinct for n in killed_with_asked), killed_with_asked  # a kill landed mid-query
    # With no faults every answer takes one attempt, in whichever process it came: so recon_attempts
    # must match too (a key in flight at a kill is asked afresh, and its attempts count from one).
    assert_same_table(output, expected)
    assert set(per_key) == set(comparable(expected).column("account_id").unique().to_pylist())
    # Finished keys were not asked again: at most the requests in flight at each kill were repeated.
    assert sum(per_key.values()) <= distinct + KILLS * CONCURRENCY, sum(per_key.values())
    assert not journal_of(output).exists()
    assert not partials(output.parent)


async def test_kill_9_while_writing_leaves_no_temporary_table_behind_after_the_rerun(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    rows = write_many_rows(tmp_path / "rows.csv", rows=1_000_000)
    output = tmp_path / "out" / "status.parquet"
    output.parent.mkdir()
    async with simulator() as sim:
        args = query_args(sim.base_url, rows, output, "--rate", "inf")
        async with started_cli(args, credentials(), tmp_path / "logs") as cli:
            killed = await stop_when(cli, lambda: partials(output.parent), signal.SIGKILL, what="the table's writing")
        done = await run_cli(args, credentials())
        per_key = asked(sim)

    assert killed.code == -signal.SIGKILL
    assert done.code == 0, done.stderr
    assert sum(per_key.values()) == 50  # the rerun found every result in the journal
    assert pq.read_metadata(output).num_rows == 1_000_000
    assert not partials(output.parent), partials(output.parent)


# -- SIGTERM and SIGINT ----------------------------------------------------------------------------

@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_mid_query_keeps_the_journal_and_the_rerun_completes(
        tmp_path: Path, simulator: SimulatorFactory, signum: signal.Signals, code: int) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=360, missing=40, seed=2)
    async with simulator(faults=FaultConfig(latency_ms=5)) as sim:
        expected = await baseline(sim, keys, tmp_path / "baseline")
        output = tmp_path / "stopped" / "status.parquet"
        output.parent.mkdir()
        args = query_args(sim.base_url, keys, output, "--rate", "300")
        async with started_cli(args, credentials(), tmp_path / "logs") as cli:
            stopped = await stop_when(cli, lambda: len(asked(sim)) >= 100, signum, what="100 keys asked")
        asked_before_rerun = len(asked(sim))
        journal_kept, published = journal_of(output).exists(), output.exists() or bool(partials(output.parent))
        done = await run_cli(args, credentials())
        counters = sim.stats()

    assert stopped.code == code, stopped.stderr
    assert signum.name in stopped.stderr and RESUME_HINT in stopped.stderr
    assert journal_kept and not published
    assert asked_before_rerun < 400
    assert done.code == 0, done.stderr
    assert_same_table(output, expected)
    # A graceful stop journals the answers of the requests in flight: no key was asked twice.
    assert counters["max_requests_per_key"] == 1
    assert counters["distinct_keys_queried"] == 400


async def test_sigterm_while_reading_keys_and_while_writing_stops_and_the_rerun_asks_nothing_again(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    rows = write_many_rows(tmp_path / "rows.csv", rows=1_500_000)
    output = tmp_path / "out" / "status.parquet"
    output.parent.mkdir()
    async with simulator() as sim:
        args = query_args(sim.base_url, rows, output, "--rate", "inf")
        async with started_cli(args, credentials(), tmp_path / "logs") as cli:
            # The journal appears as the keys start to be read (signals are handled from before it opens).
            await wait_until(lambda: journal_of(output).exists() or not cli.running, within=30, what="the journal")
            reading = await stop_when(cli, lambda: True, signal.SIGTERM, what="reading keys")
        queried_while_reading = endpoint(sim, "query")
        async with started_cli(args, credentials(), tmp_path / "logs") as cli:
            writing = await stop_when(cli, lambda: partials(output.parent), signal.SIGTERM, what="the writing")
        asked_before_rerun = sum(asked(sim).values())
        journal_kept = journal_of(output).exists()
        done = await run_cli(args, credentials())
        asked_in_all = sum(asked(sim).values())

    assert reading.code == 143, reading.stderr
    assert RESUME_HINT in reading.stderr
    assert queried_while_reading == 0
    assert writing.code == 143, writing.stderr
    assert RESUME_HINT in writing.stderr
    assert journal_kept
    assert asked_before_rerun == 50
    assert done.code == 0, done.stderr
    assert asked_in_all == 50  # the rerun only wrote the table: every result was in the journal
    assert pq.read_metadata(output).num_rows == 1_500_000
    assert not partials(output.parent)


async def test_sigterm_just_as_the_journal_appears_is_handled(tmp_path: Path, simulator: SimulatorFactory) -> None:
    rows = write_many_rows(tmp_path / "rows.csv", rows=300_000)
    output = tmp_path / "status.parquet"
    async with simulator() as sim:
        args = query_args(sim.base_url, rows, output, "--rate", "inf")
        async with started_cli(args, credentials(), tmp_path / "logs") as cli:
            journal = journal_of(output)
            with anyio.fail_after(30):
                while not journal.exists() and cli.running:  # noqa: ASYNC110 (a file in another process)
                    await anyio.sleep(0.0005)
            cli.send(signal.SIGTERM)
            stopped = await cli.finish(30)

    assert stopped.code == 143, "killed by the signal's default action, without a word"
    assert RESUME_HINT in stopped.stderr


async def test_a_second_ctrl_c_cancels_the_requests_in_flight(tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=100, seed=4)
    output = tmp_path / "status.parquet"
    async with simulator(faults=FaultConfig(latency_ms=3000)) as sim:
        args = query_args(sim.base_url, keys, output, "--rate", "inf", "--timeout", "20")
        async with started_cli(args, credentials(), tmp_path / "logs") as cli:
            await wait_until(lambda: sim.stats()["in_flight"], within=20, what="a request in flight")
            cli.send(signal.SIGINT)
            await wait_until(lambda: "SIGINT received: stopping" in cli.stderr(), within=10, what="the first SIGINT")
            cli.send(signal.SIGINT)
            first_signal = time.monotonic()
            stopped = await cli.finish(20)
            seconds = time.monotonic() - first_signal

    assert stopped.code == 130, stopped.stderr
    assert seconds < 1.5, f"took {seconds:.1f} s; the request in flight had 3 s to go"
    assert journal_of(output).exists()


async def test_sigterm_during_the_auto_strategys_size_probe_asks_no_key(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    records = tmp_path / "big-list.csv"
    pacsv.write_csv(pa.table({"account_id": [f"{n:07d}" for n in range(100_000)]}), records)
    keys = tmp_path / "keys.csv"
    pacsv.write_csv(pa.table({"account_id": [f"{n:07d}" for n in range(0, 8000, 100)]}), keys)  # 80 > 64: probe
    output = tmp_path / "status.parquet"
    async with simulator(records=records, faults=FaultConfig(latency_ms=100)) as sim:
        args = run_args(sim.base_url, keys, output, "--rate", "inf")  # --strategy auto, the default
        async with started_cli(args, credentials(), tmp_path / "logs") as cli:
            stopped = await stop_when(cli, lambda: endpoint(sim, "getAll") >= 2, signal.SIGTERM,
                                      what="the size probe")
        per_key = asked(sim)

    assert stopped.code == 143, stopped.stderr
    assert per_key == {}, f"{len(per_key)} keys were asked after SIGTERM"


# -- the output is never seen partial --------------------------------------------------------------

async def test_readers_see_the_previous_table_or_the_new_one_never_a_part(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    old_rows, new_rows = 100_000, 1_000_000
    old_input = write_many_rows(tmp_path / "old.csv", rows=old_rows)
    new_input = write_many_rows(tmp_path / "new.csv", rows=new_rows)
    output = tmp_path / "out" / "status.parquet"
    output.parent.mkdir()
    seen: list[tuple[bool, int]] = []  # (a temporary table existed, rows read)
    async with simulator() as sim:
        done = await run_cli(query_args(sim.base_url, old_input, output, "--rate", "inf"), credentials())
        assert done.code == 0, done.stderr
        async with started_cli(query_args(sim.base_url, new_input, output, "--rate", "inf"), credentials(),
                               tmp_path / "logs") as cli:
            while cli.running:
                writing = bool(partials(output.parent))
                # In a thread: the simulator shares this event loop.
                seen.append((writing, await anyio.to_thread.run_sync(lambda: pq.read_table(output).num_rows)))
            finished = await cli.finish(30)

    assert finished.code == 0, finished.stderr
    assert {rows for _, rows in seen} <= {old_rows, new_rows}
    assert sum(1 for writing, rows in seen if writing and rows == old_rows) >= 3  # read during the writing
    assert pq.read_table(output).num_rows == new_rows
    assert not partials(output.parent)


# -- fatal answers stop the run at once -----------------------------------------------------------

WRONG_SECRET = "not-the-secret-Qx81"


@pytest.mark.parametrize("dialect", ["classic", "v2"])
async def test_a_wrong_password_stops_the_run_within_seconds(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=200, seed=5)
    login = "demo" if dialect == "classic" else "demo-client"
    environment = {"BP_USERNAME": login, "BP_PASSWORD": WRONG_SECRET} if dialect == "classic" else \
        {"BP_CLIENT_ID": login, "BP_CLIENT_SECRET": WRONG_SECRET}
    async with simulator() as sim:
        started = time.monotonic()
        done = await run_cli(query_args(sim.base_url, keys, tmp_path / "status.parquet", dialect=dialect),
                             environment)
        seconds = time.monotonic() - started
        queries, tokens = endpoint(sim, "query"), endpoint(sim, "token")

    assert done.code == 3, done.stderr
    assert seconds < 10
    message = done.stderr
    assert f"user {login!r}" in message and f"{dialect} dialect" in message and "credentials" in message
    assert queries <= 3 and tokens <= 2, (queries, tokens)  # the first request goes alone
    assert WRONG_SECRET not in done.stderr + done.stdout


async def test_a_page_still_failing_at_its_last_attempt_is_exit_1_and_the_rerun_resumes(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=300, seed=8)
    output = tmp_path / "status.parquet"
    args = run_args("", keys, output, "--strategy", "scan", "--page-size", "100", "--max-backoff", "0.2")
    async with simulator(faults=FaultConfig(fail_503=1.0)) as failing:
        args[args.index("--base-url") + 1] = failing.base_url
        failed = await run_cli(args, credentials())
    written_by_the_failed_run = output.exists()
    async with simulator() as healthy:
        args[args.index("--base-url") + 1] = healthy.base_url
        rerun = await run_cli(args, credentials())

    # Exit 1 (rerun later), not 3 (the server's answer is wrong): every attempt met a 503.
    assert failed.code == 1, failed.stderr
    [error] = said(failed.stderr)
    assert error == ("reconciler: error: the getAll page from index 0 could not be read: HTTP 503 after 8 attempts; "
                     "rerun the same command later to go on from this page")
    assert not written_by_the_failed_run
    assert rerun.code == 0, rerun.stderr
    assert pq.read_table(output).num_rows == 300


async def test_a_user_without_the_privilege_stops_the_run(tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=200, seed=6)
    async with simulator() as sim:
        done = await run_cli(query_args(sim.base_url, keys, tmp_path / "status.parquet"),
                             credentials(user="nobody"))
        queries = endpoint(sim, "query")

    assert done.code == 3, done.stderr
    assert "'nobody'" in done.stderr and "'Manage lists' privilege" in done.stderr and "classic" in done.stderr
    assert queries <= 3


@pytest.mark.parametrize("strategy", ["query", "auto"])
@pytest.mark.parametrize(("flag", "value", "what"), [("--list", "Missing_List.txt", "calling list"),
                                                     ("--campaign", "Missing_Campaign", "campaign")])
async def test_an_unknown_list_or_campaign_stops_the_run_after_a_handful_of_requests(
        tmp_path: Path, simulator: SimulatorFactory, strategy: str, flag: str, value: str, what: str) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=200, seed=7)  # all found: the first answer tells
    args = run_args("", keys, tmp_path / "status.parquet", "--strategy", strategy, "--rate", "inf")
    async with simulator() as sim:
        args[args.index("--base-url") + 1] = sim.base_url
        args[args.index(flag) + 1] = value
        done = await run_cli(args, credentials())
        requests = endpoint(sim, "query") + endpoint(sim, "getAll")

    assert done.code == 3, done.stderr
    assert f"{what} not found" in done.stderr and value in done.stderr
    assert requests <= 3, requests


# -- a gateway's rate ceiling, token expiry, a dead server ----------------------------------------

async def test_under_a_gateway_rate_ceiling_the_run_settles_near_it_without_errors(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    # 300 keys rather than 800, to keep the run near ten seconds.
    ceiling, rate = 40, 100
    keys = write_keys(tmp_path / "keys.csv", found=300, seed=8)
    output = tmp_path / "status.parquet"
    async with simulator(faults=FaultConfig(rate_ceiling=ceiling, latency_ms=2)) as sim:
        done = await run_cli(query_args(sim.base_url, keys, output, "--rate", str(rate), "-v"), credentials())
        per_second = sim.stats()["per_second"]
        assert isinstance(per_second, dict)

    assert done.code == 0, done.stderr
    assert statuses(output) == {"found": 300}
    counts = [per_second.get(str(second), 0) for second in range(min(map(int, per_second)),
                                                                  max(map(int, per_second)) + 1)]
    middle = counts[1:-1]  # the first and last seconds are partial
    assert len(middle) >= 4, counts
    achieved = sum(middle) / len(middle)  # every request the gateway saw, refused ones included
    assert 0.5 * ceiling <= achieved <= 1.25 * ceiling, counts
    assert "INFO reconciler.throttle: request rate now" in done.stderr


async def test_a_run_spanning_several_token_lifetimes_renews_its_token(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=540, missing=60, seed=9)
    output = tmp_path / "status.parquet"
    async with simulator(faults=FaultConfig(latency_ms=2), token_lifetime=1.0) as sim:
        started = time.monotonic()
        done = await run_cli(query_args(sim.base_url, keys, output, "--rate", "150", dialect="v2"),
                             credentials("v2"))
        seconds = time.monotonic() - started
        counters = sim.stats()

    assert done.code == 0, done.stderr
    assert seconds > 3  # several lifetimes
    assert statuses(output) == {"found": 540, "not_found": 60}
    tokens = counters["tokens_issued"]
    assert isinstance(tokens, int) and tokens >= 3, tokens
    assert CLIENT_SECRET not in done.stderr


async def test_a_server_failing_every_request_stops_the_run_and_keeps_the_keys_pending(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=270, missing=30, seed=10)
    output = tmp_path / "status.parquet"
    args = ["--rate", "200", "--failure-span", "2", "--max-backoff", "0.05", "--max-attempts", "3"]
    async with simulator(faults=FaultConfig(seed=1, fail_503=1.0)) as dead:
        started = time.monotonic()
        failed = await run_cli(query_args(dead.base_url, keys, output, *args), credentials())
        seconds = time.monotonic() - started
        asked_by_dead = asked(dead)
    journal_kept, published = journal_of(output).exists(), output.exists()
    async with simulator() as healthy:
        done = await run_cli(query_args(healthy.base_url, keys, output, *args), credentials())
        asked_by_healthy = asked(healthy)

    assert failed.code == 1, failed.stderr
    assert seconds < 20
    assert "every request failed" in failed.stderr and "journal is kept" in failed.stderr
    assert journal_kept and not published
    assert asked_by_dead
    # The resumed run asked every key, those the dead server was asked included: none was journalled as an error.
    assert done.code == 0, done.stderr
    assert set(asked_by_dead) <= set(asked_by_healthy) and len(asked_by_healthy) == 300
    assert max(asked_by_healthy.values()) == 1
    assert statuses(output) == {"found": 270, "not_found": 30}


# -- the journal's binding, --fresh, --retry-errors -----------------------------------------------

@asynccontextmanager
async def two_lists(faults: FaultConfig | None = None) -> AsyncIterator[RunningSimulator]:
    """The sample list served twice, as records.csv and as copy.csv."""
    config = SimulatorConfig(
        lists=(ListSource(path=RECORDS, list_name="records.csv", key_fields=("account_id",)),
               ListSource(path=RECORDS, list_name="copy.csv", key_fields=("account_id",))),
        users=(Account(login="demo", secret=PASSWORD),), tenant=TENANT, faults=faults or FaultConfig())
    async with run_simulator(config) as running:
        yield running


async def test_a_journal_is_refused_for_another_list_until_fresh_discards_it(tmp_path: Path) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=270, missing=30, seed=11)
    output = tmp_path / "status.parquet"
    async with two_lists(FaultConfig(latency_ms=5)) as sim:
        args = query_args(sim.base_url, keys, output, "--rate", "150")
        async with started_cli(args, credentials(), tmp_path / "logs") as cli:
            await stop_when(cli, lambda: len(asked(sim)) >= 50, signal.SIGKILL, what="50 keys asked")
        other_list = list(args)
        other_list[other_list.index("--list") + 1] = "copy.csv"
        refused = await run_cli(other_list, credentials())
        sim.reset_stats()
        fresh = await run_cli([*other_list, "--fresh"], credentials())
        per_key = asked(sim)

    assert refused.code == 2, refused.stderr
    assert "--fresh" in refused.stderr and "list" in refused.stderr and "copy.csv" in refused.stderr
    assert fresh.code == 0, fresh.stderr
    assert len(per_key) == 300 and max(per_key.values()) == 1  # nothing was taken from the old journal
    assert statuses(output) == {"found": 270, "not_found": 30}
    assert not journal_of(output).exists()


async def test_retry_errors_on_resume_asks_again_only_the_keys_that_ended_in_error(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=540, missing=60, seed=12)
    output = tmp_path / "status.parquet"
    # A proxy's HTML page instead of an answer: an error row with one attempt, and no reason to slow down.
    async with simulator(faults=FaultConfig(seed=3, html=0.3, latency_ms=5)) as flaky:
        args = query_args(flaky.base_url, keys, output, "--rate", "300", "--max-attempts", "1")
        async with started_cli(args, credentials(), tmp_path / "logs") as cli:
            stopped = await stop_when(cli, lambda: len(asked(flaky)) >= 200, signal.SIGTERM, what="200 keys asked")
        asked_by_flaky = set(asked(flaky))
    async with simulator() as healthy:
        args[args.index("--base-url") + 1] = healthy.base_url
        done = await run_cli([*args, "--retry-errors"], credentials())
        asked_again = set(asked(healthy)) & asked_by_flaky

    assert stopped.code == 143, stopped.stderr
    assert done.code == 0, done.stderr
    assert statuses(output) == {"found": 540, "not_found": 60}
    # About 30 % of the first run's keys ended in error: those, and only those (with the few in flight), again.
    assert 0.1 * len(asked_by_flaky) < len(asked_again) < 0.5 * len(asked_by_flaky), \
        (len(asked_again), len(asked_by_flaky))


async def test_a_run_finished_with_error_rows_keeps_its_journal_for_retry_errors_only(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=270, missing=30, seed=13)
    output = tmp_path / "status.parquet"
    async with simulator(faults=FaultConfig(seed=4, html=0.2)) as flaky:
        args = query_args(flaky.base_url, keys, output, "--rate", "300", "--max-attempts", "1")
        first = await run_cli(args, credentials())
    errors = statuses(output).get("error", 0)
    async with simulator() as healthy:
        args[args.index("--base-url") + 1] = healthy.base_url
        retried = await run_cli([*args, "--retry-errors"], credentials())
        asked_on_retry = sum(asked(healthy).values())
        healthy.reset_stats()
        plain = await run_cli(args, credentials())
        asked_on_plain_rerun = sum(asked(healthy).values())

    assert first.code == 1, first.stderr
    assert 20 < errors < 120, errors
    assert "--retry-errors" in first.stderr and str(journal_of(output)) in first.stderr
    assert retried.code == 0, retried.stderr
    assert asked_on_retry == errors  # only the error rows were asked again
    assert statuses(output) == {"found": 270, "not_found": 30}
    assert not journal_of(output).exists()  # every row resolved: nothing left to retry
    assert plain.code == 0 and asked_on_plain_rerun == 300  # no journal: a plain rerun asks everything afresh


async def test_a_plain_rerun_after_error_rows_asks_the_server_afresh_instead_of_repeating_them(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = write_keys(tmp_path / "keys.csv", found=90, missing=10, seed=14)
    output = tmp_path / "status.parquet"
    async with simulator(faults=FaultConfig(seed=5, html=0.3)) as flaky:
        args = query_args(flaky.base_url, keys, output, "--rate", "300", "--max-attempts", "1")
        first = await run_cli(args, credentials())
    async with simulator() as healthy:
        args[args.index("--base-url") + 1] = healthy.base_url
        again = await run_cli(args, credentials())
        per_key = asked(healthy)

    assert first.code == 1, first.stderr
    assert again.code == 0, again.stderr
    assert len(per_key) == 100 and max(per_key.values()) == 1  # the kept journal's answers were not reused
    assert statuses(output) == {"found": 90, "not_found": 10}
