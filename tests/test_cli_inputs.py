"""The command line with hostile inputs: exit 2, one line naming the file, line or setting and the fix,
no traceback, and not a single request sent (the server address is a closed port, and the client
module is replaced by one that fails the test if the run ever gets that far)."""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from privileges import unprivileged

import reconciler.reporting.summary
import reconciler.wiring.pipeline
from reconciler.cli import main

SECRET = "hunter2-do-not-print"
CLOSED_PORT = "http://127.0.0.1:9"
assert reconciler.wiring.pipeline and reconciler.reporting.summary  # imported before any test gives up root's rights


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A machine's SSL_CERT_FILE would be checked as the run's CA bundle, with reconciler.client's TLS module.
    for name in ("BP_BASE_URL", "BP_TENANT", "BP_CLIENT_ID", "BP_CLIENT_SECRET", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BP_USERNAME", "alice")
    monkeypatch.setenv("BP_PASSWORD", SECRET)
    client = types.ModuleType("reconciler.client")

    def open_record_source(*args: object) -> None:
        raise AssertionError("a request was about to be sent")

    client.open_record_source = open_record_source  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "reconciler.client", client)
    # main() adds a log handler on the captured stderr each time; keep them from piling up.
    monkeypatch.setattr(logging.getLogger("reconciler"), "handlers", [])


def reconcile(capsys: pytest.CaptureFixture[str], *argv: str | Path, target: bool = True) -> tuple[int, str]:
    """Exit code and stderr of ``reconciler run ...``."""
    args = ["run", *map(str, argv)]
    if target:
        args += ["--base-url", CLOSED_PORT, "--tenant", "t.example.com", "--list", "List_1.txt", "--campaign", "C"]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert SECRET not in err
    return code, err


def refused(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    """The one-line message of a run that must stop with exit 2."""
    code, err = reconcile(capsys, *argv)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("reconciler: error: "), err
    return err.removeprefix("reconciler: error: ").rstrip("\n")




# Input files -----------------------------------------------------------------------------------------

Setup = Callable[[Path], Path]


def write(name: str, content: bytes) -> Setup:
    def setup(folder: Path) -> Path:
        (folder / name).write_bytes(content)
        return folder / name

    return setup


def parquet(name: str, table: pa.Table) -> Setup:
    def setup(folder: Path) -> Path:
        pq.write_table(table, folder / name)
        return folder / name

    return setup


def missing(folder: Path) -> Path:
    return folder / "keys.csv"


def dangling(folder: Path) -> Path:
    (folder / "keys.csv").symlink_to(folder / "gone.csv")
    return folder / "keys.csv"


def through_a_file(folder: Path) -> Path:
    (folder / "file").write_text("id\n1\n")
    return folder / "file" / "keys.csv"


def fifo(folder: Path) -> Path:
    os.mkfifo(folder / "keys.csv")
    return folder / "keys.csv"


def a_folder(folder: Path) -> Path:
    (folder / "keys.csv").mkdir()
    return folder / "keys.csv"


RAGGED = b'id,name\n1,a\n\n2,"multi\nline"\n3,c,extra\n'
INPUT_CASES = [
    ("missing", missing, "no such file; check the path"),
    ("dangling symlink", dangling, "is a symbolic link to a missing file; check the path"),
    ("path through a file", through_a_file, "a folder on the path is a file; check the path"),
    ("fifo", fifo, "is not a regular file (a pipe, socket or device); save the keys to a file"),
    ("folder", a_folder, "is a folder, not a file; name the key file inside it"),
    ("empty", write("keys.csv", b""), "empty file (0 bytes): expected at least a header row naming the columns"),
    ("extension", write("keys.xlsx", b"PK\x03\x04zip"), "unknown file extension '.xlsx' and the content is a zip "
     "archive (an Excel workbook?); name it .csv, .csv.gz or .parquet, or pass --input-format"),
    ("parquet as csv", parquet("keys.csv", pa.table({"id": ["1"]})), "the content is Parquet, but the file is "
     "read as CSV text; give it the right extension or pass --input-format parquet"),
    ("zip as csv", write("keys.csv", b"PK\x03\x04zip"), "the content is a zip archive (an Excel workbook?), but the "
     "file is read as CSV text; give it the right extension or pass --input-format"),
    ("gzip as csv", write("keys.csv", gzip.compress(b"id\n1\n")), "the content is gzip-compressed data, but the "
     "file is read as CSV text; give it the right extension or pass --input-format"),
    ("key missing", write("keys.csv", b"account,phone\n1,2\n"),
     "key column 'id' is not in the file; columns present: account, phone"),
    ("duplicates", write("keys.csv", b"id,x,x\n1,2,3\n"),
     "duplicate column names in the header: 'x'; rename them so that each is unique"),
    ("latin-1", write("keys.csv", b"id,name\n1,Jos\xe9\n"),
     "not valid utf-8 text at byte offset 13; pass --input-encoding (e.g. latin-1 or cp1252)"),
    ("ragged", write("keys.csv", RAGGED), "line 6: 3 fields where the header has 2; fix the row, or pass "
     "--skip-bad-rows to skip such rows (they are counted in the summary)"),
    ("unclosed quote", write("keys.csv", b'id,name\n1,"open\n2,x\n'), "line 2: a quoted field is never closed "
     "(an unmatched \"), so the rest of the file would be read as one value; fix the quoting"),
    ("float key", parquet("keys.parquet", pa.table({"id": [1.5]})), "key column 'id' holds double values; a key "
     "must be text or integers: store it as text, or choose other --key columns"),
]


@pytest.mark.parametrize(("setup", "expected"), [case[1:] for case in INPUT_CASES], ids=[c[0] for c in INPUT_CASES])
def test_bad_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: Setup, expected: str) -> None:
    path = setup(tmp_path)
    assert refused(capsys, path, "--key", "id", "--output", tmp_path / "out.parquet") == f"{path}: {expected}"
    assert not (tmp_path / "out.parquet").exists()


def test_unreadable_input(capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="reconciler-test-"))
    try:
        folder.chmod(0o777)
        (folder / "keys.csv").write_text("id\n1\n")
        (folder / "keys.csv").chmod(0o000)
        with unprivileged():
            message = refused(capsys, folder / "keys.csv", "--output", folder / "out.csv")
        assert message == f"{folder / 'keys.csv'}: cannot read the file (Permission denied); check its permissions"
    finally:
        shutil.rmtree(folder)


def test_latin1_with_its_encoding_passes_the_input_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Past every input check, the run reaches the client, which this test module replaced.
    (tmp_path / "keys.csv").write_bytes(b"id,name\n1,Jos\xe9\n")
    with pytest.raises(AssertionError, match="a request was about to be sent"):
        reconcile(capsys, tmp_path / "keys.csv", "--input-encoding", "latin-1", "--output", tmp_path / "out.csv",
                  "--key", "id")


@pytest.mark.parametrize("extra", [(), ("--dry-run",), ("--dry-run", "--offline"), ("--strategy", "scan")])
def test_an_input_of_several_columns_without_key_is_refused_naming_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        extra: tuple[str, ...]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("crm.csv").write_text("account_id,First name,Phone,crm_owner\n1001,Name_F50,,Alice\n")
    assert refused(capsys, "crm.csv", "--output", "out.csv", *extra) == (
        "the input crm.csv has 4 columns (account_id, First name, Phone, crm_owner): "
        "name the list's key field(s) with --key")
    assert not Path("out.csv").exists()


@pytest.mark.parametrize("column", ["Recon_Differing_Columns", "lastdisposition"])
def test_an_input_column_named_like_an_output_column_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 column: str) -> None:
    (tmp_path / "keys.csv").write_text(f"id,{column}\n1,x\n")
    assert refused(capsys, tmp_path / "keys.csv", "--output", tmp_path / "out.csv", "--key", "id") == (
        f"{tmp_path / 'keys.csv'}: input columns {column} clash with the output's status columns; rename them")


# Output location -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("output", "expected"), [
    ("nope/out.csv", "the output folder nope does not exist; create it or choose another"),
    ("file/out.csv", "file is a file, not a folder; choose an output path inside a folder"),
    ("in.csv", "the output path is the input file {tmp}/in.csv; choose another output file"),
    ("x/../in.csv", "the output path is the input file {tmp}/in.csv; choose another output file"),
    ("link.csv", "the output path is the input file {tmp}/in.csv; choose another output file"),
    ("out.json", "unknown output extension '.json'; name it .csv, .csv.gz or .parquet, or pass --output-format"),
])
def test_bad_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                    output: str, expected: str) -> None:
    (tmp_path / "in.csv").write_text("id\n1\n")
    (tmp_path / "file").write_text("")
    (tmp_path / "x").mkdir()
    (tmp_path / "link.csv").symlink_to(tmp_path / "in.csv")
    monkeypatch.chdir(tmp_path)
    message = refused(capsys, tmp_path / "in.csv", "--output", output)
    assert message == f"{output}: {expected.format(tmp=tmp_path)}"


# Settings --------------------------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    (tmp_path / "keys.csv").write_text("id\n1\n")
    return tmp_path / "keys.csv"


@pytest.mark.parametrize(("flags", "expected"), [
    (("--rate", "0"), "--rate: 0.0 is not valid; expected a number of requests per second above 0 (inf for no limit)"),
    (("--rate", "-1"), "--rate: -1.0 is not valid; expected a number of requests per second above 0 (inf for no "
     "limit)"),
    (("--rate", "abc"), "--rate: 'abc' is not valid; expected a number of requests per second above 0 (inf for no "
     "limit)"),
    (("--concurrency", "-3"), "--concurrency: -3 is not valid; expected an integer from 1 to 1000"),
    (("--concurrency", "0"), "--concurrency: 0 is not valid; expected an integer from 1 to 1000"),
    (("--concurrency", "lots"), "--concurrency: 'lots' is not valid; expected an integer from 1 to 1000"),
    (("--max-attempts", "0"), "--max-attempts: 0 is not valid; expected an integer from 1 to 100"),
    (("--timeout", "0"), "--timeout: 0.0 is not valid; expected seconds above 0, at most 3600"),
    (("--timeout", "soon"), "--timeout: 'soon' is not valid; expected seconds above 0, at most 3600"),
    (("--dialect", "v9"), "--dialect: 'v9' is not valid; expected classic or v2 or v3"),
    (("--input-format", "xls"), "--input-format: 'xls' is not valid; expected csv or parquet"),
    (("--input-encoding", "utf-99"), "--input-encoding: 'utf-99' is not valid; expected a text encoding, e.g. "
     "utf-8, latin-1, cp1252 or utf-16"),
])
def test_bad_setting(keys: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...], expected: str) -> None:
    assert refused(capsys, keys, "--output", keys.with_name("out.csv"), *flags) == expected


@pytest.mark.parametrize("flags", [("--rate",), ("--concurrency", "2", "--no-such-flag")])
def test_argparse_errors_exit_2(keys: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...]) -> None:
    code, err = reconcile(capsys, keys, "--output", keys.with_name("out.csv"), *flags)
    assert code == 2
    assert len(err.splitlines()) == 1  # no page of usage before the error
    assert re.match(r"reconciler: error: (argument --rate: expected one argument|unrecognized arguments: "
                    r"--no-such-flag) \(see 'reconciler( run)? --help'\)$", err.strip())


@pytest.mark.parametrize(("toml", "expected"), [
    ("rates = 5", "unknown key 'rates'; known keys: audit, base_url, ca_bundle, campaign, campaign_id, changes, "
                  "client_id, concurrency, dialect, "),
    ('concurrency = "8"', "key 'concurrency' must be a number, not str '8'"),
    (f'password = "{SECRET}"', "key 'password': secrets are never read from the configuration file; use the "
     "environment (BP_PASSWORD, BP_CLIENT_SECRET) or password-file"),
    ("concurrency = 0", "--concurrency: 0 is not valid; expected an integer from 1 to 1000"),
])
def test_bad_config_file(keys: Path, capsys: pytest.CaptureFixture[str], toml: str, expected: str) -> None:
    config = keys.with_name("reconciler.toml")
    config.write_text(toml)
    message = refused(capsys, keys, "--output", keys.with_name("out.csv"), "--config", config)
    prefix = "" if expected.startswith("--") else f"{config}: "
    assert message.startswith(prefix + expected)


@pytest.mark.parametrize(("unset", "flags", "expected"), [
    ("BP_USERNAME", (), "BP_USERNAME is required: set BP_USERNAME in the environment for the classic dialect"),
    ("BP_PASSWORD", (), "BP_PASSWORD is required: set BP_PASSWORD in the environment or pass --password-file"),
    (None, ("--dialect", "v2"), "BP_CLIENT_ID is required: set BP_CLIENT_ID in the environment for the v2 dialect"),
])
def test_missing_credentials(keys: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                             unset: str | None, flags: tuple[str, ...], expected: str) -> None:
    if unset:
        monkeypatch.delenv(unset)
    assert refused(capsys, keys, "--output", keys.with_name("out.csv"), *flags) == expected


def test_v2_secret_missing(keys: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_CLIENT_ID", "app")
    assert refused(capsys, keys, "--output", keys.with_name("out.csv"), "--dialect", "v2") == (
        "BP_CLIENT_SECRET is required: set BP_CLIENT_SECRET in the environment or pass --password-file")


def test_password_file_missing(keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = keys.with_name("pw.txt")
    assert refused(capsys, keys, "--output", keys.with_name("out.csv"), "--password-file", path) == (
        f"{path}: cannot read the password file (No such file or directory); check --password-file")


# The nightly options ----------------------------------------------------------------------------------

def _corrupt_state(folder: Path) -> list[str]:
    (folder / "s.state").write_bytes(b"garbage, not SQLite" * 200)
    return ["--strategy", "incremental", "--state", str(folder / "s.state")]


def _foreign_state(folder: Path) -> list[str]:
    from reconciler.journal.state import State

    State.open(folder / "s.state", {"tenant": "t.example.com", "list": "Other.txt", "campaign": "C",
                                    "dialect": "classic", "key_columns": ["id"]}).close()
    return ["--strategy", "incremental", "--state", str(folder / "s.state")]


def _previous_of_another_kind(folder: Path) -> list[str]:
    (folder / "yesterday.csv").write_text("id,score\n1,4\n")
    return ["--changes", str(folder / "c.csv"), "--previous", str(folder / "yesterday.csv")]


@pytest.mark.parametrize(("arguments", "expected"), [
    (_corrupt_state, "s.state: not a usable reconciler state (file is not a database); move it away"),
    (_foreign_state, "s.state: this state belongs to another target (list: was 'Other.txt', now 'List_1.txt')"),
    (_previous_of_another_kind, "yesterday.csv: --previous is not a reconciler output table: columns recon_status"),
    (lambda folder: ["--strategy", "incremental"], "--strategy: 'incremental' is not valid; expected incremental "
                                                   "together with --state PATH"),
    (lambda folder: ["--changes", str(folder / "c.csv")], "--changes: "),
    (lambda folder: ["--output", str(folder / "{day}" / "o.csv")], "unknown placeholders {day}"),
    (lambda folder: ["--output", str(folder / "run={run_id" / "o.csv")], "is not a usable path template"),
    (lambda folder: ["--strategy", "incremental", "--state", str(folder / "s.state"), "--overlap", "10"],
     "--overlap: '10' is not valid; expected a duration with its unit"),
    (lambda folder: ["--strategy", "incremental", "--state", str(folder / "s.state"), "--unmatched",
                     str(folder / "u.csv")], "--unmatched: "),
])
def test_nightly_options_that_cannot_work_are_one_line_and_send_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: Callable[[Path], list[str]],
        expected: str) -> None:
    (tmp_path / "keys.csv").write_text("id\n1\n")
    extra = arguments(tmp_path)
    output = [] if "--output" in extra else ["--output", str(tmp_path / "out.csv")]
    message = refused(capsys, tmp_path / "keys.csv", *output, "--key", "id", *extra)
    assert expected in message
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "c.csv").exists()
