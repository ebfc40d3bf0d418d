"""Every error reconciler raises, with the exit code the CLI maps it to.

    ReconcilerError
    ├── UsageError            exit 2  bad flags, configuration or journal binding
    ├── InputError            exit 2  the input or output file cannot be used (nothing was sent)
    ├── DatabaseUnusable      exit 2  a PostgreSQL output cannot be used (nothing was sent)
    ├── DatabaseWriteFailed   exit 1  the database refused tonight's rows; nothing written (journal kept)
    ├── RunAborted            exit 3  the server says the whole run cannot succeed
    │   └── KeyFieldMissing           the list's key fields are not the --key columns sent
    ├── ServerUnavailable     exit 1  every request kept failing for too long (journal kept)
    │   └── ServerUnreachable         the first request never reached the server (nothing kept)
    ├── PublishFailed         exit 1  an object store or Delta table refused the whole table (journal kept)
    └── RunInterrupted        exit 130 / 143  SIGINT / SIGTERM (journal kept)

A per-row outcome (record not found, retries exhausted) is never an exception: it is a
``LookupResult`` in the table. Leaves carry their context as attributes and build their message.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio


class ReconcilerError(Exception):
    """Base of every error reconciler raises on purpose."""

    exit_code = 2


class UsageError(ReconcilerError):
    """A flag, configuration value or journal binding is wrong."""

    exit_code = 2


class InvalidOption(UsageError):
    def __init__(self, option: str, value: object, expected: str) -> None:
        self.option, self.value, self.expected = option, value, expected
        super().__init__(f"{option}: {value!r} is not valid; expected {expected}")


class MissingSetting(UsageError):
    def __init__(self, setting: str, how: str) -> None:
        self.setting = setting
        super().__init__(f"{setting} is required: {how}")


class KeyColumnsRequired(UsageError):
    """An input of several columns names no key column: which of them identify a record is not guessed."""

    def __init__(self, source: str, columns: list[str], option: str = "key_columns") -> None:
        self.source, self.columns, self.option = source, columns, option
        super().__init__(f"the input {source} has {len(columns)} columns ({', '.join(columns)}): "
                         f"name the list's key field(s) with {option}")

    def naming(self, option: str) -> KeyColumnsRequired:
        """The same error, worded for the face that sets the key columns (``--key`` on the command line)."""
        return KeyColumnsRequired(self.source, self.columns, option)


class InputError(ReconcilerError):
    """The input (or the output location) cannot be used; nothing was sent to the server."""

    exit_code = 2

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: {problem}")


class InputColumnMissing(InputError):
    def __init__(self, path: Path | str, column: str, present: list[str], *, holder: str = "the file") -> None:
        self.column, self.present = column, present
        super().__init__(path, f"key column {column!r} is not in {holder}; columns present: {', '.join(present)}")


class BadInputRow(InputError):
    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(path, f"{where}{problem}")


class DatabaseUnusable(ReconcilerError):
    """A PostgreSQL output cannot be used (unreachable, credentials refused, a table of other columns)."""

    exit_code = 2

    def __init__(self, table: str, problem: str) -> None:
        self.table, self.problem = table, problem
        super().__init__(f"{table}: {problem}")


class DatabaseWriteFailed(ReconcilerError):
    """Writing tonight's rows failed after the server was asked; the transaction was rolled back."""

    exit_code = 1

    def __init__(self, table: str, problem: str) -> None:
        self.table, self.problem = table, problem
        super().__init__(f"{table}: {problem}; nothing was written (the transaction was rolled back); the "
                         "journal is kept: rerun the same command to write the table from it")


class RunAborted(ReconcilerError):
    """The server answered something that no retry can fix; the run stopped (journal kept)."""

    exit_code = 3
    url: str | None = None

    def asked_at(self, url: str) -> RunAborted:
        """Name the URL that was answered: a user with several tenants must see which server said it."""
        self.url = url
        if url not in str(self):
            self.args = (f"{self}; asked {url}",)
        return self


class AuthenticationFailed(RunAborted):
    def __init__(self, user: str, dialect: str, http_status: int, detail: str) -> None:
        self.user, self.dialect, self.http_status = user, dialect, http_status
        super().__init__(
            f"authentication failed for user {user!r} ({dialect} dialect, HTTP {http_status}: {detail}); "
            "check the credentials; the run stopped at once so that the account is not locked"
        )


class PermissionDenied(RunAborted):
    def __init__(self, user: str, dialect: str, detail: str) -> None:
        self.user, self.dialect = user, dialect
        super().__init__(
            f"user {user!r} is authenticated but lacks the 'Manage lists' privilege "
            f"({dialect} dialect, HTTP 403: {detail})"
        )


class TargetNotFound(RunAborted):
    def __init__(self, what: str, detail: str) -> None:
        self.what = what
        super().__init__(f"{what} not found on the server ({detail})")


class TargetAmbiguous(RunAborted):
    """A v3 name matches more than one campaign or list instance: guessing could read the wrong one."""

    def __init__(self, what: str, name: str, candidates: list[str], option: str) -> None:
        self.what, self.name, self.candidates = what, name, candidates
        super().__init__(f"{what} {name!r} is ambiguous: {'; '.join(candidates)}; pass {option} to choose one")


class RequestRefused(RunAborted):
    """The server refuses every request of this kind (v3 409 instance not bound, 415 media type)."""

    def __init__(self, http_status: int, detail: str) -> None:
        self.http_status = http_status
        super().__init__(f"the server refused the request (HTTP {http_status}: {detail})")


class PageUnreadable(RunAborted):
    """A page of records could not be read; a scan or a sync cannot skip a page, so the run stops."""

    def __init__(self, from_index: int | str, reason: str, endpoint: str = "getAll") -> None:
        self.from_index, self.reason, self.endpoint = from_index, reason, endpoint
        where = f"index {from_index}" if isinstance(from_index, int) else from_index
        super().__init__(f"the {endpoint} page from {where} could not be read: {reason}")


class PageNotReceived(PageUnreadable):
    """A page still failed at its last attempt (no connection, timeouts, 5xx, a gateway's HTML): a rerun may get it.

    Exit 1, as for requests failing for ``--failure-span``: nothing in the answers says the run is wrong.
    """

    exit_code = 1

    def __init__(self, from_index: int | str, reason: str, endpoint: str = "getAll") -> None:
        super().__init__(from_index, reason, endpoint)
        self.args = (f"{self}; rerun the same command later to go on from this page",)


class KeyFieldMissing(RunAborted):
    """The list has a key field the --key columns do not give: every row would be refused the same way.

    Said by the server (``400 missing key: <field>`` to a query; ``entry_fields`` is None), or seen in
    a scan's first page, where no record has every --key field (``entry_fields``: what they do have).
    """

    NAMED_AT_MOST = 30  # entry fields a message names

    def __init__(self, list_name: str | None, fields: Sequence[str], key_columns: Sequence[str], *,
                 entry_fields: Sequence[str] | None = None) -> None:
        self.list_name, self.fields, self.key_columns = list_name, tuple(fields), tuple(key_columns)
        self.entry_fields = None if entry_fields is None else tuple(entry_fields)
        the_list = "the calling list" if list_name is None else f"the calling list {list_name!r}"
        if self.entry_fields is None:
            message = (f"{the_list} has a key field {self.field!r} that the request lacks "
                       f"(--key sent: {', '.join(self.key_columns) or 'none'}); name the list's key fields with --key")
        else:
            message = (f"no record of {the_list} has the key field(s) {', '.join(self.fields)} (--key); "
                       f"its entries have: {self._named(self.entry_fields)}")
        super().__init__(message)

    @property
    def field(self) -> str:
        """The key field missing (the first, when a scan found several)."""
        return self.fields[0]

    @classmethod
    def _named(cls, names: tuple[str, ...]) -> str:
        if not names:
            return "no field"
        shown = ", ".join(names[:cls.NAMED_AT_MOST])
        return shown if len(names) <= cls.NAMED_AT_MOST else f"{shown} and {len(names) - cls.NAMED_AT_MOST} more"


class TlsCertificateInvalid(RunAborted):
    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        super().__init__(
            f"the TLS certificate of {url} was rejected ({detail}); if a private or corporate certificate "
            "authority signed it, pass --ca-bundle PATH (or --system-trust-store); else fix the certificate, or "
            "pass --insecure to skip verification (not for production)"
        )


class ProxyRefused(RunAborted):
    """The forward proxy will not carry the run's requests: 407 or 401 (its credentials), 403 (its rules)."""

    def __init__(self, proxy: str, http_status: int, reason: str, target: str) -> None:
        self.proxy, self.http_status, self.target = proxy, http_status, target
        if http_status in (401, 407):
            fix = ("set the proxy's user and password in HTTPS_PROXY or HTTP_PROXY "
                   "(http://USER:PASSWORD@host:port), or check them")
        else:
            fix = f"ask for {target} to be allowed through it, or name the host in NO_PROXY to go around it"
        super().__init__(f"the proxy {proxy} refused to reach {target} (HTTP {http_status} {reason}); {fix}")


class ServerUnavailable(ReconcilerError):
    """Every request failed for longer than the configured span; stopping beats marking every row."""

    exit_code = 1

    def __init__(self, seconds: float, last_error: str) -> None:
        self.seconds, self.last_error = seconds, last_error
        super().__init__(
            f"every request failed for {seconds:.0f} s (last: {last_error}); "
            "the journal is kept: rerun the same command to resume"
        )


class ServerUnreachable(ServerUnavailable):
    """No connection could be made to a server that never answered this run: a wrong address, or one down.

    Raised after the first request's retries, within seconds: the progress lines of a run that can
    reach nothing would otherwise say ``errors 0`` for minutes.
    """

    def __init__(self, reason: str, attempts: int, seconds: float) -> None:
        self.reason, self.attempts = reason, attempts
        ReconcilerError.__init__(
            self, f"{reason} after {attempts} attempt{'s' if attempts != 1 else ''} in {seconds:.0f} s: the server "
                  "could not be reached; check --base-url, or rerun later")
        self.seconds, self.last_error = seconds, reason


class PublishFailed(ReconcilerError):
    """The table was whole, but its object store or Delta table refused it: rerun to write it again."""

    exit_code = 1

    def __init__(self, destination: str, problem: str) -> None:
        self.destination, self.problem = destination, problem
        super().__init__(f"{destination}: {problem}; the journal is kept: rerun the same command to write it again")


class RunInterrupted(ReconcilerError):
    def __init__(self, signal_name: str, exit_code: int) -> None:
        self.signal_name = signal_name
        self.exit_code = exit_code
        super().__init__(f"stopped by {signal_name}; the journal is kept: rerun the same command to resume")


def root_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error that stopped the stage, rather than the broken streams it left behind."""
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(group)
    for kind in (ReconcilerError, Exception):
        chosen = next((e for e in leaves if isinstance(e, kind) and not _is_broken_stream(e)), None)
        if chosen is not None:
            return chosen
    return group


def _is_broken_stream(error: BaseException) -> bool:
    # A stage that died leaves its peers holding closed streams; those errors are symptoms.
    return isinstance(error, anyio.BrokenResourceError | anyio.ClosedResourceError)
