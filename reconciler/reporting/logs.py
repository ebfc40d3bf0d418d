"""What the CLI writes on stderr: log records, and its own lines (errors, plan, summary, progress).

Two formats: ``text`` (one readable line per record) and ``json`` (one object a line with ``time``,
``level``, ``logger`` and ``message``, for log shippers). In JSON mode the CLI's own lines are JSON
too, so that a shipper never meets a line it cannot parse. Every line passes ``Masker``: the run's
secrets, and anything shaped like a credential, are replaced by ``***`` whoever wrote it.
Text never carries control characters other than newlines: data from the input or the server can
end up in a message, and an escape sequence in it must not reach a terminal or a log viewer.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

_HANDLER_NAME = "reconciler-cli"
_MIN_SECRET = 4  # shorter "secrets" would mask ordinary words and digits
# Defence in depth for values the run cannot know in advance (tokens a server issued, digest
# responses): what follows these shapes is masked.
_CREDENTIAL_SHAPES = (
    # A header's value may hold quotes and commas (Digest): the rest of the line goes.
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*).+"),
    re.compile(r"(?i)\b(digest\s+)(?=\w+=).+"),
    re.compile(r"(?i)\b(bearer\s+)[\w\-.~+/]+=*"),
    # form fields (password=...) and JSON members ("access_token": "..."), not prose such as "password: ..."
    re.compile(r"(?i)\b((?:access|refresh)_token|client_secret|password|passwd)(=|[\"']\s*:\s*[\"'])"
               r"[^\s\"'&,;}]+"),
)


class Masker:
    """Replaces known secrets and credential-shaped text with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so that a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        for shape in _CREDENTIAL_SHAPES:
            text = shape.sub(lambda match: "".join(match.groups()) + "***", text)
        return text


def printable(text: str) -> str:
    """``text`` with every unprintable character but the newline shown as an escape (``\\x1b``, ``\\t``)."""
    return _replace_unprintable(text, lambda c: c.encode("unicode_escape").decode("ascii"))


def _replace_unprintable(text: str, escape: Callable[[str], str]) -> str:
    if text.replace("\n", "").isprintable():  # the common case, at C speed
        return text
    return "".join(c if c == "\n" or c.isprintable() else escape(c) for c in text)


def _json_escape(char: str) -> str:
    return json.dumps(char)[1:-1]  # \uXXXX (a surrogate pair beyond the BMP): valid inside a JSON string


def json_line(message: str, *, level: str = "INFO", logger: str = "reconciler", when: float | None = None,
              exception: str | None = None, fields: Mapping[str, object] | None = None) -> str:
    """One JSON log line (without its newline); ``when`` is a POSIX time, now by default.

    ``fields`` become keys of the line beside the message (a progress line's figures); they never
    replace ``time``, ``level``, ``logger`` or ``message``.
    """
    moment = datetime.fromtimestamp(when, UTC) if when is not None else datetime.now(UTC)
    entry: dict[str, object] = {"time": moment.isoformat(timespec="milliseconds"), "level": level, "logger": logger,
                                "message": message}
    entry.update((name, value) for name, value in (fields or {}).items() if name not in entry)
    if exception:
        entry["exception"] = exception
    # Readable accents, but no raw control, format or separator character (JSON allows U+2028 raw).
    return _replace_unprintable(json.dumps(entry, ensure_ascii=False), _json_escape)


class Console:
    """The CLI's own lines on stderr, in the run's format, masked; logs use the same rules."""

    def __init__(self, log_format: str = "text", masker: Masker | None = None) -> None:
        self.log_format, self.mask = log_format, masker or Masker()

    def line(self, message: str, *, level: str = "INFO", logger: str = "reconciler.cli",
             fields: Mapping[str, object] | None = None) -> str:
        """How ``message`` is written (without its newline); ``fields`` go into a JSON line only."""
        message = self.mask(message)
        if self.log_format == "json":
            return json_line(message, level=level, logger=logger, fields=fields)
        return printable(message)

    def say(self, message: str, *, level: str = "INFO", logger: str = "reconciler.cli",
            fields: Mapping[str, object] | None = None) -> None:
        try:
            print(self.line(message, level=level, logger=logger, fields=fields), file=sys.stderr, flush=True)
        except OSError:  # the reader went away; the table and the report still say how the run went
            silence(sys.stderr)


def silence(stream: TextIO) -> None:
    """Send what is still written to ``stream`` to /dev/null, once writing to it has failed.

    Otherwise every later line, and Python's own flush at exit (which turns the exit code into 120),
    fails again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (a test's StringIO): nothing left to protect
        pass


# The run a log record belongs to, where one process runs several (a fleet's targets side by side): set in
# each run's task, and so seen by the tasks and worker threads that it starts.
RUN_NAME: ContextVar[str | None] = ContextVar("reconciler_run_name", default=None)


def _run_name(record: logging.LogRecord) -> str | None:
    name = getattr(record, "run_name", None)
    if name is None:
        name = record.run_name = RUN_NAME.get()
    return name


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and the exception, if any)."""

    def __init__(self, mask: Masker) -> None:
        super().__init__()
        self._mask = mask

    def format(self, record: logging.LogRecord) -> str:
        exception = self.formatException(record.exc_info) if record.exc_info else None
        name = _run_name(record)
        return json_line(self._mask(record.getMessage()), level=record.levelname, logger=record.name,
                         when=record.created, exception=self._mask(exception) if exception else None,
                         fields={"target": name} if name is not None else None)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, masked and printable; ``prefix`` first (clears a live line)."""

    def __init__(self, mask: Masker, prefix: str = "") -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
        self._mask, self._prefix = mask, prefix

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        name = _run_name(record)
        if name is not None:  # "... WARNING reconciler.client: acme/Campaign_1/list: message"
            head, colon, message = text.partition(": ")
            text = f"{head}{colon}{name}: {message}"
        return self._prefix + printable(self._mask(text))


def configure(verbosity: int, log_format: str, masker: Masker, *, live_line: bool = False) -> None:
    """Send the ``reconciler`` logger to stderr; calling it again replaces the previous setup.

    ``live_line``: a progress line is being redrawn on this terminal; each record first erases it.
    """
    logger = logging.getLogger("reconciler")
    for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter(masker) if log_format == "json"
                         else TextFormatter(masker, "\r\x1b[K" if live_line else ""))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG)
