"""What one HTTP exchange gave back, as plain data: everything past the transport reads only this.

``Reply`` holds the few parts of an answer reconciler looks at (never the header values it does not
need, so none can leak into a message); ``AttemptFailed`` says no answer came back at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from yarl import URL

from reconciler.client.answer import NOT_JSON

_SECONDS = re.compile(r"\d+(?:\.\d+)?", re.ASCII)


class AttemptFailed(Exception):
    """No answer came back (timeout, refused or reset connection, cut-off body); worth another try.

    ``connected`` is False when no connection to the server was made at all (refused, DNS failure,
    connection timeout): the address may be wrong, which a server that answered once rules out.
    """

    def __init__(self, reason: str, *, connected: bool = True) -> None:
        self.reason, self.connected = reason, connected
        super().__init__(reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One HTTP answer. ``body`` is None when the answer was larger than the limit and left unread."""

    status: int
    url: URL
    content_type: str = ""  # the media type alone, e.g. "text/html"; "" when the server sent none
    body: bytes | None = b""
    size: int = 0  # bytes announced (Content-Length) or read
    retry_after: float | None = None  # seconds, from Retry-After
    location: str | None = None
    document: object = NOT_JSON  # the parsed JSON of a 200 answer (or ``Unusable``: JSON, but not storable)

    @property
    def unreadable(self) -> bool:
        """A 200 whose body is not JSON: a proxy's page or a cut-off answer, so worth asking again."""
        return self.status == 200 and self.body is not None and self.document is NOT_JSON

    def describe(self) -> str:
        """A short account of the answer for an error message: never its headers, never a 200's body."""
        if not self.unreadable:
            return f"HTTP {self.status}"
        if not self.body:
            return "HTTP 200 with an empty body"
        kind = self.content_type or "no content type"
        return f"HTTP 200 with a non-JSON body ({kind}, {self.size} bytes)"

    def text(self, limit: int = 200) -> str:
        """The server's own short message (e.g. ``missing key: phone1``), on one line, cut at ``limit``."""
        if not self.body:
            return ""
        if self.content_type == "text/html":
            return "an HTML page"
        said = _error_description(self.body) or self.body.decode("utf-8", "replace")
        printable = "".join(c if c.isprintable() else " " for c in said)
        text = " ".join(printable.split())
        return text if len(text) <= limit else text[:limit] + "…"


def _error_description(body: bytes) -> str | None:
    """The ``error_description`` of a v3 error body ``{"error", "error_description"}``, else None."""
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("error_description"), str):
        return None
    error = document.get("error")
    description: str = document["error_description"]
    return f"{error}: {description}" if isinstance(error, str) and error else description


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date; None when unreadable."""
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def shown_url(url: URL) -> str:
    """``url`` as a message may show it: scheme, host, port and path; never a user, password or query."""
    return str(url.with_user(None).with_query(None).with_fragment(None))
