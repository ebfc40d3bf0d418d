"""Frozen, validated configuration passed down explicitly; nothing here reads the environment."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from yarl import URL

from reconciler.errors import InvalidOption, UsageError

Dialect = Literal["classic", "v2", "v3"]
DIALECTS: tuple[Dialect, ...] = ("classic", "v2", "v3")
FileFormat = Literal["csv", "parquet"]
FILE_FORMATS: tuple[FileFormat, ...] = ("csv", "parquet")
Strategy = Literal["query", "scan", "auto", "incremental"]
STRATEGIES: tuple[Strategy, ...] = ("query", "scan", "auto", "incremental")


# What each request setting accepts, worded for the user; also used by the settings loader.
EXPECTED = {
    "concurrency": "an integer from 1 to 1000",
    "rate": "a number of requests per second above 0 (inf for no limit)",
    "max_attempts": "an integer from 1 to 100",
    "timeout": "seconds above 0, at most 3600",
    "max_backoff": "seconds from 0 to 3600",
    "max_answer_bytes": "an integer of at least 1024",
    "failure_span": "seconds above 0",
    "page_size": "an integer from 1 to 1000",
    "unreachable_after": "seconds from 0 to 3600",
}
# The most records the API answers in one list or changes page (maxSize, limit): the default page.
MAX_PAGE_SIZE = 1000


MAX_ROW_BYTES_EXPECTED = "a size from 1MiB to 1GiB, in bytes or with KiB, MiB or GiB, e.g. 16MiB"


def format_from_name(path: Path, override: FileFormat | None) -> tuple[FileFormat, bool] | None:
    """The table format a file name implies (or the override) and whether it is gzipped; None if unknown."""
    name = path.name.lower()
    if override is not None:
        return override, override == "csv" and name.endswith(".gz")
    if name.endswith((".csv", ".csv.gz")):
        return "csv", name.endswith(".gz")
    if name.endswith((".parquet", ".pq")):
        return "parquet", False
    return None


def _require(ok: bool, option: str, value: object, expected: str) -> None:
    if not ok:
        raise InvalidOption(option, value, expected)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    # NaN compares false with everything, so a range check written as a comparison refuses it.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_text_encoding(name: str) -> bool:
    try:
        return bool(getattr(codecs.lookup(name), "_is_text_encoding", True))  # refuses rot13, base64, ...
    except LookupError:
        return False


@dataclass(frozen=True, kw_only=True)
class Target:
    """Which calling list, in which campaign, on which server."""

    base_url: str
    tenant: str
    list_name: str
    campaign: str
    dialect: Dialect = "classic"
    # v3 only: the ids the server knows the campaign and the list's instance in it by; None: looked up by name.
    campaign_id: str | None = None
    instance_id: str | None = None

    def __post_init__(self) -> None:
        _require(self.base_url.startswith(("http://", "https://")), "--base-url", self.base_url,
                 "an http:// or https:// URL")
        for option, value in (("--tenant", self.tenant), ("--list", self.list_name),
                              ("--campaign", self.campaign)):
            _require(bool(value.strip()), option, value, "a non-empty name")
        _require(self.dialect in DIALECTS, "--dialect", self.dialect, " or ".join(DIALECTS))
        for option, given in (("--campaign-id", self.campaign_id), ("--instance-id", self.instance_id)):
            if given is not None:
                _require(self.dialect == "v3", option, given, "used with --dialect v3 only")
                _require(bool(given.strip()) and given.strip() == given, option, given,
                         "a non-empty id without surrounding spaces")


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """A login and its secret: a digest password (classic) or an API client secret (v2, v3)."""

    login: str
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        _require(bool(self.login), "credentials", "<empty login>", "a non-empty user name or client id")

    def __repr__(self) -> str:
        return f"Credentials(login={self.login!r}, secret='***')"


@dataclass(frozen=True, kw_only=True)
class RequestPolicy:
    """How hard, how fast and how persistently to ask the server."""

    concurrency: int = 8
    rate: float = 20.0  # requests per second over the whole run; math.inf for no limit
    max_attempts: int = 8
    timeout: float = 30.0  # seconds for one HTTP attempt
    max_backoff: float = 30.0  # cap on any single wait between attempts
    max_answer_bytes: int = 1_000_000
    failure_span: float = 120.0  # seconds of nothing but failures before the run gives up
    page_size: int = MAX_PAGE_SIZE  # records a list or changes page asks for; smaller is gentler on a loaded server
    # Seconds the first request retries a failure to connect, while the server has never answered, before the
    # run stops (ServerUnreachable): with the default backoff, a wrong address ends the run within 30 s.
    # A real setting, not a test hook: a scheduler may want a wrong address to fail sooner, a slow-booting
    # server may need longer.
    unreachable_after: float = 20.0
    verify_tls: bool = True
    # How the server is reached. The library reads no environment: the CLI's settings loader turns
    # HTTPS_PROXY / HTTP_PROXY / NO_PROXY and SSL_CERT_FILE into these.
    ca_bundle: Path | None = None  # PEM file of the certificate authorities to trust, instead of the defaults
    system_trust_store: bool = False  # verify with the operating system's trust store (the truststore package)
    proxy: str | None = field(default=None, repr=False)  # http://[user:password@]host:port; may hold a password

    def __post_init__(self) -> None:
        ranges = {
            "concurrency": _is_int(self.concurrency) and 1 <= self.concurrency <= 1000,
            "rate": _is_number(self.rate) and self.rate > 0,
            "max_attempts": _is_int(self.max_attempts) and 1 <= self.max_attempts <= 100,
            "timeout": _is_number(self.timeout) and 0 < self.timeout <= 3600,
            "max_backoff": _is_number(self.max_backoff) and 0 <= self.max_backoff <= 3600,
            "max_answer_bytes": _is_int(self.max_answer_bytes) and self.max_answer_bytes >= 1024,
            "failure_span": _is_number(self.failure_span) and self.failure_span > 0,
            "page_size": _is_int(self.page_size) and 1 <= self.page_size <= MAX_PAGE_SIZE,
            "unreachable_after": _is_number(self.unreachable_after) and 0 <= self.unreachable_after <= 3600,
        }
        for name, ok in ranges.items():
            option = name if name == "max_answer_bytes" else "--" + name.replace("_", "-")
            _require(ok, option, getattr(self, name), EXPECTED[name])
        self._check_network()

    def _check_network(self) -> None:
        if self.proxy is not None:
            _require(is_proxy_url(self.proxy), "proxy", shown_proxy(self.proxy), PROXY_EXPECTED)
        _require(not (self.ca_bundle and self.system_trust_store), "--ca-bundle", str(self.ca_bundle),
                 "not together with --system-trust-store (one source of trusted certificates)")
        if not self.verify_tls:
            chosen = "--ca-bundle" if self.ca_bundle else "--system-trust-store" if self.system_trust_store else None
            _require(chosen is None, "--insecure", True, f"not together with {chosen} (which verifies certificates)")


PROXY_EXPECTED = "an http:// URL with a host and a port, e.g. http://proxy.example.com:3128"


def is_proxy_url(text: str) -> bool:
    """Whether ``text`` is a proxy URL this client can use: ``http://[user:password@]host:port``."""
    try:
        url = URL(text)
        # The proxy is spoken to in plain HTTP (an https:// server is reached through CONNECT); its port
        # is required because tools disagree on the default (80, 1080, 3128).
        return url.scheme == "http" and bool(url.host) and url.explicit_port is not None \
            and url.path in ("", "/") and not url.query_string
    except ValueError:
        return False


def shown_proxy(text: str) -> str:
    """A proxy URL as messages, logs and reports show it: any user name and password are ``***``."""
    try:
        url = URL(text)
    except ValueError:
        return "<not a URL>"
    if url.user is None and url.password is None:
        return text
    return str(url.with_user(None)).replace("://", "://***@", 1)


_DATABASE_SCHEMES = ("postgresql://", "postgres://")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def is_database_url(text: str) -> bool:
    """Whether an output names a PostgreSQL table (``postgresql://...?table=NAME``) rather than a file."""
    return text.strip().lower().startswith(_DATABASE_SCHEMES)


@dataclass(frozen=True)
class DatabaseTable:
    """A PostgreSQL table: ``postgresql://user@host:5432/db?table=recon_status`` (``table=schema.name`` too).

    ``url`` is what libpq connects with: the URL less ``table``. It never holds a password (one in
    the URL is refused): libpq takes it from ``PGPASSWORD``, ``PGPASSFILE`` or ``?passfile=PATH``.
    """

    url: str
    table: str

    @classmethod
    def parse(cls, text: str, option: str) -> DatabaseTable:
        # The URL is named in messages only once it is known to hold no password.
        parts = urlsplit(text.strip())
        query = parse_qsl(parts.query, keep_blank_values=True)
        if parts.password is not None or any(name == "password" for name, _ in query):
            raise UsageError(f"{option}: the PostgreSQL URL holds a password; give it in PGPASSWORD or in a "
                             "password file (PGPASSFILE, or ?passfile=PATH in the URL), never in the URL")
        tables = [value for name, value in query if name == "table"]
        if len(tables) != 1 or not _IDENTIFIER.fullmatch(tables[0]):
            raise InvalidOption(option, text, "a PostgreSQL URL naming one table, e.g. "
                                "postgresql://recon@db.example.com:5432/analytics?table=recon_status "
                                "(table=NAME or SCHEMA.NAME: letters, digits and _)")
        rest = urlencode([(name, value) for name, value in query if name != "table"])
        return cls(urlunsplit(parts._replace(query=rest)), tables[0])

    @property
    def schema(self) -> str | None:
        return self.table.rpartition(".")[0] or None

    @property
    def name(self) -> str:
        return self.table.rpartition(".")[2]

    @property
    def database(self) -> str:
        return urlsplit(self.url).path.lstrip("/")

    def __str__(self) -> str:
        parts = urlsplit(self.url)
        query = "&".join(filter(None, [parts.query, f"table={self.table}"]))
        return urlunsplit(parts._replace(query=query))


Destination = Path | DatabaseTable  # where a table goes: a file, or a PostgreSQL table


@dataclass(frozen=True, kw_only=True)
class ReconcileConfig:
    """One reconciliation run: where the keys come from, where the table goes, whom to ask."""

    input_path: Path
    output_path: Destination  # a file, or a PostgreSQL table that keeps every night's rows
    target: Target
    credentials: Credentials
    key_columns: tuple[str, ...] = ()  # empty: an input's only column; an input of more must name its keys
    input_format: FileFormat | None = None  # None: from the file name
    output_format: FileFormat | None = None
    input_encoding: str = "utf-8"
    skip_bad_rows: bool = False  # ragged CSV rows: skip and report them instead of stopping
    max_row_bytes: int = 1 << 20  # CSV: the longest row sure to be read (UTF-8); memory grows with it
    policy: RequestPolicy = field(default_factory=RequestPolicy)
    journal_path: Path | None = None  # None: OUTPUT.reconciler-journal beside the output
    fresh: bool = False  # discard an existing journal instead of resuming it
    retry_errors: bool = False  # on resume, ask again for the keys that ended in error
    strategy: Strategy = "auto"  # query each key, scan the whole list, or choose by request count
    unmatched_path: Path | None = None  # with scan: also write the list's records no input key matched
    changes_path: Destination | None = None  # also write the rows whose status changed since the previous run
    previous_path: Path | None = None  # the previous run's table, for --changes without a state
    state_path: Path | None = None  # the nightly state kept between runs (incremental, change feed)
    full_refresh_after: float = 7 * 86400.0  # seconds: an older full read of the list is done again
    overlap: float = 600.0  # seconds before the high-water mark that getChanged asks again

    def __post_init__(self) -> None:
        _require(len(set(self.key_columns)) == len(self.key_columns), "--key", list(self.key_columns),
                 "each key column once")
        _require(all(self.key_columns), "--key", list(self.key_columns), "non-empty column names")
        for option, value in (("--input-format", self.input_format), ("--output-format", self.output_format)):
            _require(value is None or value in FILE_FORMATS, option, value, " or ".join(FILE_FORMATS))
        _require(self.output_format is None or isinstance(self.output_path, Path), "--output-format",
                 self.output_format, "left out with a PostgreSQL --output (it applies to files)")
        _require(_is_text_encoding(self.input_encoding), "--input-encoding", self.input_encoding,
                 "a text encoding, e.g. utf-8, latin-1, cp1252 or utf-16")
        _require(_is_int(self.max_row_bytes) and 1 << 20 <= self.max_row_bytes <= 1 << 30, "--max-row-bytes",
                 self.max_row_bytes, MAX_ROW_BYTES_EXPECTED)
        _require(self.strategy in STRATEGIES, "--strategy", self.strategy, " or ".join(STRATEGIES))
        _require(self.unmatched_path is None or self.strategy in ("scan", "auto"), "--unmatched",
                 str(self.unmatched_path), "used with --strategy scan or auto (only a scan sees the list's other "
                 "records)")
        _require(self.strategy != "incremental" or self.state_path is not None, "--strategy", self.strategy,
                 "incremental together with --state PATH (the file that keeps the list between runs)")
        _require(self.changes_path is None or self.state_path is not None or self.previous_path is not None,
                 "--changes", str(self.changes_path), "used with --state or --previous (the previous run's values)")
        _require(self.previous_path is None or self.changes_path is not None, "--previous",
                 str(self.previous_path), "used with --changes")
        _require(self.unmatched_path is None or delta_table(self.unmatched_path) is None, "--unmatched",
                 shown(self.unmatched_path) if self.unmatched_path else None,
                 "a .csv or .parquet file (the unmatched records carry no run date to partition a Delta table by)")
        for option, table in (("--output", delta_table(self.output_path)),
                              ("--changes", delta_table(self.changes_path) if self.changes_path else None)):
            _require(table is None or not is_template(table), option, shown(table) if table else None,
                     "a Delta table without {date} or {run_id} (it is partitioned by recon_run_date already)")
        for option, local in (("--state", self.state_path), ("--journal", self.journal_path)):
            _require(local is None or (remote_url(local) is None and delta_table(local) is None), option,
                     shown(local) if local else None, "a local file (it stays on this machine, whatever the output)")
        for option, seconds, low in (("--full-refresh-after", self.full_refresh_after, 0.0),
                                     ("--overlap", self.overlap, 0.0)):
            _require(_is_number(seconds) and low <= seconds <= 366 * 86400, option, seconds,
                     "a duration from 0 to 366 days, e.g. 7d, 36h, 10m or 90s")

    @property
    def journal(self) -> Path:
        """The journal's path: given, or beside the output (a templated output: in its concrete folder).

        The journal is a local SQLite file: for an output in object storage it lives in the current
        folder, named after the whole URL (``.s3-bucket-status.parquet.reconciler-journal``).
        """
        if self.journal_path is not None:
            return self.journal_path
        if isinstance(self.output_path, DatabaseTable):  # no folder beside a table: the current one
            return Path(f".{self.output_path.database or 'postgres'}.{self.output_path.table}.reconciler-journal")
        if (url := remote_url(self.output_path)) is not None:
            flat = re.sub(r"[^A-Za-z0-9._=-]+", "-", re.sub(r"\{[^{}]*\}", "", url)).strip("-")
            return Path(f".{flat}.reconciler-journal")
        if (table := delta_table(self.output_path)) is not None:  # beside the table's folder, never in it
            return table.with_name(table.name + ".reconciler-journal")
        if is_template(self.output_path):
            name = re.sub(r"\{[^{}]*\}", "", self.output_path.name) or "output"
            return concrete_folder(self.output_path) / f".{name}.reconciler-journal"
        return self.output_path.with_name(self.output_path.name + ".reconciler-journal")


def is_template(path: Path) -> bool:
    """Whether ``path`` holds placeholders such as ``{date}`` (see ``reconciler.output.history``)."""
    return "{" in str(path) or "}" in str(path)


def concrete_folder(path: Path) -> Path:
    """The deepest folder of a path template that holds no placeholder."""
    folder = path.parent
    while is_template(folder):
        folder = folder.parent
    return folder


# Object stores an --input, --output, --changes, --unmatched or --previous may name (see reconciler.input.stores).
REMOTE_SCHEMES = ("s3", "gs", "az")
_REMOTE = re.compile(rf"^({'|'.join(REMOTE_SCHEMES)}):/+(?=[^/])")
DELTA_PREFIX = "delta:"


def remote_url(path: Destination) -> str | None:
    """``s3://bucket/key`` when ``path`` names an object (``Path`` folds the ``//`` to ``s3:/bucket/key``)."""
    if not isinstance(path, Path):
        return None
    text = str(path)
    if (match := _REMOTE.match(text)) is None:
        return None
    return f"{match.group(1)}://{text[match.end():]}"


def delta_table(path: Destination) -> Path | None:
    """The table's location when ``path`` names a Delta table (``delta:/srv/status``, ``delta:s3://b/status``)."""
    if not isinstance(path, Path):
        return None
    text = str(path)
    return Path(text[len(DELTA_PREFIX):]) if text.startswith(DELTA_PREFIX) else None


def shown(path: Destination) -> str:
    """``path`` as the user wrote it: an object's URL keeps its ``//``; a PostgreSQL table without a password."""
    if not isinstance(path, Path):
        return str(path)
    if (table := delta_table(path)) is not None:
        return DELTA_PREFIX + shown(table)
    return remote_url(path) or str(path)
