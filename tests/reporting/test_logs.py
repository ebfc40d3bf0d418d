"""Logs and the CLI's own lines: JSON that parses, levels by -v, nothing secret, nothing unprintable."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from reconciler.reporting.logs import RUN_NAME, Console, Masker, configure, json_line, printable

SECRET = "pw-Logs!distinctive-4471"


@pytest.fixture
def reconciler_logger() -> Iterator[logging.Logger]:
    """The ``reconciler`` logger, put back as it was after the test."""
    logger = logging.getLogger("reconciler")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def emit_all_levels() -> None:
    for level in (logging.DEBUG, logging.INFO, logging.WARNING):
        logging.getLogger("reconciler.client").log(level, "at %s with %s", logging.getLevelName(level), SECRET)


@pytest.mark.parametrize(("verbosity", "levels"), [(0, ["WARNING"]), (1, ["INFO", "WARNING"]),
                                                   (2, ["DEBUG", "INFO", "WARNING"])])
def test_json_lines_parse_with_time_level_logger_message_and_mask_the_secret(
        reconciler_logger: logging.Logger, capsys: pytest.CaptureFixture[str], verbosity: int,
        levels: list[str]) -> None:
    configure(verbosity, "json", Masker([SECRET]))
    emit_all_levels()
    err = capsys.readouterr().err
    entries = [json.loads(line) for line in err.splitlines()]
    assert [entry["level"] for entry in entries] == levels
    for entry in entries:
        assert set(entry) == {"time", "level", "logger", "message"}
        assert entry["logger"] == "reconciler.client"
        assert entry["message"] == f"at {entry['level']} with ***"
        assert entry["time"].endswith("+00:00")
    assert SECRET not in err


def test_text_lines_and_a_second_configure_replaces_the_first(reconciler_logger: logging.Logger,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    configure(1, "text", Masker([SECRET]))
    configure(1, "text", Masker([SECRET]))
    logging.getLogger("reconciler.throttle").info("request rate now %s\x1b[2J", "4.00/s")
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.endswith(" INFO reconciler.throttle: request rate now 4.00/s\\x1b[2J\n")
    assert err[4] == "-" and err[10] == "T"  # 2026-03-01T02:15:00, as the progress lines


def test_an_exception_is_masked_too(reconciler_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    configure(0, "json", Masker([SECRET]))
    try:
        raise RuntimeError(f"login failed with {SECRET}")
    except RuntimeError:
        logging.getLogger("reconciler").exception("failed")
    entry = json.loads(capsys.readouterr().err)
    assert "RuntimeError: login failed with ***" in entry["exception"]


def test_on_a_terminal_a_log_line_first_erases_the_live_progress_line(
        reconciler_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    configure(0, "text", Masker(), live_line=True)
    logging.getLogger("reconciler").warning("careful")
    assert capsys.readouterr().err.startswith("\r\x1b[K")


@pytest.mark.parametrize(("text", "masked"), [
    (f"password is {SECRET}", "password is ***"),
    ("Authorization: Bearer 0f3a9c", "Authorization: ***"),
    ('{"Authorization": "Digest username=\\"demo\\", response=\\"6629fae4\\""}', '{"Authorization": ***'),
    ('WWW-Authenticate: Digest realm="x", nonce="abc"', "WWW-Authenticate: Digest ***"),
    ("sent Bearer 0123456789abcdef", "sent Bearer ***"),
    ("grant_type=client_credentials&client_id=app&client_secret=xyz&scope=t",
     "grant_type=client_credentials&client_id=app&client_secret=***&scope=t"),
    ('{"access_token": "9f8e7d", "expires_in": "3600"}', '{"access_token": "***", "expires_in": "3600"}'),
    # prose about secrets stays readable
    ("key 'password': secrets are never read from the configuration file",
     "key 'password': secrets are never read from the configuration file"),
    ("BP_PASSWORD is required: set BP_PASSWORD", "BP_PASSWORD is required: set BP_PASSWORD"),
])
def test_masking(text: str, masked: str) -> None:
    assert Masker([SECRET, "pw"])(text) == masked  # "pw" is too short to mask: it would hit ordinary words


def test_printable_escapes_control_characters_but_keeps_newlines_and_accents() -> None:
    assert printable("Zoë\tZürich\x1b[31m\r\nnext\u2028\x85") == "Zoë\\tZürich\\x1b[31m\\r\nnext\\u2028\\x85"
    assert printable("plain") == "plain"


def test_json_lines_have_no_unprintable_character_and_still_parse() -> None:
    line = json_line("a\x85b\u2028c\u200bd\x01é", logger="reconciler.cli")
    assert line.isprintable()
    assert json.loads(line)["message"] == "a\x85b\u2028c\u200bd\x01é"


def test_the_console_writes_its_own_lines_in_the_log_format(capsys: pytest.CaptureFixture[str]) -> None:
    Console("json", Masker([SECRET])).say(f"reconciler: error: bad {SECRET}\n  detail", level="ERROR")
    Console("text", Masker([SECRET])).say(f"summary {SECRET}\n  line two\x1b[K")
    json_out, text_out = capsys.readouterr().err.split("\n", 1)
    assert json.loads(json_out) | {"time": None} == {"time": None, "level": "ERROR", "logger": "reconciler.cli",
                                                     "message": "reconciler: error: bad ***\n  detail"}
    assert text_out == "summary ***\n  line two\\x1b[K\n"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_fleets_runs_side_by_side_each_name_their_target_in_their_log_lines(
        reconciler_logger: logging.Logger, capsys: pytest.CaptureFixture[str], log_format: str) -> None:
    configure(0, log_format, Masker([SECRET]))

    async def run(name: str) -> None:
        RUN_NAME.set(name)  # as the fleet does in each target's task
        await anyio.lowlevel.checkpoint()  # the other run's task goes on meanwhile
        await anyio.to_thread.run_sync(logging.getLogger("reconciler.client").warning, "slow answers from %s", name)

    async def fleet() -> None:
        async with anyio.create_task_group() as runs:
            runs.start_soon(run, "acme/Campaign_1/calls.csv")
            runs.start_soon(run, "beta/Campaign_2/leads.csv")

    anyio.run(fleet)
    logging.getLogger("reconciler.cli").warning("a line of no run")
    lines = capsys.readouterr().err.splitlines()
    if log_format == "json":
        named = sorted(((json.loads(line).get("target") or ""), json.loads(line)["message"]) for line in lines)
        assert named == [("", "a line of no run"),
                         ("acme/Campaign_1/calls.csv", "slow answers from acme/Campaign_1/calls.csv"),
                         ("beta/Campaign_2/leads.csv", "slow answers from beta/Campaign_2/leads.csv")]
    else:
        said = sorted(line.split(" ", 2)[2] for line in lines)
        assert said == ["reconciler.cli: a line of no run",
                        "reconciler.client: acme/Campaign_1/calls.csv: slow answers from acme/Campaign_1/calls.csv",
                        "reconciler.client: beta/Campaign_2/leads.csv: slow answers from beta/Campaign_2/leads.csv"]
