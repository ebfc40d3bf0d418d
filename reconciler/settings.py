"""Turn flags, a TOML file and the environment into one ``ReconcileConfig``: the only place that reads them.

Precedence, lowest first: built-in defaults, the ``--config`` file, ``BP_BASE_URL``/``BP_TENANT``,
then flags. Secrets come only from the environment or from a file whose path is given; a secret
written inline in the configuration file is refused.
"""

from __future__ import annotations

import argparse
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config import DIALECTS, Credentials, ReconcileConfig, RequestPolicy, Target
from reconciler.errors import InputError, InvalidOption, MissingSetting, UsageError


@dataclass(frozen=True)
class Option:
    """One run setting: its flag, its type, and its help text; the TOML key is the flag's name."""

    flag: str
    parse: Callable[[str], Any]
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    repeat: bool = False
    switch: bool = False

    @property
    def name(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def _rate(text: str) -> float:
    value = float(text)
    return math.inf if value == math.inf or text.strip().lower() in ("inf", "unlimited") else value


OPTIONS: tuple[Option, ...] = (
    Option("--output", str, "output table (.csv, .csv.gz or .parquet)", "OUTPUT"),
    Option("--base-url", str, "server address, e.g. https://yourcompany.brightpattern.com (or BP_BASE_URL)",
           "URL"),
    Option("--tenant", str, "tenant name, e.g. yourcompany.brightpattern.com (or BP_TENANT)", "TENANT"),
    Option("--list", str, "calling list name, e.g. List_1.txt", "LIST"),
    Option("--campaign", str, "campaign name", "CAMPAIGN"),
    Option("--key", str, "unique key column; repeat for a composite key (default: every column)",
           "COLUMN", repeat=True),
    Option("--dialect", str, "classic (3.x, digest auth) or v2 (5.x, OAuth2 bearer) [classic]",
           choices=DIALECTS),
    Option("--concurrency", int, "requests in flight at most [8]", "N"),
    Option("--rate", _rate, "requests per second at most, 'inf' for no limit [20]", "PER_SECOND"),
    Option("--max-attempts", int, "attempts per request before the row is an error [8]", "N"),
    Option("--timeout", float, "seconds for one HTTP attempt [30]", "SECONDS"),
    Option("--max-backoff", float, "longest single wait between attempts, in seconds [30]", "SECONDS"),
    Option("--failure-span", float, "stop (exit 1) when every request failed for this long [120]", "SECONDS"),
    Option("--input-format", str, "read INPUT as this format whatever its name", choices=("csv", "parquet")),
    Option("--output-format", str, "write OUTPUT as this format whatever its name", choices=("csv", "parquet")),
    Option("--input-encoding", str, "text encoding of a CSV input [utf-8]", "ENCODING"),
    Option("--password-file", str, "read the password (classic) or client secret (v2) from this file", "PATH"),
    Option("--journal", str, "journal file [OUTPUT.reconciler-journal]", "PATH"),
    Option("--skip-bad-rows", bool, "skip ragged CSV rows (counted in the summary) instead of stopping",
           switch=True),
    Option("--fresh", bool, "discard an existing journal instead of resuming it", switch=True),
    Option("--retry-errors", bool, "when resuming, ask again for the keys that ended in error", switch=True),
    Option("--insecure", bool, "do not verify the server's TLS certificate (not for production)", switch=True),
)
_BY_NAME = {option.name: option for option in OPTIONS}
_SECRET_KEYS = {"password", "secret", "client_secret", "bp_password", "bp_client_secret", "token"}
# Settings a config file may hold that are not flags.
_FILE_ONLY = {"input", "username", "client_id"}


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Declare every run setting as a flag; unset flags stay None so the config file can fill them."""
    for option in OPTIONS:
        if option.switch:
            parser.add_argument(option.flag, action="store_true", default=None, help=option.help)
        elif option.repeat:
            parser.add_argument(option.flag, action="append", metavar=option.metavar, help=option.help)
        else:
            parser.add_argument(option.flag, metavar=option.metavar, choices=option.choices, help=option.help,
                                type=_flag_type(option))


def _flag_type(option: Option) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return option.parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {option.metavar or 'value'}") from None

    return parse


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings in a TOML file; unknown keys and inline secrets are errors naming the key."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(path, "configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
    settings: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name.lower() in _SECRET_KEYS:
            raise UsageError(f"{path}: key {key!r}: secrets are never read from the configuration file; "
                             "use the environment (BP_PASSWORD, BP_CLIENT_SECRET) or password-file")
        if name not in _BY_NAME and name not in _FILE_ONLY:
            raise UsageError(f"{path}: unknown key {key!r}; known keys: "
                             f"{', '.join(sorted([*_BY_NAME, *_FILE_ONLY]))}")
        settings[name] = _checked_value(path, key, _BY_NAME.get(name), value)
    return settings


def _checked_value(path: Path, key: str, option: Option | None, value: Any) -> Any:
    if option is not None and option.repeat:
        value = [value] if isinstance(value, str) else value
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    elif option is not None and option.switch:
        ok = isinstance(value, bool)
    elif option is not None and option.parse in (int, float, _rate):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if option.parse is _rate and isinstance(value, str):
            try:
                value, ok = _rate(value), True
            except ValueError:
                ok = False
    else:
        ok = isinstance(value, str)
    if not ok:
        raise UsageError(f"{path}: key {key!r} has the wrong type ({type(value).__name__}: {value!r})")
    if option is not None and option.choices and value not in option.choices:
        raise UsageError(f"{path}: key {key!r} must be one of {', '.join(option.choices)}, not {value!r}")
    return value


def merge(flags: argparse.Namespace, file_settings: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """One dict of settings: flags over environment over file."""
    merged = dict(file_settings)
    for name, env in (("base_url", "BP_BASE_URL"), ("tenant", "BP_TENANT")):
        if environ.get(env):
            merged[name] = environ[env]
    for name in [*_BY_NAME, "input"]:
        value = getattr(flags, name, None)
        if value is not None:
            merged[name] = value
    return merged


def build_config(settings: Mapping[str, Any], environ: Mapping[str, str]) -> ReconcileConfig:
    """Validate the merged settings into a frozen ``ReconcileConfig``."""
    def need(name: str, how: str) -> Any:
        if settings.get(name) in (None, ""):
            raise MissingSetting(name.replace("_", "-"), how)
        return settings[name]

    dialect = settings.get("dialect", "classic")
    target = Target(base_url=need("base_url", "pass --base-url or set BP_BASE_URL"),
                    tenant=need("tenant", "pass --tenant or set BP_TENANT"),
                    list_name=need("list", "pass --list"), campaign=need("campaign", "pass --campaign"),
                    dialect=dialect)
    input_path = Path(need("input", "name the key file: reconciler run INPUT --output OUTPUT ..."))
    journal = settings.get("journal")
    return ReconcileConfig(
        input_path=input_path,
        output_path=Path(need("output", "pass --output")),
        target=target,
        credentials=read_credentials(dialect, settings, environ),
        key_columns=tuple(settings.get("key") or ()),
        input_format=settings.get("input_format"),
        output_format=settings.get("output_format"),
        input_encoding=settings.get("input_encoding", "utf-8"),
        skip_bad_rows=bool(settings.get("skip_bad_rows", False)),
        policy=_policy(settings),
        journal_path=Path(journal) if journal else None,
        fresh=bool(settings.get("fresh", False)),
        retry_errors=bool(settings.get("retry_errors", False)),
    )


def _policy(settings: Mapping[str, Any]) -> RequestPolicy:
    given = {name: settings[name] for name in ("concurrency", "rate", "max_attempts", "timeout", "max_backoff",
                                               "failure_span") if settings.get(name) is not None}
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidOption(f"--{name.replace('_', '-')}", value, "a number")
    return RequestPolicy(**given, verify_tls=not settings.get("insecure", False))


def read_credentials(dialect: str, settings: Mapping[str, Any], environ: Mapping[str, str]) -> Credentials:
    """Login from the environment (or config file), secret from the environment or a named file."""
    login_env, secret_env = ("BP_USERNAME", "BP_PASSWORD") if dialect == "classic" else \
        ("BP_CLIENT_ID", "BP_CLIENT_SECRET")
    login = environ.get(login_env) or settings.get("username" if dialect == "classic" else "client_id")
    if not login:
        raise MissingSetting(login_env, f"set {login_env} in the environment for the {dialect} dialect")
    secret_file = settings.get("password_file")
    if secret_file:
        try:
            secret = Path(secret_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise InputError(Path(secret_file), f"cannot read the password file: {exc.strerror}") from None
    else:
        secret = environ.get(secret_env, "")
    if not secret:
        raise MissingSetting(secret_env, f"set {secret_env} in the environment or pass --password-file")
    return Credentials(login=str(login), secret=secret)
