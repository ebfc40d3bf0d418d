"""Operator experience, end to end: the real CLI in a subprocess (stderr a pipe) against the real simulator.

Progress and logs away from a terminal, the summary against the table, the report against its schema,
secrets nowhere, configuration precedence, the dry run's plan and silence, JSON logs and throttling.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import trustme
from conftest import (
    CLIENT_SECRET,
    PASSWORD,
    RECORDS,
    SAMPLES,
    TENANT,
    Finished,
    SimulatorFactory,
    credentials,
    run_args,
    run_cli,
    said,
)

from reconciler.simulator import FaultConfig
from reconciler.wiring.settings import (
    OPTIONS,
    add_run_options,
    build_config,
    build_presentation,
    merge,
    read_config_file,
)

pytestmark = pytest.mark.anyio

SCHEMA = json.loads((SAMPLES.parent / "docs" / "report-schema.json").read_text())
LOG_LINE_SCHEMA = json.loads((SAMPLES.parent / "docs" / "log-line-schema.json").read_text())
PROGRESS_FIGURES, SUMMARY_FIGURES = (LOG_LINE_SCHEMA["allOf"][0]["then"]["properties"],
                                     LOG_LINE_SCHEMA["allOf"][1]["then"]["properties"])
WRONG_PASSWORD = "wrong-" + PASSWORD  # if it leaked, PASSWORD would be found in it
RECORD_IDS = pacsv.read_csv(RECORDS, convert_options=pacsv.ConvertOptions(
    column_types={"account_id": pa.string()})).column("account_id").to_pylist()


def keys_file(folder: Path, known: int, *, unknown: int = 3) -> Path:
    """A key file of ``known`` keys the list holds, ``unknown`` it does not, and one blank key."""
    rows = [f"{key},known" for key in RECORD_IDS[:known]] + [f"9{i:08d},unknown" for i in range(unknown)]
    path = folder / "keys.csv"
    path.write_text("account_id,note\n" + "\n".join([*rows, " ,blank"]) + "\n")
    return path


def validate(report: dict[str, Any]) -> None:
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def journal_left(folder: Path) -> bool:
    return any(folder.glob("*.reconciler-journal"))


def files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def unprintable(text: str) -> list[str]:
    return sorted({repr(char) for char in text if not (char.isprintable() or char == "\n")})


def assert_no_secret(folder: Path, *runs: Finished, secrets: tuple[str, ...] = (PASSWORD, CLIENT_SECRET),
                     password_file: Path | None = None) -> None:
    """No secret in what the runs printed, nor in any file they left (table, report, journal, ...)."""
    for secret in secrets:
        for finished in runs:
            assert secret not in finished.stdout and secret not in finished.stderr
        for path in [p for p in folder.rglob("*") if p.is_file() and p != password_file]:
            assert secret.encode() not in path.read_bytes(), path


def summary_figures(stderr: str) -> dict[str, Any]:
    """The figures of the summary at the end of stderr, read the way a person reads them."""
    lines = stderr[stderr.rindex("reconciler: run finished"):].splitlines()[1:]
    figures: dict[str, Any] = {"top dispositions": {}}
    in_dispositions = False
    for line in lines:
        if match := re.fullmatch(r"  (rows|found|not_found|invalid_input|error|completed) +([\d,]+).*", line):
            figures[match[1]] = int(match[2].replace(",", ""))
        elif in_dispositions and (match := re.fullmatch(r"    (.+?) +([\d,]+)", line)):
            figures["top dispositions"][match[1]] = int(match[2].replace(",", ""))
        in_dispositions = line == "  top dispositions" or (in_dispositions and line.startswith("    "))
    return figures


# Progress and logs away from a terminal ---------------------------------------------------------------


async def test_away_from_a_terminal_progress_and_logs_are_plain_lines(tmp_path: Path,
                                                                        simulator: SimulatorFactory) -> None:
    keys = keys_file(tmp_path, 150)
    # A gateway's ceiling of 20 requests a second against --rate 100: the throttle slows down, and says so at -v.
    # At 20/s the 153 keys take 7 s or more, so the run outlasts its cuts by the calm second that the climb back
    # (logged at INFO) needs; a higher ceiling let a fast run end before it and made this test depend on timing.
    async with simulator(faults=FaultConfig(rate_ceiling=20)) as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--strategy", "query",
                                      "--rate", "100", "--progress-interval", "0.2", "--max-backoff", "0.5", "-v"),
                             credentials())

    assert done.code == 0, done.stderr
    assert unprintable(done.stderr) == []
    progress = [line for line in done.stderr.splitlines() if re.match(r"\d{4}-\d\d-\d\dT[\d:]{8} querying: ", line)]
    assert len(progress) >= 3, done.stderr
    assert re.search(r"querying: [\d,]+/153 keys \(\d+\.\d%\) [\d.]+/s ETA \d+:\d\d found \d+, not found \d+, "
                     r"errors 0, retries \d+", done.stderr)
    assert "throttled to" in done.stderr
    throttle_logs = [line for line in done.stderr.splitlines() if " INFO reconciler.throttle: request rate now" in line]
    assert throttle_logs, done.stderr


async def test_an_error_message_quoting_the_input_shows_control_characters_escaped(tmp_path: Path) -> None:
    keys = tmp_path / "keys.csv"
    keys.write_text("id\x1b[31m,note\n1,a\n")
    done = await run_cli(run_args("http://127.0.0.1:9", keys, tmp_path / "out.parquet"), credentials())
    assert done.code == 2
    assert unprintable(done.stderr) == []
    assert "columns present: id\\x1b[31m, note" in done.stderr


# The summary equals the table -------------------------------------------------------------------------


async def test_the_summary_and_the_report_equal_the_counts_of_the_table(tmp_path: Path,
                                                                         simulator: SimulatorFactory) -> None:
    output, report = tmp_path / "out.parquet", tmp_path / "report.json"
    # One attempt a request and 4 % of 503s: some rows end in error, so every status is in the table.
    async with simulator(faults=FaultConfig(seed=5, fail_503=0.04)) as sim:
        done = await run_cli(run_args(sim.base_url, SAMPLES / "keys.csv", output, "--strategy", "query",
                                      "--rate", "inf", "--max-attempts", "1", "--report", str(report)),
                             credentials())

    assert done.code == 1, done.stderr
    table = pq.read_table(output).to_pydict()
    statuses = Counter(table["recon_status"])
    dispositions = Counter(value for value in table["lastDisposition"] if value is not None)
    completed = sum(1 for value in table["completed"] if value)
    assert set(statuses) == {"found", "not_found", "invalid_input", "error"}

    figures = summary_figures(done.stderr)
    assert figures["rows"] == len(table["recon_status"])
    assert {name: figures[name] for name in statuses} == dict(statuses)
    assert figures["completed"] == completed
    shown = figures["top dispositions"]
    assert len(shown) == 5 and all(dispositions[name] == count for name, count in shown.items())
    assert min(shown.values()) >= max((n for name, n in dispositions.items() if name not in shown), default=0)
    assert f"{statuses['error']:,} rows ended in error" in done.stderr

    written = json.loads(report.read_text())
    validate(written)
    assert written["outcome"] == "complete_with_errors" and written["exit_code"] == 1
    assert written["figures"]["by_status"] == {name: statuses[name] for name in figures if name in statuses}
    assert written["figures"]["completed_rows"] == completed
    assert {d["disposition"]: d["rows"] for d in written["figures"]["top_dispositions"]}.items() >= shown.items()
    assert len(written["first_errors"]) == min(10, statuses["error"])
    error_rows = [i + 1 for i, value in enumerate(table["recon_status"]) if value == "error"]
    assert [e["row"] for e in written["first_errors"]] == error_rows[:10]


# The report and secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("dialect", "log_format"), [("classic", "text"), ("classic", "json"), ("v2", "json")])
async def test_the_report_validates_and_no_output_holds_a_secret(tmp_path: Path, simulator: SimulatorFactory,
                                                                  dialect: str, log_format: str) -> None:
    keys, report = keys_file(tmp_path, 60), tmp_path / "report.json"
    faults = FaultConfig(seed=3, fail_503=0.05, fail_429=0.05, retry_after=0.05)
    async with simulator(faults=faults) as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.csv", "--strategy", "query", "--rate", "inf",
                                      "--max-backoff", "0.2", "--report", str(report), "--log-format", log_format,
                                      "--progress-interval", "0.2", "-vv", dialect=dialect), credentials(dialect))

    assert done.code == 0, done.stderr
    written = json.loads(report.read_text())
    validate(written)
    assert written["outcome"] == "complete" and written["configuration"]["secret"] == "<redacted>"
    assert_no_secret(tmp_path, done)
    assert not re.search(r"[0-9a-f]{64}", done.stderr)  # a v2 bearer token the simulator issued
    assert not re.search(r"(?i)authorization|bearer |digest username|response=", done.stderr)
    if log_format == "json":
        entries = [json.loads(line) for line in done.stderr.splitlines()]
        assert all(set(entry) >= {"time", "level", "logger", "message"} for entry in entries)
        assert {entry["logger"] for entry in entries} >= {"reconciler.summary"}


async def test_under_a_429_storm_the_report_says_how_the_server_slowed_the_run(tmp_path: Path,
                                                                             simulator: SimulatorFactory) -> None:
    keys, report = keys_file(tmp_path, 150), tmp_path / "report.json"
    # A proxy answering 429 with Retry-After to 15 % of requests, and 503 to 5 %.
    faults = FaultConfig(seed=11, fail_429=0.15, fail_503=0.05, retry_after=0.2)
    async with simulator(faults=faults) as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--strategy", "query",
                                      "--rate", "100", "--max-backoff", "0.3", "--report", str(report)),
                             credentials())
        served = sim.stats()

    assert done.code == 0, done.stderr
    written = json.loads(report.read_text())
    validate(written)
    figures, by_status = written["figures"], served["by_status"]
    sent_429, sent_503 = by_status.get("429", 0), by_status.get("503", 0)  # type: ignore[union-attr]
    assert sent_429 >= 5 and sent_503 >= 1, served
    # Every overload answer the server sent is counted, and each was retried.
    assert figures["retries_by_status"] == {"429": sent_429, "503": sent_503}
    assert figures["retries"] == sent_429 + sent_503
    throttle = figures["throttle"]
    assert throttle["overload_answers"] == sent_429 + sent_503
    assert 1 <= throttle["retry_after_pauses"] <= sent_429  # pauses that overlap are one
    assert throttle["retry_after_seconds"] >= 0.2 * throttle["retry_after_pauses"]
    assert throttle["rate_cuts"] >= 1 and 0 < throttle["lowest_rate"] < 100
    # At the default level, each cut and each pause is one WARNING line, no -v needed.
    lines = done.stderr.splitlines()
    cuts = [line for line in lines if "WARNING reconciler.throttle: request rate cut to" in line]
    pauses = [line for line in lines if "WARNING reconciler.throttle: the server asked to wait" in line]
    assert (len(cuts), len(pauses)) == (throttle["rate_cuts"], throttle["retry_after_pauses"]), done.stderr
    assert f"rate cut {throttle['rate_cuts']} time" in done.stderr  # the summary's throttle line


async def test_a_failed_run_writes_a_valid_report_and_leaks_nothing(tmp_path: Path,
                                                                     simulator: SimulatorFactory) -> None:
    keys, report, output = keys_file(tmp_path, 20), tmp_path / "report.json", tmp_path / "out.parquet"
    async with simulator() as sim:
        text = await run_cli(run_args(sim.base_url, keys, output, "--report", str(report), "-vv"),
                             credentials(password=WRONG_PASSWORD))
        text_report = json.loads(report.read_text())
        as_json = await run_cli(run_args(sim.base_url, keys, output, "--report", str(report), "-vv",
                                         "--log-format", "json"), credentials(password=WRONG_PASSWORD))

    for finished in (text, as_json):
        assert finished.code == 3, finished.stderr
    assert "authentication failed for user 'demo'" in text.stderr
    # The whole URL that answered (scheme, host, port, path): which of several servers refused.
    [line] = [line for line in text.stderr.splitlines() if "authentication failed" in line]
    assert line.endswith(f"; asked {sim.base_url}/admin/ws/t/demo.brightpattern.com/callinglist/get/records.csv/"
                         "Campaign_1"), line  # 20 keys: auto queries them
    [error] = [json.loads(line) for line in as_json.stderr.splitlines() if json.loads(line)["level"] == "ERROR"]
    assert error["message"].startswith("reconciler: error: authentication failed for user 'demo'")
    for written in (text_report, json.loads(report.read_text())):
        validate(written)
        assert written["outcome"] == "aborted" and written["exit_code"] == 3
        assert written["error"].startswith("authentication failed for user 'demo'")
        assert written["figures"] is None and written["configuration"]["login"] == "demo"
    assert not output.exists()
    # Refused at its first request, the run kept no answer: no journal is left to refuse the fixed rerun.
    assert not journal_left(tmp_path)
    assert_no_secret(tmp_path, text, as_json, secrets=(PASSWORD,))


# Configuration precedence -------------------------------------------------------------------------------


def flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("input", nargs="?")
    add_run_options(parser)
    return parser.parse_args(list(argv))


REQUIRED = {"input": "keys.csv", "output": "out.parquet", "list": "L", "campaign": "C"}
ENVIRONMENT = {"BP_USERNAME": "u", "BP_PASSWORD": "p-secret"}


@pytest.mark.parametrize(("file", "environ", "argv", "expected"), [
    ({}, {}, (), None),
    ({"base_url": "http://file"}, {}, (), "http://file"),
    ({"base_url": "http://file"}, {"BP_BASE_URL": "http://env"}, (), "http://env"),
    ({"base_url": "http://file"}, {"BP_BASE_URL": "http://env"}, ("--base-url", "http://flag"), "http://flag"),
    ({}, {"BP_BASE_URL": "http://env"}, ("--base-url", "http://flag"), "http://flag"),
    ({"base_url": "http://file"}, {"BP_BASE_URL": ""}, (), "http://file"),  # an empty variable is no value
])
def test_base_url_precedence(file: dict[str, str], environ: dict[str, str], argv: tuple[str, ...],
                             expected: str | None) -> None:
    assert merge(flags(*argv), file, environ).get("base_url") == expected


@pytest.mark.parametrize(("file", "argv", "concurrency", "rate"), [
    ({}, (), 8, 20.0),  # the defaults
    ({"concurrency": 3, "rate": math.inf}, (), 3, math.inf),
    ({"concurrency": 3, "rate": math.inf}, ("--concurrency", "5"), 5, math.inf),
    ({"concurrency": 3}, ("--concurrency", "5", "--rate", "2.5"), 5, 2.5),
])
def test_defaults_then_file_then_flags(file: dict[str, Any], argv: tuple[str, ...], concurrency: int,
                                       rate: float) -> None:
    settings = merge(flags(*argv), {**REQUIRED, "base_url": "http://b", "tenant": "t", **file}, ENVIRONMENT)
    config = build_config(settings, ENVIRONMENT)
    assert (config.policy.concurrency, config.policy.rate) == (concurrency, rate)


def test_tenant_from_the_environment_beats_the_file_and_a_flag_beats_both() -> None:
    file = {**REQUIRED, "base_url": "http://b", "tenant": "file.example.com"}
    environ = {**ENVIRONMENT, "BP_TENANT": "env.example.com"}
    assert build_config(merge(flags(), file, environ), environ).target.tenant == "env.example.com"
    flagged = merge(flags("--tenant", "flag.example.com"), file, environ)
    assert build_config(flagged, environ).target.tenant == "flag.example.com"


def test_the_nightly_example_configuration_holds_only_known_keys() -> None:
    path = SAMPLES / "nightly.toml"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the README's nightly example must ship with the repository")
    settings = read_config_file(path)  # raises, naming the key, on any unknown key or wrong type
    build_presentation(settings)
    config = build_config(merge(flags(), settings, {"BP_PASSWORD": "x"}), {"BP_PASSWORD": "x"})
    assert config.target.list_name and config.output_path


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)  # a JSON string or list of strings is valid TOML


async def test_a_toml_file_with_every_setting_under_flags_and_environment(tmp_path: Path,
                                                                           simulator: SimulatorFactory) -> None:
    keys, password_file = keys_file(tmp_path, 30), tmp_path / "bp-password"
    password_file.write_text(PASSWORD + "\n")
    output, report, unmatched = tmp_path / "out.parquet", tmp_path / "report.json", tmp_path / "unmatched.csv"
    previous = tmp_path / "yesterday.csv"
    previous.write_text("account_id,recon_status,completed,lastDisposition,lastDate,lastPhone,lastCallDuration,"
                        "lastAgent,totalAttempts\n")
    ca_bundle = tmp_path / "corp-ca.pem"  # checked before anything is sent, though an http:// server needs none
    trustme.CA().cert_pem.write_to_path(str(ca_bundle))
    file_settings: dict[str, object] = {
        "input": str(keys), "output": str(tmp_path / "from-file.parquet"), "base_url": "http://127.0.0.1:9",
        "tenant": "file.example.com", "list": "records.csv", "campaign": "Campaign_1", "key": ["account_id"],
        "dialect": "classic", "concurrency": 3, "rate": 1, "max_attempts": 4, "timeout": 7, "max_backoff": 0.2,
        "failure_span": 60, "input_format": "csv", "output_format": "parquet", "input_encoding": "utf-8",
        "password_file": str(password_file), "journal": str(tmp_path / "run.journal"), "skip_bad_rows": True,
        "fresh": True, "retry_errors": True, "insecure": False, "strategy": "query", "unmatched": str(unmatched),
        "report": str(report), "quiet": True, "progress_interval": 5, "log_format": "json", "dry_run": False,
        "offline": False, "username": "demo", "state": str(tmp_path / "list.state"),
        "changes": str(tmp_path / "changes.parquet"), "previous": str(previous), "full_refresh_after": "3d",
        "overlap": "15m", "audit": str(tmp_path / "audit.html"), "ca_bundle": str(ca_bundle),
        "system_trust_store": False, "max_row_bytes": "2MiB", "page_size": 500, "unreachable_after": 5,
    }
    v3_only = {"campaign_id", "instance_id"}  # refused with the classic dialect; tests/client/test_v3.py reads them
    assert {option.name for option in OPTIONS} - v3_only <= set(file_settings), "a new flag needs a value here"
    config = tmp_path / "reconciler.toml"
    config.write_text("".join(f"{name.replace('_', '-')} = {toml_value(value)}\n"
                              for name, value in file_settings.items()))

    async with simulator() as sim:
        done = await run_cli(["run", "--config", str(config), "--output", str(output), "--tenant", TENANT,
                              "--concurrency", "5", "--rate", "inf", "--strategy", "scan"],
                             {"BP_BASE_URL": sim.base_url, "BP_TENANT": "env.example.com"})

    assert done.code == 0, done.stderr
    assert (tmp_path / "audit.html").read_text().startswith("<!DOCTYPE html>")  # audit from the file
    assert done.stderr == "" and done.stdout == ""  # quiet from the file: a good run prints nothing
    planned = await run_cli(["run", "--config", str(config), "--output", str(output), "--strategy", "scan",
                             "--dry-run", "--offline"],
                            {"BP_BASE_URL": sim.base_url})
    assert planned.code == 0, planned.stderr
    assert [json.loads(line)["logger"] for line in planned.stderr.splitlines()] == ["reconciler.plan"]  # log_format
    written = json.loads(report.read_text())
    validate(written)
    settings = written["configuration"]
    assert settings["base_url"] == sim.base_url  # environment over file
    assert settings["tenant"] == TENANT  # flag over environment
    assert (settings["concurrency"], settings["rate"], settings["strategy"]) == (5, None, "scan")  # flags over file
    assert (settings["max_attempts"], settings["timeout"], settings["max_backoff"]) == (4, 7.0, 0.2)  # file
    assert settings["max_row_bytes"] == 2 << 20  # file
    assert (settings["page_size"], settings["unreachable_after"]) == (500, 5)  # file
    assert settings["login"] == "demo" and settings["journal"] == str(tmp_path / "run.journal")
    assert (settings["ca_bundle"], settings["system_trust_store"], settings["proxy"]) == (str(ca_bundle), False, None)
    assert written["figures"]["strategy"] == "scan" and written["figures"]["output"] == str(output)
    assert output.exists() and unmatched.exists() and not (tmp_path / "from-file.parquet").exists()
    changes = pq.read_table(tmp_path / "changes.parquet")  # every row is new beside an empty previous table
    resolved = [s for s in pq.read_table(output).column("recon_status").to_pylist() if s in ("found", "not_found")]
    assert changes.num_rows == len(resolved) and set(changes.column("change_type").to_pylist()) == {"new"}
    assert_no_secret(tmp_path, done, secrets=(PASSWORD,), password_file=password_file)


async def test_an_unknown_key_in_the_configuration_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.toml"
    config.write_text('tenant = "t"\ncolour = "red"\n')
    done = await run_cli(["run", "--config", str(config)], credentials())
    assert done.code == 2
    assert done.stderr.count("\n") == 1 and f"{config}: unknown key 'colour'; known keys: " in done.stderr


# The dry run -------------------------------------------------------------------------------------------


def plan_lines(stderr: str) -> dict[str, str]:
    return {line[2:19].strip(): line[19:] for line in stderr.splitlines() if line.startswith("  ")}


@pytest.mark.parametrize("dialect", ["classic", "v2"])
async def test_a_dry_run_checks_the_server_but_queries_no_record_and_leaves_nothing(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    keys = keys_file(tmp_path, 40)
    before = files(tmp_path)
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--strategy", "query", "--rate",
                                      "8", "--dry-run", "--report", str(tmp_path / "report.json"), dialect=dialect),
                             credentials(dialect))
        counters = sim.stats()

    assert done.code == 0, done.stderr
    endpoints = counters["by_endpoint"]
    assert endpoints["query"] == 0  # type: ignore[index]
    # One getAll of one record proves credentials, list and campaign; digest pays its challenge on it.
    assert endpoints["getAll"] - counters["digest_challenges"] <= 1  # type: ignore[index, operator]
    assert counters["digest_challenges"] <= (1 if dialect == "classic" else 0)  # type: ignore[operator]
    if dialect == "v2":
        assert endpoints["getAll"] <= 1  # type: ignore[index]
    assert files(tmp_path) == before  # no journal, no output, no report
    plan = plan_lines(done.stderr)
    assert plan["input"] == f"{keys} (44 rows)"
    assert plan["distinct keys"] == "43 (1 row with an empty or oversized key, not sent)"
    assert plan["requests"] == "43 (one per distinct key, plus retries)"
    assert plan["duration"] == "about 6 s at 8 requests/s (--rate), plus retries"
    assert plan["server"].startswith("credentials, list and campaign checked")


async def test_a_dry_run_learns_the_list_size_to_state_the_strategy_auto_would_take(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = keys_file(tmp_path, 100)
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--rate", "20", "--dry-run"),
                             credentials())
        counters = sim.stats()

    assert done.code == 0, done.stderr
    assert counters["by_endpoint"]["query"] == 0  # type: ignore[index]
    plan = plan_lines(done.stderr)
    assert plan["strategy"] == "auto: scan"
    assert plan["requests"] == "4 getAll pages for a list of 3,000 records, plus retries (querying would take 103)"
    assert plan["duration"] == "about 1 s at 20 requests/s (--rate), plus retries"


async def test_an_offline_dry_run_sends_nothing_at_all(tmp_path: Path, simulator: SimulatorFactory) -> None:
    keys = keys_file(tmp_path, 100)
    before = files(tmp_path)
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--dry-run", "--offline"),
                             credentials(password=WRONG_PASSWORD))  # not even checked
        counters = sim.stats()

    assert done.code == 0, done.stderr
    assert counters["requests_total"] == 0
    assert files(tmp_path) == before
    plan = plan_lines(done.stderr)
    assert plan["server"] == "server not contacted (--offline)"
    assert plan["strategy"] == "auto" and plan["duration"].startswith("unknown until the list's size is known")
    assert_no_secret(tmp_path, done, secrets=(PASSWORD,))


async def test_a_dry_run_with_bad_credentials_fails_like_the_run_would(tmp_path: Path,
                                                                       simulator: SimulatorFactory) -> None:
    keys = keys_file(tmp_path, 5)
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--dry-run"),
                             credentials(password=WRONG_PASSWORD))
        counters = sim.stats()
    assert done.code == 3 and "authentication failed" in done.stderr
    assert counters["by_endpoint"]["query"] == 0  # type: ignore[index]
    assert_no_secret(tmp_path, done, secrets=(PASSWORD,))


# JSON logs ---------------------------------------------------------------------------------------------


async def test_json_logs_progress_and_summary_are_one_object_a_line(tmp_path: Path,
                                                                      simulator: SimulatorFactory) -> None:
    keys = keys_file(tmp_path, 150)
    # A gateway ceiling of 20/s: the run outlasts its rate cuts by the calm second that the INFO climb-back
    # line needs (against 40/s a run of under 4 s could end first on a fast machine, and did in CI).
    async with simulator(faults=FaultConfig(rate_ceiling=20)) as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--strategy", "query",
                                      "--rate", "100", "--progress-interval", "0.2", "--max-backoff", "0.5",
                                      "--log-format", "json", "-v"), credentials())

    assert done.code == 0, done.stderr
    assert unprintable(done.stderr) == []
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    figures = {"reconciler.progress": set(PROGRESS_FIGURES), "reconciler.summary": set(SUMMARY_FIGURES)}
    for entry in entries:
        jsonschema.validate(entry, LOG_LINE_SCHEMA, cls=jsonschema.Draft202012Validator,
                            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        base = {"time", "level", "logger", "message"}
        assert set(entry) == base | figures.get(entry["logger"], set())
        assert entry["time"].endswith("+00:00") and entry["level"] in ("DEBUG", "INFO", "WARNING", "ERROR")
    loggers = Counter(entry["logger"] for entry in entries)
    assert loggers["reconciler.progress"] >= 3 and loggers["reconciler.summary"] == 1
    throttled = [e for e in entries if e["logger"] == "reconciler.throttle" and e["level"] == "INFO"]
    assert any(e["message"].startswith("request rate now ") for e in throttled)
    assert all(e["message"].startswith("request rate now ") for e in throttled)
    cuts = [e for e in entries if e["logger"] == "reconciler.throttle" and e["level"] == "WARNING"]
    assert cuts and all(e["message"].startswith(("request rate cut to ", "the server asked to wait ")) for e in cuts)
    assert entries[-1]["message"].startswith("reconciler: run finished")


async def test_the_json_summary_carries_the_figures_of_the_report_as_keys(tmp_path: Path,
                                                                         simulator: SimulatorFactory) -> None:
    keys, report = keys_file(tmp_path, 40), tmp_path / "report.json"
    async with simulator() as sim:
        args = run_args(sim.base_url, keys, tmp_path / "out.parquet", "--strategy", "query", "--rate", "inf")
        done = await run_cli([*args, "--log-format", "json", "--report", str(report)], credentials())
        text = await run_cli(args, credentials())

    assert done.code == 0 and text.code == 0, done.stderr + text.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    summaries = [entry for entry in entries if entry["logger"] == "reconciler.summary"]
    assert len(summaries) == 1
    summary = summaries[0]
    jsonschema.validate(summary, LOG_LINE_SCHEMA, cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    figures = json.loads(report.read_text())["figures"]
    assert {name: summary[name] for name in figures} == figures  # the report's figures, by the report's names
    assert set(summary) == {"time", "level", "logger", "message", *figures}
    assert summary["by_status"] == {"found": 40, "not_found": 3, "invalid_input": 1, "error": 0}
    assert (summary["rows"], summary["distinct_keys"], summary["strategy"]) == (44, 43, "query")
    assert summary["level"] == "INFO" and summary["output"] == str(tmp_path / "out.parquet")
    def untimed(summary: str) -> str:
        return re.sub(r"[\d.,]+ s|[\d.,]+/s", "", summary.rstrip("\n"))

    assert untimed(summary["message"]) == untimed("\n".join(said(text.stderr)))  # as a text run prints it
    with pytest.raises(jsonschema.ValidationError):  # the schema holds the summary line to the report's figures
        jsonschema.validate({k: v for k, v in summary.items() if k != "by_status"}, LOG_LINE_SCHEMA)


# --quiet -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_quiet_run_that_resolves_every_row_prints_nothing_at_all(tmp_path: Path, simulator: SimulatorFactory,
                                                                         log_format: str) -> None:
    keys, output = keys_file(tmp_path, 100), tmp_path / "out.parquet"
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, keys, output, "--quiet", "--log-format", log_format,
                                      "--progress-interval", "0.1", "--audit", str(tmp_path / "audit.html")),
                             credentials())

    assert done.code == 0
    assert (done.stdout, done.stderr) == ("", "")  # cron mails a job's output: a good night sends no mail
    assert pq.read_table(output).num_rows == 104 and (tmp_path / "audit.html").exists()


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_quiet_run_with_error_rows_prints_one_line(tmp_path: Path, simulator: SimulatorFactory,
                                                           log_format: str) -> None:
    keys, output = keys_file(tmp_path, 60), tmp_path / "out.parquet"
    # One attempt a request and 20 % of a proxy's HTML pages: some rows end in error (exit 1), and no
    # overload answer makes the throttle warn (its warnings would show under --quiet too).
    async with simulator(faults=FaultConfig(seed=5, html=0.2)) as sim:
        done = await run_cli(run_args(sim.base_url, keys, output, "--quiet", "--log-format", log_format,
                                      "--strategy", "query", "--rate", "inf", "--max-attempts", "1"), credentials())

    assert done.code == 1 and done.stdout == ""
    errors = pq.read_table(output).column("recon_status").to_pylist().count("error")
    assert errors >= 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    line = json.loads(lines[0]) if log_format == "json" else {"message": lines[0]}
    assert re.fullmatch(rf"reconciler: run finished in [\d.]+ s; {errors:,} rows? ended in error, "
                        r"see recon_error \(exit 1\)", line["message"])
    if log_format == "json":
        jsonschema.validate(line, LOG_LINE_SCHEMA, cls=jsonschema.Draft202012Validator)
        assert line["level"] == "WARNING" and line["logger"] == "reconciler.summary"
        assert line["by_status"]["error"] == errors


async def test_json_progress_lines_carry_their_figures_as_typed_keys(tmp_path: Path,
                                                                     simulator: SimulatorFactory) -> None:
    keys = keys_file(tmp_path, 150)
    async with simulator(faults=FaultConfig(rate_ceiling=40)) as sim:
        done = await run_cli(run_args(sim.base_url, keys, tmp_path / "out.parquet", "--strategy", "query",
                                      "--rate", "100", "--progress-interval", "0.2", "--max-backoff", "0.5",
                                      "--log-format", "json"), credentials())

    assert done.code == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    progress = [line for line in lines if line["logger"] == "reconciler.progress"]
    querying = [line for line in progress if line["phase"] == "querying"]
    assert len(querying) >= 3, done.stderr
    for line in progress:
        jsonschema.validate(line, LOG_LINE_SCHEMA, cls=jsonschema.Draft202012Validator)
        assert type(line["done"]) is int and type(line["rate"]) in (int, float) and type(line["retries"]) is int
        assert line["total"] is None or type(line["total"]) is int
        assert line["eta_seconds"] is None or type(line["eta_seconds"]) is int
        assert line["throttled_rate"] is None or type(line["throttled_rate"]) in (int, float)
    for line in querying:
        # The figures are those of the message beside them.
        found, not_found, errors = (line[name] for name in ("found", "not_found", "errors"))
        assert all(type(value) is int for value in (found, not_found, errors))
        assert f"{line['done']:,}/{line['total']:,} keys" in line["message"] and line["total"] == 153
        assert f"found {found:,}, not found {not_found:,}, errors {errors:,}, retries {line['retries']:,}" \
            in line["message"]
        assert found + not_found + errors == line["done"] and line["unit"] == "keys"
        assert (line["throttled_rate"] is None) == ("throttled to" not in line["message"])
    assert any(line["throttled_rate"] is not None and line["throttled_rate"] < 100 for line in querying)
    assert [line["retries"] for line in querying] == sorted(line["retries"] for line in querying)
    assert any(line["retries"] > 0 for line in querying)
    # The default level shows each cut of the rate, as a warning, with no -v.
    assert any(line["level"] == "WARNING" and line["message"].startswith("request rate cut to ") for line in lines)


async def test_a_reader_that_goes_away_does_not_cost_the_run(tmp_path: Path, simulator: SimulatorFactory) -> None:
    # `reconciler run ... 2>&1 | head -2`: stderr's reader is gone after the first lines.
    keys = keys_file(tmp_path, 150)
    output, report = tmp_path / "out.parquet", tmp_path / "report.json"
    async with simulator(faults=FaultConfig(latency_ms=5)) as sim:
        args = run_args(sim.base_url, keys, output, "--strategy", "query", "--rate", "100",
                        "--progress-interval", "0.1", "--report", str(report))
        environment = {**{k: v for k, v in os.environ.items() if not k.startswith("BP_")}, **credentials()}
        read_end, write_end = os.pipe()
        process = await anyio.open_process([sys.executable, "-m", "reconciler", *args], stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=write_end, env=environment)
        os.close(write_end)
        async with process:
            try:
                first = await anyio.to_thread.run_sync(os.read, read_end, 100)  # the first line
            finally:
                os.close(read_end)
            with anyio.fail_after(60):
                code = await process.wait()

    assert first  # a line was written before the reader left
    assert code == 0
    assert Counter(pq.read_table(output).column("recon_status").to_pylist()) == \
        {"found": 150, "not_found": 3, "invalid_input": 1}
    assert json.loads(report.read_text())["outcome"] == "complete"
