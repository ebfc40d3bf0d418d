"""PostgreSQL outputs through the real CLI: the status table and the change feed in a real server's tables.

The server is started by the session (tests/postgres_server.py); each test has a database of its own.
The runs fall on one UTC date, so "last night" is made by moving the first night's rows a day back.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli, said
from postgres_server import PASSWORD, Database

pytestmark = pytest.mark.anyio

LOOKUP_COLUMNS = ("recon_http_status", "recon_error", "recon_attempts", "recon_checked_at", "recon_source",
                  "recon_run_id", "recon_run_date")


def pg_env(password: str = PASSWORD) -> dict[str, str]:
    return {**credentials(), "PGPASSWORD": password}


def to_table(args: list[str], url: str) -> list[str]:
    """``args`` (of ``run_args``) with ``--output`` naming a table: a URL is no ``Path``."""
    args[args.index("--output") + 1] = url
    return args


def nightly_args(base_url: str, tmp_path: Path, status: str, changes: str, *extra: str) -> list[str]:
    args = run_args(base_url, SAMPLES / "keys.csv", tmp_path, "--rate", "inf", "--strategy", "incremental",
                    "--state", str(tmp_path / "list.state"), "--changes", changes,
                    "--journal", str(tmp_path / "run.journal"), "--report", str(tmp_path / "report.json"), *extra)
    return to_table(args, status)


def figures(tmp_path: Path) -> dict[str, object]:
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert isinstance(report["figures"], dict)
    return report["figures"]


async def test_each_night_lands_in_typed_tables_that_keep_every_night_and_a_rerun_replaces_its_night(
        tmp_path: Path, simulator: SimulatorFactory, postgres: Database) -> None:
    status, changes = postgres.url("recon_status"), postgres.url("recon_changes")
    async with simulator() as sim:
        first = await run_cli(nightly_args(sim.base_url, tmp_path, status, changes), pg_env())
        assert first.code == 0, first.stderr
        assert PASSWORD not in first.stderr + first.stdout
        assert f"output              {status}" in first.stderr
        yesterday = date.today() - timedelta(days=1)  # the first night, as if it ran a day earlier
        postgres.query("UPDATE recon_status SET recon_run_date = %s", yesterday)
        postgres.query("UPDATE recon_changes SET recon_run_date = %s", yesterday)

        sim.move_on(attempts=300, complete=40, seed=5)
        second = await run_cli(nightly_args(sim.base_url, tmp_path, status, changes), pg_env())
        assert second.code == 0, second.stderr
        night = figures(tmp_path)
        # The same night as a file, for the comparison below: a scan of the same list state.
        as_file = await run_cli(run_args(sim.base_url, SAMPLES / "keys.csv", tmp_path / "scan.parquet", "--rate",
                                         "inf", "--strategy", "scan"), credentials())
        assert as_file.code == 0, as_file.stderr

        rerun = await run_cli(nightly_args(sim.base_url, tmp_path, status, changes), pg_env())
        assert rerun.code == 0, rerun.stderr
        again = figures(tmp_path)

    types = postgres.columns("recon_status")
    assert types["account_id"] == "text" and types["crm_owner"] == "text"
    assert (types["completed"], types["totalAttempts"], types["lastCallDuration"]) == ("boolean", "bigint", "bigint")
    assert types["lastDate"] == types["recon_checked_at"] == "timestamp with time zone"
    assert (types["recon_run_date"], types["recon_http_status"]) == ("date", "integer")
    assert postgres.columns("recon_changes")["previous_completed"] == "boolean"

    nights = postgres.query("SELECT recon_run_date, recon_run_id, count(*) FROM recon_status "
                            "GROUP BY 1, 2 ORDER BY 1")
    assert [(day, rows) for day, _, rows in nights] == [(yesterday, 2002), (date.today(), 2002)]
    assert nights[1][1] == again["run_id"] != night["run_id"], "the rerun replaced its night's rows"

    # Tonight's rows are the table a file output holds, value for value (lookup columns aside).
    scan = pq.read_table(tmp_path / "scan.parquet")
    compared = [name for name in scan.column_names if name not in LOOKUP_COLUMNS]
    quoted = ", ".join(f'"{name}"' for name in compared)
    rows = postgres.query(f"SELECT {quoted} FROM recon_status WHERE recon_run_date = %s", date.today())
    expected = [tuple(row[name] for name in compared) for row in scan.to_pylist()]
    assert len(rows) == len(expected) == 2002
    assert sorted(map(canonical, rows)) == sorted(map(canonical, expected))

    feed = dict(postgres.query("SELECT recon_run_id, count(*) FROM recon_changes GROUP BY 1"))
    assert feed[night["run_id"]] == night["changes"]["rows"] > 0  # type: ignore[index]
    assert again["changes"]["earlier_runs_rows"] == night["changes"]["rows"]  # type: ignore[index]
    assert sum(feed.values()) == night["changes"]["rows"] + again["changes"]["rows"] + feed.get(  # type: ignore[index]
        first_run_id(postgres, yesterday), 0)


def canonical(row: tuple[object, ...]) -> str:
    """A row as comparable text: times in UTC whatever zone the reader attached."""
    return repr(tuple(value.astimezone(UTC) if isinstance(value, datetime) else value for value in row))


def first_run_id(postgres: Database, day: date) -> str:
    return str(postgres.query("SELECT DISTINCT recon_run_id FROM recon_status WHERE recon_run_date = %s", day)[0][0])


WRONG = "wrong-Qp4!distinctive-secret-0017"
UNREACHABLE = "postgresql://recon_admin@127.0.0.1:1/nowhere?table=recon_status"


@pytest.mark.parametrize(("case", "expected"), [
    ("unreachable", "cannot connect: connection failed"),
    ("wrong password", 'password authentication failed for user "recon_admin"'),
    ("no password", "no password supplied; the password comes from PGPASSWORD, PGPASSFILE or ?passfile=PATH"),
    ("password in the URL", "--output: the PostgreSQL URL holds a password; give it in PGPASSWORD"),
    ("status table of other columns", "column 'account_id' is bigint in the table, but this run writes text"),
    ("feed table of other columns", "the table has a column 'note_to_self' (text) that this run does not write"),
    ("one table for both", "--changes names the --output table"),
])
async def test_a_database_that_cannot_take_the_night_stops_the_run_before_any_request(
        tmp_path: Path, simulator: SimulatorFactory, postgres: Database, case: str, expected: str) -> None:
    status, changes, environment = postgres.url("recon_status"), postgres.url("recon_changes"), pg_env()
    if case == "unreachable":
        status = UNREACHABLE
    elif case == "wrong password":
        environment = pg_env(WRONG)
    elif case == "no password":
        environment = {**credentials(), "PGPASSFILE": str(tmp_path / "none")}
    elif case == "password in the URL":
        status = status.replace("recon_admin@", f"recon_admin:{WRONG}@")
    elif case == "status table of other columns":
        postgres.query("CREATE TABLE recon_status (account_id bigint, recon_run_date date)")
    elif case == "feed table of other columns":
        postgres.query("CREATE TABLE recon_changes (note_to_self text)")
    elif case == "one table for both":
        changes = status
    async with simulator() as sim:
        done = await run_cli(nightly_args(sim.base_url, tmp_path, status, changes), environment)
        assert sim.stats()["requests_total"] == 0, "nothing may be asked of the contact center"
    assert done.code == 2, done.stderr
    lines = said(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("reconciler: error: ") and expected in lines[0], done.stderr
    assert WRONG not in done.stderr and PASSWORD not in done.stderr
    created = {name for (name,) in postgres.query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")}
    assert created <= {"recon_status", "recon_changes"} and not (tmp_path / "run.journal").exists()
    if case == "status table of other columns":
        assert postgres.columns("recon_status") == {"account_id": "bigint", "recon_run_date": "date"}, "untouched"
    elif case == "feed table of other columns":
        assert postgres.columns("recon_changes") == {"note_to_self": "text"}, "untouched"
    else:
        assert created == set(), "a refused run creates no table"
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["exit_code"] == 2


async def test_the_password_may_come_from_a_passfile_named_in_the_url(
        tmp_path: Path, simulator: SimulatorFactory, postgres: Database) -> None:
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{postgres.server.port}:{postgres.name}:recon_admin:{PASSWORD}\n", encoding="utf-8")
    passfile.chmod(0o600)
    status = postgres.url("recon_status") + f"&passfile={passfile}"
    async with simulator() as sim:
        done = await run_cli(to_table(run_args(sim.base_url, SAMPLES / "keys.csv", tmp_path, "--rate", "inf",
                                               "--journal", str(tmp_path / "run.journal")), status), credentials())
    assert done.code == 0, done.stderr
    assert postgres.query("SELECT count(*), count(DISTINCT recon_run_id) FROM recon_status") == [(2002, 1)]
