"""The dry run's plan, end to end: offline without credentials, v3's list size, and incremental nights by their state.

The real CLI in a subprocess against the real simulator (``test_operator.py`` covers the plan of query,
scan and auto over classic and v2, and a dry run's silence towards the server).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import PASSWORD, RECORDS, SimulatorFactory, credentials, run_args, run_cli
from test_operator import RECORD_IDS, assert_no_secret, files, keys_file, plan_lines

pytestmark = pytest.mark.anyio


# --offline needs no secret ------------------------------------------------------------------------------


@pytest.mark.parametrize(("dialect", "login", "secret"), [("classic", "BP_USERNAME", "BP_PASSWORD"),
                                                          ("v3", "BP_CLIENT_ID", "BP_CLIENT_SECRET")])
async def test_an_offline_dry_run_checks_the_configuration_without_credentials(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str, login: str, secret: str) -> None:
    keys = keys_file(tmp_path, 100)
    before = files(tmp_path)
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--dry-run", "--offline",
                                      dialect=dialect), {})  # no BP_* variable, no --password-file
        sent = sim.stats()["requests_total"]

    assert done.code == 0, done.stderr
    assert sent == 0 and files(tmp_path) == before
    plan = plan_lines(done.stderr)
    assert plan["server"] == "server not contacted (--offline)"
    assert plan["credentials"] == (f"not read (--offline): {login} not set, {secret} not set; a run needs {login} and "
                                   f"{secret} (or --password-file), and stops (exit 2) without them")
    assert plan["distinct keys"] == "103 (1 row with an empty or oversized key, not sent)"


async def test_an_offline_dry_run_names_where_the_credentials_would_come_from_and_reads_no_secret(
        tmp_path: Path) -> None:
    keys, password_file = keys_file(tmp_path, 10), tmp_path / "bp-password"
    password_file.write_text(PASSWORD + "\n")
    args = run_args("http://127.0.0.1:9", keys, tmp_path / "out.parquet", "--dry-run", "--offline")
    from_environment = await run_cli(args, credentials())
    from_file = await run_cli([*args, "--password-file", str(password_file)], {"BP_USERNAME": "demo"})
    missing_file = await run_cli([*args, "--password-file", str(tmp_path / "nowhere")], {"BP_USERNAME": "demo"})

    assert (from_environment.code, from_file.code, missing_file.code) == (0, 0, 0)
    said = [plan_lines(done.stderr)["credentials"] for done in (from_environment, from_file, missing_file)]
    assert said == ["not read (--offline): BP_USERNAME set, BP_PASSWORD set",
                    f"not read (--offline): BP_USERNAME set, --password-file {password_file}",
                    f"not read (--offline): BP_USERNAME set, --password-file {tmp_path / 'nowhere'} (no such file)"]
    assert_no_secret(tmp_path, from_environment, from_file, missing_file, secrets=(PASSWORD,),
                     password_file=password_file)


async def test_an_offline_dry_run_still_refuses_a_bad_configuration(tmp_path: Path) -> None:
    keys = keys_file(tmp_path, 10)
    done = await run_cli(run_args("http://127.0.0.1:9", keys, tmp_path / "out.parquet", "--dry-run", "--offline",
                                  "--key", "acct"), {})
    assert done.code == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "key column 'acct' is not in the file; columns present: account_id, note" in done.stderr


# v3: the list's size is Get Campaign's totalRecords -----------------------------------------------------


async def test_a_v3_dry_run_takes_the_list_size_from_get_campaign_and_probes_no_index(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = keys_file(tmp_path, 100)
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--rate", "20", "--dry-run",
                                      dialect="v3"), credentials("v3"))
        endpoints = sim.stats()["by_endpoint"]
        offline = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--dry-run", "--offline",
                                         dialect="v3"), {})

    assert done.code == 0 and offline.code == 0, done.stderr + offline.stderr
    assert (endpoints["query"], endpoints["getAll"]) == (0, 1), endpoints  # type: ignore[index]
    plan = plan_lines(done.stderr)
    assert plan["strategy"] == "auto: scan"
    assert plan["requests"] == ("4 getAllRecords pages for a list of 3,000 records, plus retries "
                                "(querying would take 103)")
    assert plan["server"] == ("credentials, campaign and list instance checked with a one-record getAllRecords read; "
                              "the list's size from Get Campaign's totalRecords")
    requests = plan_lines(offline.stderr)["requests"]
    assert requests == ("query: 103; scan: one getAllRecords page per 1,000 records of the list; the run takes the "
                        "list's size from Get Campaign's totalRecords (unknown with --instance-id: it then queries) "
                        "and takes the cheaper")


# Incremental: what the state says -----------------------------------------------------------------------


def nightly_keys(folder: Path, unknown: int) -> Path:
    """200 keys of the list and ``unknown`` keys it does not hold."""
    path = folder / "keys.csv"
    path.write_text("account_id\n" + "".join(f"{key}\n" for key in RECORD_IDS[:200])
                    + "".join(f"9{i:08d}\n" for i in range(unknown)))
    return path


def state_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("list.state"))


async def test_an_incremental_dry_run_says_a_first_night_reads_the_list_whole_and_makes_no_state(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys, state = nightly_keys(tmp_path, 0), tmp_path / "list.state"
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--strategy", "incremental",
                                      "--state", str(state), "--rate", "20", "--dry-run"), credentials())
    assert done.code == 0, done.stderr
    assert plan_lines(done.stderr)["requests"] == (f"a full read of the list (4 getAll pages): a first run, the state "
                                                   f"{state} does not exist yet")
    assert plan_lines(done.stderr)["duration"] == "about 1 s at 20 requests/s (--rate), plus retries"
    assert state_files(tmp_path) == []


async def test_an_incremental_dry_run_reads_the_state_without_changing_it_to_say_what_tonight_asks(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    state = tmp_path / "list.state"
    nightly = ["--strategy", "incremental", "--state", str(state), "--rate", "20"]
    async with simulator() as sim:
        first = await run_cli(run_args(sim.base_url, nightly_keys(tmp_path, 0), tmp_path / "night-1.parquet",
                                       *nightly), credentials())
        assert first.code == 0, first.stderr
        kept, stamp, left = state.read_bytes(), state.stat().st_mtime_ns, state_files(tmp_path)
        sim.reset_stats()

        async def plan(unknown: int, *extra: str) -> dict[str, str]:
            done = await run_cli(run_args(sim.base_url, nightly_keys(tmp_path, unknown), tmp_path / "night-2.parquet",
                                          *nightly, "--dry-run", "--offline", *extra), {})
            assert done.code == 0, done.stderr
            return plan_lines(done.stderr)

        few, many, stale = await plan(2), await plan(4), await plan(2, "--full-refresh-after", "0s")
        sent = sim.stats()["requests_total"]

    changes = re.compile(r"getChanged and getCompleted pages from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(the state's "
                         r"high-water mark less --overlap\), one per 1,000 changed records; then ")
    # 2 keys the state lacks cost 2 requests, fewer than the 4 pages of a full read: they are asked.
    assert changes.match(few["requests"]), few["requests"]
    assert few["requests"].endswith("then one Query a record for each of the 2 keys the state does not hold "
                                    "(a full read would take 4 pages)")
    assert few["duration"] == ("at least 1 s at 20 requests/s (--rate), more pages if more than 1,000 records "
                               "changed, plus retries")
    # 4 keys cost as much as reading the list whole, which the run then does.
    assert changes.match(many["requests"]), many["requests"]
    assert many["requests"].endswith("then a full read of the list (4 getAll pages), cheaper than asking the 4 keys "
                                     "the state does not hold one by one")
    assert re.fullmatch(r"a full read of the list \(about 4 getAll pages for the 3,000 records the state holds\): the "
                        r"last full read \(.+ UTC\) is older than --full-refresh-after", stale["requests"])
    assert sent == 0
    assert state.read_bytes() == kept and state.stat().st_mtime_ns == stamp  # the state is as the night left it
    assert state_files(tmp_path) == left == ["list.state"]  # no lock, no write-ahead log left behind


async def test_a_v3_incremental_dry_run_says_when_get_campaign_counts_other_records_than_the_state(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    state, keys = tmp_path / "list.state", nightly_keys(tmp_path, 0)
    nightly = ["--strategy", "incremental", "--state", str(state)]
    async with simulator(records=RECORDS) as sim:
        first = await run_cli(run_args(sim.base_url, keys, tmp_path / "night-1.parquet", *nightly, dialect="v3"),
                              credentials("v3"))
        assert first.code == 0, first.stderr
        sim.move_on(delete=5, seed=1)
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "night-2.parquet", *nightly, "--dry-run",
                                      dialect="v3"), credentials("v3"))
    assert done.code == 0, done.stderr
    requests = plan_lines(done.stderr)["requests"]
    assert requests.startswith("getUpdatedRecords and getCompletedRecords pages from "), requests
    assert requests.endswith("; Get Campaign's totalRecords (2,995) is not the 3,000 records the state holds: unless "
                             "tonight's changes make up the difference, the list is then read whole"), requests
