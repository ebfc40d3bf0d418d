"""Flags, the config file and the environment: every bad value is one message naming it and what is valid."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import Credentials, ReconcileConfig, RequestPolicy
from reconciler.errors import InvalidOption, ReconcilerError
from reconciler.wiring.settings import add_run_options, build_config, merge, read_config_file

SECRET = "hunter2-do-not-print"
ENV = {"BP_USERNAME": "alice", "BP_PASSWORD": SECRET}
REQUIRED = ["keys.csv", "--output", "out.parquet", "--base-url", "http://127.0.0.1:9", "--tenant", "t.example.com",
            "--list", "List_1.txt", "--campaign", "C"]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("input", nargs="?")
    add_run_options(parser)
    return parser.parse_args([*REQUIRED, *argv])


def config(*argv: str, environ: dict[str, str] | None = None, file: dict[str, Any] | None = None) -> ReconcileConfig:
    env = ENV if environ is None else environ
    return build_config(merge(parse(*argv), file or {}, env), env)


def error(*argv: str, **kwargs: Any) -> str:
    """The one-line message of the error that building this configuration raises; never the secret."""
    with pytest.raises(ReconcilerError) as caught:
        config(*argv, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert SECRET not in message
    assert caught.value.exit_code == 2
    return message


# Flags -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "expected"), [
    (("--rate", "0"), "--rate: 0.0 is not valid; expected a number of requests per second above 0 (inf for no limit)"),
    (("--rate", "-1"), "--rate: -1.0 is not valid; expected a number of requests per second above 0"),
    (("--rate", "abc"), "--rate: 'abc' is not valid; expected a number of requests per second above 0"),
    (("--rate", "nan"), "--rate: nan is not valid; expected a number of requests per second above 0"),
    (("--concurrency", "-3"), "--concurrency: -3 is not valid; expected an integer from 1 to 1000"),
    (("--concurrency", "0"), "--concurrency: 0 is not valid; expected an integer from 1 to 1000"),
    (("--concurrency", "2.5"), "--concurrency: '2.5' is not valid; expected an integer from 1 to 1000"),
    (("--concurrency", "1001"), "--concurrency: 1001 is not valid; expected an integer from 1 to 1000"),
    (("--max-attempts", "0"), "--max-attempts: 0 is not valid; expected an integer from 1 to 100"),
    (("--max-attempts", "many"), "--max-attempts: 'many' is not valid; expected an integer from 1 to 100"),
    (("--timeout", "0"), "--timeout: 0.0 is not valid; expected seconds above 0, at most 3600"),
    (("--timeout", "inf"), "--timeout: inf is not valid; expected seconds above 0, at most 3600"),
    (("--timeout", "1h"), "--timeout: '1h' is not valid; expected seconds above 0, at most 3600"),
    (("--max-backoff", "-1"), "--max-backoff: -1.0 is not valid; expected seconds from 0 to 3600"),
    (("--failure-span", "0"), "--failure-span: 0.0 is not valid; expected seconds above 0"),
    (("--unreachable-after", "-1"), "--unreachable-after: -1.0 is not valid; expected seconds from 0 to 3600"),
    (("--unreachable-after", "soon"), "--unreachable-after: 'soon' is not valid; expected seconds from 0 to 3600"),
    (("--page-size", "0"), "--page-size: 0 is not valid; expected an integer from 1 to 1000"),
    (("--page-size", "1001"), "--page-size: 1001 is not valid; expected an integer from 1 to 1000"),
    (("--page-size", "2.5"), "--page-size: '2.5' is not valid; expected an integer from 1 to 1000"),
    (("--dialect", "v9"), "--dialect: 'v9' is not valid; expected classic or v2 or v3"),
    (("--input-format", "xlsx"), "--input-format: 'xlsx' is not valid; expected csv or parquet"),
    (("--output-format", "json"), "--output-format: 'json' is not valid; expected csv or parquet"),
    (("--input-encoding", "klingon"), "--input-encoding: 'klingon' is not valid; expected a text encoding"),
    (("--input-encoding", "rot13"), "--input-encoding: 'rot13' is not valid; expected a text encoding"),
    (("--key", "id", "--key", "id"), "--key: ['id', 'id'] is not valid; expected each key column once"),
    (("--key", ""), "--key: [''] is not valid; expected non-empty column names"),
    (("--base-url", "ftp://x"), "--base-url: 'ftp://x' is not valid; expected an http:// or https:// URL"),
])
def test_bad_flag_values(argv: tuple[str, ...], expected: str) -> None:
    assert error(*argv).startswith(expected)


@pytest.mark.parametrize(("text", "rate"), [("inf", math.inf), ("unlimited", math.inf), ("Inf", math.inf),
                                            ("2.5", 2.5), ("1e400", math.inf)])
def test_rate_spellings(text: str, rate: float) -> None:
    assert config("--rate", text).policy.rate == rate


def test_good_flags() -> None:
    built = config("--rate", "5", "--concurrency", "3", "--max-attempts", "2", "--timeout", "1.5", "--key", "id",
                   "--key", "phone", "--input-format", "csv", "--input-encoding", "latin-1", "--skip-bad-rows")
    assert built.policy == RequestPolicy(rate=5.0, concurrency=3, max_attempts=2, timeout=1.5)
    assert RequestPolicy().page_size == 1000  # the API's largest page, unless asked for less
    assert config("--page-size", "100").policy.page_size == 100
    assert (RequestPolicy().unreachable_after, config("--unreachable-after", "2").policy.unreachable_after) == (20, 2)
    assert built.key_columns == ("id", "phone")
    assert (built.input_format, built.input_encoding, built.skip_bad_rows) == ("csv", "latin-1", True)
    assert SECRET not in repr(built)


@pytest.mark.parametrize(("name", "value"), [("concurrency", 2.0), ("concurrency", True), ("max_attempts", 1.5),
                                             ("rate", float("nan")), ("timeout", "3"), ("max_answer_bytes", 10),
                                             ("page_size", 2.0), ("page_size", 0)])
def test_policy_refuses_wrong_types_from_library_callers(name: str, value: Any) -> None:
    with pytest.raises(InvalidOption):
        RequestPolicy(**{name: value})


# Credentials -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "environ", "expected"), [
    ((), {"BP_PASSWORD": SECRET}, "BP_USERNAME is required: set BP_USERNAME in the environment"),
    ((), {"BP_USERNAME": "alice"}, "BP_PASSWORD is required: set BP_PASSWORD in the environment or pass "
                                   "--password-file"),
    ((), {"BP_USERNAME": "alice", "BP_PASSWORD": ""}, "BP_PASSWORD is required"),
    (("--dialect", "v2"), ENV, "BP_CLIENT_ID is required: set BP_CLIENT_ID in the environment for the v2 dialect"),
    (("--dialect", "v2"), {"BP_CLIENT_ID": "app"}, "BP_CLIENT_SECRET is required"),
])
def test_missing_credentials(argv: tuple[str, ...], environ: dict[str, str], expected: str) -> None:
    assert error(*argv, environ=environ).startswith(expected)


def test_v2_credentials() -> None:
    built = config("--dialect", "v2", environ={"BP_CLIENT_ID": "app", "BP_CLIENT_SECRET": SECRET})
    assert built.credentials == Credentials(login="app", secret=SECRET)


def test_password_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(SECRET + "\n")
    built = config("--password-file", str(tmp_path / "pw"), environ={"BP_USERNAME": "alice"})
    assert built.credentials.secret == SECRET


@pytest.mark.parametrize(("content", "expected"), [
    (None, "cannot read the password file (No such file or directory); check --password-file"),
    (b"", "the password file is empty"),
    (b"\n", "the password file is empty"),
    (b"\xff" + SECRET.encode(), "the password file is not UTF-8 text"),
    ("folder", "cannot read the password file (Is a directory); check --password-file"),
])
def test_bad_password_file(tmp_path: Path, content: bytes | str | None, expected: str) -> None:
    path = tmp_path / "pw"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    message = error("--password-file", str(path), environ=ENV)
    assert message == f"{path}: {expected}"


# The config file -------------------------------------------------------------------------------------


def toml(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "reconciler.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def file_error(path: Path) -> str:
    with pytest.raises(ReconcilerError) as caught:
        read_config_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    assert SECRET not in message
    assert caught.value.exit_code == 2
    return message


@pytest.mark.parametrize(("text", "expected"), [
    ('rates = 5', "unknown key 'rates'; known keys: audit, base_url, ca_bundle, campaign,"),
    ('[server]\nurl = "x"', "unknown key 'server'"),
    ('concurrency = "8"', "key 'concurrency' must be a number, not str '8'"),
    ("concurrency = 2.5", None),  # a number: its range is build_config's to check
    ('key = ["id", 7]', "key 'key' must be a column name or a list of them, not list ['id', 7]"),
    ('skip-bad-rows = "yes"', "key 'skip-bad-rows' must be true or false, not str 'yes'"),
    ("tenant = 12", "key 'tenant' must be a string, not int 12"),
    ('rate = "fast"', "key 'rate' must be a number or \"inf\", not str 'fast'"),
    ('dialect = "v9"', "key 'dialect' must be one of classic, v2, v3, not 'v9'"),
    ('input-format = "xlsx"', "key 'input-format' must be one of csv, parquet, not 'xlsx'"),
    (f'password = "{SECRET}"', "key 'password': secrets are never read from the configuration file"),
    (f'client_secret = "{SECRET}"', "key 'client_secret': secrets are never read"),
    (f'BP_PASSWORD = "{SECRET}"', "key 'BP_PASSWORD': secrets are never read"),
    (f'api-token = "{SECRET}"', "key 'api-token': secrets are never read"),
    ("concurrency = ", "not valid TOML: Invalid value"),
])
def test_bad_config_file(tmp_path: Path, text: str, expected: str | None) -> None:
    path = toml(tmp_path, text)
    if expected is None:
        read_config_file(path)
    else:
        assert expected in file_error(path)


def test_config_file_not_readable(tmp_path: Path) -> None:
    assert "configuration file not found; check the --config path" in file_error(tmp_path / "nope.toml")
    (tmp_path / "dir.toml").mkdir()
    assert "cannot read the configuration file (Is a directory)" in file_error(tmp_path / "dir.toml")
    assert "not UTF-8 text" in file_error(toml(tmp_path, b'tenant = "\xff"'))


def test_config_file_values_and_precedence(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(SECRET)
    path = toml(tmp_path, f'rate = "inf"\nkey = "id"\nconcurrency = 4\npassword-file = "{tmp_path / "pw"}"\n'
                          'username = "bob"\nskip-bad-rows = true\ntimeout = 0\n')
    settings = read_config_file(path)
    assert settings == {"rate": math.inf, "key": ["id"], "concurrency": 4, "password_file": str(tmp_path / "pw"),
                        "username": "bob", "skip_bad_rows": True, "timeout": 0}
    built = config("--concurrency", "2", "--timeout", "5", file=settings, environ={})
    assert (built.policy.concurrency, built.policy.rate, built.policy.timeout) == (2, math.inf, 5.0)
    assert built.credentials == Credentials(login="bob", secret=SECRET)
    assert built.key_columns == ("id",)


def test_config_file_values_are_checked_like_flags(tmp_path: Path) -> None:
    settings = read_config_file(toml(tmp_path, "concurrency = 2.5"))
    assert error(file=settings).startswith("--concurrency: 2.5 is not valid; expected an integer from 1 to 1000")
    assert config(file=read_config_file(toml(tmp_path, "page-size = 250"))).policy.page_size == 250
    settings = read_config_file(toml(tmp_path, "page-size = 1500"))
    assert error(file=settings).startswith("--page-size: 1500 is not valid; expected an integer from 1 to 1000")


MAX_ROW_EXPECTED = "expected a size from 1MiB to 1GiB, in bytes or with KiB, MiB or GiB, e.g. 16MiB"


@pytest.mark.parametrize(("argv", "file", "size"), [
    ((), None, 1 << 20),  # the default: pyarrow's block of 1 MiB
    (("--max-row-bytes", "16MiB"), None, 16 << 20),
    (("--max-row-bytes", "2048 KiB"), None, 2 << 20),
    (("--max-row-bytes", "1gib"), None, 1 << 30),
    (("--max-row-bytes", "4194304"), None, 4 << 20),
    ((), 'max-row-bytes = "8MiB"', 8 << 20),
    ((), "max_row_bytes = 2097152", 2 << 20),
    (("--max-row-bytes", "3MiB"), 'max-row-bytes = "8MiB"', 3 << 20),  # the flag wins
])
def test_max_row_bytes_from_a_flag_or_the_file(tmp_path: Path, argv: tuple[str, ...], file: str | None,
                                               size: int) -> None:
    settings = read_config_file(toml(tmp_path, file)) if file else None
    assert config(*argv, file=settings).max_row_bytes == size


@pytest.mark.parametrize(("argv", "file", "expected"), [
    (("--max-row-bytes", "16MB"), None, f"--max-row-bytes: '16MB' is not valid; {MAX_ROW_EXPECTED}"),
    (("--max-row-bytes", "512KiB"), None, f"--max-row-bytes: 524288 is not valid; {MAX_ROW_EXPECTED}"),
    (("--max-row-bytes", "2GiB"), None, f"--max-row-bytes: 2147483648 is not valid; {MAX_ROW_EXPECTED}"),
    ((), "max-row-bytes = 1000", f"--max-row-bytes: 1000 is not valid; {MAX_ROW_EXPECTED}"),
])
def test_bad_max_row_bytes(tmp_path: Path, argv: tuple[str, ...], file: str | None, expected: str) -> None:
    settings = read_config_file(toml(tmp_path, file)) if file else None
    assert error(*argv, file=settings) == expected


@pytest.mark.parametrize("text", ['max-row-bytes = "lots"', "max-row-bytes = 1.5", "max-row-bytes = true"])
def test_a_max_row_bytes_of_the_wrong_type_in_the_file_is_named(tmp_path: Path, text: str) -> None:
    message = file_error(toml(tmp_path, text))
    assert "key 'max-row-bytes' must be a number of bytes or a size such as \"16MiB\"" in message


def test_the_secret_never_appears() -> None:
    for argv in (("--rate", "0"), ("--base-url", "nope"), ("--dialect", "v2"), ("--password-file", "/nope")):
        error(*argv)  # asserts that the message does not hold the secret
    assert SECRET not in repr(Credentials(login="alice", secret=SECRET))
