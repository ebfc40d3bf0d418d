"""Turn flags, a TOML file and the environment into one ``ReconcileConfig``: the only place that reads them.

Precedence, lowest first: built-in defaults, the ``--config`` file, ``BP_BASE_URL``/``BP_TENANT``,
then flags. Secrets come only from the environment or from a file whose path is given; a secret
written inline in the configuration file is refused. The proxy variables and ``SSL_CERT_FILE`` are
read by ``network.py``, from the same environment mapping.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config import (
    DIALECTS,
    EXPECTED,
    FILE_FORMATS,
    MAX_ROW_BYTES_EXPECTED,
    STRATEGIES,
    Credentials,
    DatabaseTable,
    Destination,
    ReconcileConfig,
    RequestPolicy,
    Target,
    is_database_url,
)
from reconciler.errors import InputError, InvalidOption, MissingSetting, UsageError
from reconciler.wiring.network import network_settings
from reconciler.wiring.toml_file import read_toml
from reconciler.wiring.units import duration_setting, parse_rate, parse_size


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


LOG_FORMATS = ("text", "json")
OPTIONS: tuple[Option, ...] = (
    Option("--output", str, "output table (.csv, .csv.gz or .parquet; s3://, gs:// or az:// URLs too; "
           "delta:PATH for a Delta table), or a PostgreSQL table (postgresql://USER@HOST:PORT/DB?table=NAME; the "
           "password from PGPASSWORD or PGPASSFILE)", "OUTPUT"),
    Option("--base-url", str, "server address, e.g. https://yourcompany.brightpattern.com (or BP_BASE_URL)",
           "URL"),
    Option("--tenant", str, "tenant name, e.g. yourcompany.brightpattern.com (or BP_TENANT)", "TENANT"),
    Option("--list", str, "calling list name, e.g. List_1.txt", "LIST"),
    Option("--campaign", str, "campaign name", "CAMPAIGN"),
    Option("--key", str, "the list's unique key column; repeat for a composite key (required unless the "
           "input has a single column, which is then the key)",
           "COLUMN", repeat=True),
    Option("--dialect", str, "classic (3.x, digest auth), v2 (5.x, OAuth2 bearer) or v3 (5.x List Management "
           "API 3.x, campaign and list instance by id) [classic]", choices=DIALECTS),
    Option("--campaign-id", str, "v3: the campaign's id, to skip looking it up by --campaign", "ID"),
    Option("--instance-id", str, "v3: the id of the list's instance in the campaign, to skip looking it up "
           "by --list", "ID"),
    Option("--concurrency", int, "requests in flight at most [8]", "N"),
    Option("--rate", parse_rate, "requests per second at most, 'inf' for no limit [20]", "PER_SECOND"),
    Option("--max-attempts", int, "attempts per request before the row is an error [8]", "N"),
    Option("--timeout", float, "seconds for one HTTP attempt, of which 10 at most to connect [30]", "SECONDS"),
    Option("--max-backoff", float, "longest single wait between attempts, in seconds [30]", "SECONDS"),
    Option("--page-size", int, "records a list or changes page asks for, up to the API's 1000; a smaller page "
           "is a gentler request for a loaded server, at the cost of more requests [1000]", "N"),
    Option("--failure-span", float, "stop (exit 1) when every request failed for this long [120]", "SECONDS"),
    Option("--unreachable-after", float, "stop (exit 1) when the server never answered and the first request "
           "could not connect for this long [20]", "SECONDS"),
    Option("--input-format", str, "read INPUT as this format whatever its name", choices=FILE_FORMATS),
    Option("--output-format", str, "write OUTPUT as this format whatever its name", choices=FILE_FORMATS),
    Option("--input-encoding", str, "text encoding of a CSV input [utf-8]", "ENCODING"),
    Option("--max-row-bytes", parse_size, "longest CSV row sure to be read, e.g. 16MiB; memory grows with it "
           "[1MiB]", "SIZE"),
    Option("--password-file", str, "read the password (classic) or client secret (v2, v3) from this file", "PATH"),
    Option("--journal", str, "journal file [OUTPUT.reconciler-journal]", "PATH"),
    Option("--skip-bad-rows", bool, "skip ragged CSV rows (counted in the summary) instead of stopping",
           switch=True),
    Option("--fresh", bool, "discard an existing journal instead of resuming it", switch=True),
    Option("--retry-errors", bool, "ask again only for the keys that ended in error "
           "(a run with error rows keeps its journal for this)", switch=True),
    Option("--insecure", bool, "do not verify the server's TLS certificate (not for production)", switch=True),
    Option("--ca-bundle", str, "verify the server's TLS certificate with the certificate authorities in this PEM "
           "file instead of the defaults, e.g. a corporate root (or SSL_CERT_FILE)", "PATH"),
    Option("--system-trust-store", bool, "verify the server's TLS certificate with the operating system's trust "
           "store (Windows, the macOS keychain, Linux's CA files)", switch=True),
    Option("--strategy", str, "query: one request per key; scan: read the whole list a page (--page-size) a request; "
           "auto: whichever needs fewer requests; incremental: only what changed since the last run "
           "(with --state) [auto]", choices=STRATEGIES),
    Option("--state", str, "nightly state file kept between runs (the list as last seen, what each run "
           "reported); one per tenant, list, campaign, dialect and key", "PATH"),
    Option("--full-refresh-after", str, "incremental: read the whole list again when the last full read is "
           "older than this [7d]", "DURATION"),
    Option("--overlap", str, "incremental: ask for changes from this long before the last change seen [10m]",
           "DURATION"),
    Option("--changes", str, "also write the rows whose status changed since the previous run "
           "(.csv, .csv.gz, .parquet, a store URL, delta:PATH, or a postgresql:// table URL; needs --state or "
           "--previous)", "PATH"),
    Option("--previous", str, "with --changes and no --state: the previous run's output table", "TABLE"),
    Option("--unmatched", str, "with scan: also write the list's records that no input key matched", "PATH"),
    Option("--audit", str, "also write the campaign audit page (HTML) of the table (see reconciler report)",
           "PATH"),
    Option("--report", str, "write a JSON run report here (for schedulers and alerts)", "PATH"),
    Option("--quiet", bool, "print nothing when every row resolved (no progress, no summary): warnings and "
           "errors only; a run with error rows prints the summary's first line", switch=True),
    Option("--progress-interval", float, "seconds between progress lines when not on a terminal [30]",
           "SECONDS"),
    Option("--log-format", str, "text or json (one JSON object a line, for log shippers) [text]",
           choices=LOG_FORMATS),
    Option("--dry-run", bool, "check input, configuration and credentials, "
           "print the plan (strategy, requests, duration), query nothing",
           switch=True),
    Option("--offline", bool, "with --dry-run: do not contact the server at all, and need no credentials",
           switch=True),
)
_BY_NAME = {option.name: option for option in OPTIONS}
_SECRET_WORDS = ("password", "passwd", "secret", "token")
# Settings a config file may hold that are not flags.
_FILE_ONLY = {"input", "username", "client_id"}


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Declare every run setting as a flag; unset flags stay None so the config file can fill them.

    Values are checked by ``build_config``, not by argparse, so that a bad value gets the same
    one-line message, with the valid range, whether it came from a flag or the config file.
    """
    for option in OPTIONS:
        if option.switch:
            parser.add_argument(option.flag, action="store_true", default=None, help=option.help)
        elif option.repeat:
            parser.add_argument(option.flag, action="append", metavar=option.metavar, help=option.help)
        else:
            choices = "{" + ",".join(option.choices) + "}" if option.choices else None
            metavar = option.metavar or choices
            parser.add_argument(option.flag, metavar=metavar, help=option.help, type=_flag_type(option))


def _flag_type(option: Option) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return option.parse(text)
        except ValueError:
            return text  # not a number: build_config reports it with the valid range

    return parse


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings in a TOML file; unknown keys, wrong types and inline secrets are errors naming the key."""
    _, data = read_toml(path, "configuration file", not_found="; check the --config path")
    return {key.replace("-", "_"): _checked_value(path, key, value) for key, value in data.items()}


def checked_setting(where: str, key: str, value: Any) -> Any:
    """One run setting from a TOML file, checked as ``--config`` checks it; a message starts with ``where``."""
    return _checked_value(where, key, value)


def _checked_value(path: Path | str, key: str, value: Any) -> Any:
    name = key.replace("-", "_")
    if name not in _BY_NAME and name not in _FILE_ONLY:
        if any(word in name.lower() for word in _SECRET_WORDS):
            raise UsageError(f"{path}: key {key!r}: secrets are never read from the configuration file; "
                             "use the environment (BP_PASSWORD, BP_CLIENT_SECRET) or password-file")
        raise UsageError(f"{path}: unknown key {key!r}; known keys: {', '.join(sorted([*_BY_NAME, *_FILE_ONLY]))}")
    option = _BY_NAME.get(name)
    expected, ok = _type_check(option, value)
    if not ok:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise UsageError(f"{path}: key {key!r} must be {expected}, not {type(value).__name__} {shown}")
    if option is not None and option.choices and value not in option.choices:
        raise UsageError(f"{path}: key {key!r} must be one of {', '.join(option.choices)}, not {value!r}")
    if option is not None and option.repeat and isinstance(value, str):
        return [value]
    if option is not None and option.parse in (parse_rate, parse_size) and isinstance(value, str):
        return option.parse(value)
    return value


def _type_check(option: Option | None, value: Any) -> tuple[str, bool]:
    """What the key's value must be, and whether it is."""
    if option is not None and option.repeat:
        items = [value] if isinstance(value, str) else value
        return "a column name or a list of them", isinstance(items, list) and all(isinstance(i, str) for i in items)
    if option is not None and option.switch:
        return "true or false", isinstance(value, bool)
    if option is not None and option.parse is parse_rate:
        return "a number or \"inf\"", _is_number(value) or (isinstance(value, str) and _parses(parse_rate, value))
    if option is not None and option.parse is parse_size:
        whole = isinstance(value, int) and not isinstance(value, bool)
        ok = whole or (isinstance(value, str) and _parses(parse_size, value))
        return "a number of bytes or a size such as \"16MiB\"", ok
    if option is not None and option.parse in (int, float):
        return "a number", _is_number(value)
    return "a string", isinstance(value, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parses(parse: Callable[[str], Any], text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


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


def build_config(settings: Mapping[str, Any], environ: Mapping[str, str], *,
                 credentials: Credentials | None = None) -> ReconcileConfig:
    """Validate the merged settings into a frozen ``ReconcileConfig``; ``credentials``: these, unread from anywhere."""
    def need(name: str, how: str) -> Any:
        if settings.get(name) in (None, ""):
            raise MissingSetting(name.replace("_", "-"), how)
        return settings[name]

    dialect = settings.get("dialect", "classic")
    target = Target(base_url=need("base_url", "pass --base-url or set BP_BASE_URL"),
                    tenant=need("tenant", "pass --tenant or set BP_TENANT"),
                    list_name=need("list", "pass --list"), campaign=need("campaign", "pass --campaign"),
                    dialect=dialect, campaign_id=settings.get("campaign_id") or None,
                    instance_id=settings.get("instance_id") or None)
    input_path = Path(need("input", "name the key file: reconciler run INPUT --output OUTPUT ..."))
    journal = settings.get("journal")
    return ReconcileConfig(
        input_path=input_path,
        output_path=_destination("--output", need("output", "pass --output")),
        target=target,
        credentials=credentials or read_credentials(dialect, settings, environ),
        key_columns=tuple(settings.get("key") or ()),
        input_format=settings.get("input_format"),
        output_format=settings.get("output_format"),
        input_encoding=settings.get("input_encoding", "utf-8"),
        skip_bad_rows=bool(settings.get("skip_bad_rows", False)),
        max_row_bytes=_max_row_bytes(settings),
        policy=_policy(settings, environ, target.base_url),
        journal_path=Path(journal) if journal else None,
        fresh=bool(settings.get("fresh", False)),
        retry_errors=bool(settings.get("retry_errors", False)),
        strategy=settings.get("strategy", "auto"),
        unmatched_path=_file_only(settings, "unmatched"),
        changes_path=_destination("--changes", settings["changes"]) if settings.get("changes") else None,
        previous_path=_path(settings, "previous"),
        state_path=_path(settings, "state"),
        full_refresh_after=duration_setting(settings, "full_refresh_after", 7 * 86400.0),
        overlap=duration_setting(settings, "overlap", 600.0),
    )


def _max_row_bytes(settings: Mapping[str, Any]) -> int:
    value = settings.get("max_row_bytes", 1 << 20)
    if not isinstance(value, int) or isinstance(value, bool):  # text a flag could not parse, e.g. 16MB
        raise InvalidOption("--max-row-bytes", value, MAX_ROW_BYTES_EXPECTED)
    return value


def _path(settings: Mapping[str, Any], name: str) -> Path | None:
    return Path(settings[name]) if settings.get(name) else None


def _destination(option: str, text: str) -> Destination:
    return DatabaseTable.parse(text, option) if is_database_url(text) else Path(text)


def _file_only(settings: Mapping[str, Any], name: str) -> Path | None:
    if settings.get(name) and is_database_url(settings[name]):
        raise UsageError(f"--{name} writes a file (.csv, .csv.gz or .parquet), not a PostgreSQL table")
    return _path(settings, name)


@dataclass(frozen=True, kw_only=True)
class Presentation:
    """How a CLI run shows itself: progress, logs, report, and whether it only plans."""

    report_path: Path | None = None
    audit_path: Path | None = None
    quiet: bool = False
    progress_interval: float = 30.0
    log_format: str = "text"
    dry_run: bool = False
    offline: bool = False


def build_presentation(settings: Mapping[str, Any]) -> Presentation:
    """The CLI-only settings, validated."""
    interval = settings.get("progress_interval", 30.0)
    if not _is_number(interval) or not 0 < interval <= 86400:
        raise InvalidOption("--progress-interval", interval, "seconds above 0, at most 86400")
    log_format = settings.get("log_format", "text")
    if log_format not in LOG_FORMATS:
        raise InvalidOption("--log-format", log_format, " or ".join(LOG_FORMATS))
    if settings.get("offline") and not settings.get("dry_run"):
        raise InvalidOption("--offline", True, "used together with --dry-run")
    report = settings.get("report")
    audit = settings.get("audit")
    return Presentation(report_path=Path(report) if report else None, audit_path=Path(audit) if audit else None,
                        quiet=bool(settings.get("quiet")),
                        progress_interval=float(interval), log_format=log_format,
                        dry_run=bool(settings.get("dry_run")), offline=bool(settings.get("offline")))


def _policy(settings: Mapping[str, Any], environ: Mapping[str, str], base_url: str) -> RequestPolicy:
    # The request settings that are flags (max_answer_bytes is not).
    given = {name: settings[name] for name in EXPECTED if name in _BY_NAME and settings.get(name) is not None}
    for name, value in given.items():
        if not _is_number(value):  # text a flag could not parse, e.g. --rate abc
            raise InvalidOption(f"--{name.replace('_', '-')}", value, EXPECTED[name])
    return RequestPolicy(**given, **network_settings(settings, environ, base_url))


# What an offline dry run puts in place of the credentials: it contacts nothing, so it reads no secret.
UNREAD_CREDENTIALS = Credentials(login="(not read: --offline)", secret="")


def _credential_names(dialect: str) -> tuple[str, str, str]:
    """The login's and the secret's environment variables, and the login's key in the configuration file."""
    if dialect == "classic":
        return "BP_USERNAME", "BP_PASSWORD", "username"
    return "BP_CLIENT_ID", "BP_CLIENT_SECRET", "client_id"


def describe_credentials(settings: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """Where a run would take its credentials from, and what is missing, without reading any secret."""
    login_env, secret_env, login_key = _credential_names(settings.get("dialect", "classic"))
    login = f"{login_env} set" if environ.get(login_env) else \
        f"{login_key} in the configuration file" if settings.get(login_key) else None
    secret_file = settings.get("password_file")
    secret = f"{secret_env} set" if environ.get(secret_env) else None
    if secret_file:
        secret = f"--password-file {secret_file}" + ("" if Path(secret_file).is_file() else " (no such file)")
    said = f"not read (--offline): {login or login_env + ' not set'}, {secret or secret_env + ' not set'}"
    if login is None or secret is None:
        said += f"; a run needs {login_env} and {secret_env} (or --password-file), and stops (exit 2) without them"
    return said


def read_credentials(dialect: str, settings: Mapping[str, Any], environ: Mapping[str, str]) -> Credentials:
    """Login from the environment (or config file), secret from the environment or a named file."""
    login_env, secret_env, login_key = _credential_names(dialect)
    login = environ.get(login_env) or settings.get(login_key)
    if not login:
        raise MissingSetting(login_env, f"set {login_env} in the environment for the {dialect} dialect")
    secret_file = settings.get("password_file")
    secret = _read_secret_file(Path(secret_file)) if secret_file else environ.get(secret_env, "")
    if not secret:
        raise MissingSetting(secret_env, f"set {secret_env} in the environment or pass --password-file")
    return Credentials(login=str(login), secret=secret)


def _read_secret_file(path: Path) -> str:
    """The secret in ``path``, without its line end; messages never quote the file's content."""
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise InputError(path, f"cannot read the password file ({exc.strerror or exc}); "
                               "check --password-file") from None
    except UnicodeDecodeError:
        raise InputError(path, "the password file is not UTF-8 text") from None
    if not secret:
        raise InputError(path, "the password file is empty")
    return secret
