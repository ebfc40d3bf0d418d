"""What a final answer means: a result for the row, a page of records, or the end of the run.

404 is overloaded by the server, so its body decides: ``record is not found`` is a result for the
row; ``calling list not found``, ``campaign is not found`` and any other 404 stop the run, as every
row would fail the same way. So does a query's ``400 missing key: <field>`` (plain, or as v3's
``error_description``): the body lacks a key field of the list, and every row sent with the same
columns would get it. 401, 403, 405 and a proxy's 407 stop the run too (an account must not be locked by a
thousand failing logins). Anything else unusable is an error row, with a short text that never
repeats a header or a 200's body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from yarl import URL

from reconciler.client.answer import Unusable, read_record
from reconciler.client.page_rows import read_cursor_rows, read_page
from reconciler.client.reply import AttemptFailed, Reply, shown_url
from reconciler.client.retry import Tried, is_retryable
from reconciler.errors import (
    AuthenticationFailed,
    KeyFieldMissing,
    PageNotReceived,
    PageUnreadable,
    PermissionDenied,
    ProxyRefused,
    RequestRefused,
    RunAborted,
    TargetNotFound,
)
from reconciler.lookup import CursorPage, ListedPage, LookupResult, LookupStatus, found_result

Page = TypeVar("Page")
FOLLOWED_REDIRECTS = frozenset({307, 308})  # the only ones that keep the method and body
_FATAL_STATUSES = frozenset({401, 403, 404, 405, 407, 409, 415})  # the answers ``raise_if_fatal`` looks further into
_MISSING_KEY = re.compile(r"\bmissing key:\s*(\S.*)", re.IGNORECASE)  # the field: the rest, which may hold spaces


@dataclass(frozen=True, slots=True, kw_only=True)
class Asked:
    """Who asked what: the context a message names."""

    login: str
    dialect: str
    list_name: str
    campaign: str
    max_bytes: int


def record_result(tried: Tried, asked: Asked, *, sent: Sequence[str] = ()) -> LookupResult:
    """The row's result from a query's last reply; raises ``RunAborted`` for answers fatal to the run.

    ``sent``: the key field names the query's body held (the --key columns), for a message to name.
    """
    reply = tried.outcome
    if isinstance(reply, AttemptFailed) or is_retryable(reply):
        return _error(tried, tried.exhausted())
    raise_if_fatal(reply, asked, record_missing_ok=True)
    if (missing := _key_missing(reply, asked, sent)) is not None:
        raise missing.asked_at(shown_url(reply.url))
    if reply.body is None:
        return _error(tried, f"answer larger than {asked.max_bytes} bytes")
    if reply.status == 404:
        return LookupResult(status=LookupStatus.NOT_FOUND, attempts=tried.attempts, http_status=404,
                            error="record is not found")
    if reply.status != 200:
        return _error(tried, _refusal(reply))
    try:
        found = read_record(reply.document, asked.campaign)
    except RunAborted as fatal:  # a 200 that says the campaign is not there
        raise fatal.asked_at(shown_url(reply.url)) from None
    if isinstance(found, Unusable):
        return _error(tried, found.reason)
    return found_result(tried.attempts, found.entry, found.record)


def page_result(tried: Tried, asked: Asked, from_index: int) -> ListedPage:
    """The records of a getAll page from its last reply, as rows; anything else stops the run."""
    return pages_result(tried, asked, read_page, from_index, "getAll")


def pages_result(tried: Tried, asked: Asked, read: Callable[[object], Page | Unusable],
                 position: int | str, endpoint: str) -> Page:
    """Any page of records (getAll, getChanged, getCompleted, v3's by cursor) read; anything else stops the run."""
    reply = tried.outcome
    if isinstance(reply, AttemptFailed) or is_retryable(reply):
        raise PageNotReceived(position, tried.exhausted(), endpoint)
    raise_if_fatal(reply, asked, record_missing_ok=False)
    where = shown_url(reply.url)
    if reply.body is None:
        raise PageUnreadable(position, f"answer larger than {asked.max_bytes} bytes", endpoint).asked_at(where)
    if reply.status != 200:
        raise PageUnreadable(position, _refusal(reply), endpoint).asked_at(where)
    page = read(reply.document)
    if isinstance(page, Unusable):
        raise PageUnreadable(position, page.reason, endpoint).asked_at(where)
    return page


def cursor_page_result(tried: Tried, asked: Asked, first_index: int, limit: int) -> CursorPage:
    """The records of a v3 getAllRecords page from its last reply; anything else stops the run."""
    return pages_result(tried, asked, lambda document: read_cursor_rows(document, first_index, limit), first_index,
                        "getAllRecords")


def raise_if_fatal(reply: Reply, asked: Asked, *, record_missing_ok: bool) -> None:
    """Raise the ``RunAborted`` an answer calls for (no other row could succeed either), naming its URL."""
    fatal = _fatal(reply, asked, record_missing_ok=record_missing_ok)
    if fatal is not None:
        raise fatal.asked_at(shown_url(reply.url))


def _fatal(reply: Reply, asked: Asked, *, record_missing_ok: bool) -> RunAborted | None:
    status = reply.status
    if status not in _FATAL_STATUSES:  # a 200 above all: its body is read elsewhere, its text never needed
        return None
    if status in (409, 415):
        if asked.dialect == "v3":  # elsewhere undocumented: an error row, as any other refusal
            return _v3_refusal(reply, asked)
        return None
    if status == 407:  # never the server's: a proxy's, for an http:// server (https:// gets it on CONNECT)
        return ProxyRefused("on the way", 407, "Proxy Authentication Required", f"{reply.url.host}:{reply.url.port}")
    if status == 401:
        return AuthenticationFailed(asked.login, asked.dialect, 401, reply.text() or "no detail given")
    if status == 403:
        return PermissionDenied(asked.login, asked.dialect, reply.text() or "no detail given")
    if status == 405:
        return TargetNotFound("endpoint", f"HTTP 405 (method not allowed) for POST {shown_url(reply.url)}")
    if status == 404:
        said = (reply.body or b"").decode("utf-8", "replace").lower()
        if "record is not found" in said and record_missing_ok:
            return None
        text = reply.text()
        if "calling list not found" in said:
            return TargetNotFound("calling list", f"{asked.list_name!r}: HTTP 404 {text}")
        if "campaign is not found" in said:
            return TargetNotFound("campaign", f"{asked.campaign!r}, or the calling list {asked.list_name!r} "
                                              f"is not bound to it: HTTP 404 {text}")
        return TargetNotFound("endpoint", f"HTTP 404 for {shown_url(reply.url)}: {text or 'no detail given'}; "
                                          "check --base-url, --tenant and --dialect")
    return None


def _key_missing(reply: Reply, asked: Asked, sent: Sequence[str]) -> KeyFieldMissing | None:
    """A query's ``400 missing key: <field>``: the list has a key field that the body lacks."""
    if reply.status != 400:
        return None
    said = _MISSING_KEY.search(reply.text())
    if said is None:
        return None
    return KeyFieldMissing(asked.list_name, [said.group(1)], sent)


def _v3_refusal(reply: Reply, asked: Asked) -> RequestRefused:
    text = reply.text() or "no detail given"
    if reply.status == 409:
        return RequestRefused(409, f"{text}; the list instance is not bound to campaign {asked.campaign!r}: "
                                   "check --instance-id, or leave it out to look the instance up by --list")
    return RequestRefused(415, f"{text}; the server did not accept the JSON body's content type "
                               "(a proxy on the way may rewrite it)")


def followable_redirect(reply: Reply) -> URL | None:
    """Where a 307/308 within the same origin points; None for any other answer."""
    target = _location(reply)
    if reply.status not in FOLLOWED_REDIRECTS or target is None:
        return None
    return target if _same_origin(target, reply.url) else None


def _refusal(reply: Reply) -> str:
    if 300 <= reply.status < 400:
        return _redirect(reply)
    text = reply.text()
    return f"HTTP {reply.status}: {text}" if text else f"HTTP {reply.status}"


def _redirect(reply: Reply) -> str:
    target = _location(reply)
    if target is None:
        return f"HTTP {reply.status} redirect without a usable Location"
    # Another origin is never followed: the credentials must not go anywhere else.
    if target.host != reply.url.host:
        return f"redirected to another host {target.host}; set --base-url to the final address"
    if not _same_origin(target, reply.url):
        return f"redirected to {target.scheme}://{target.host}:{target.port}; set --base-url to the final address"
    if reply.status in FOLLOWED_REDIRECTS:
        return f"HTTP {reply.status}: too many redirects"
    return f"HTTP {reply.status} redirect to {target.raw_path}; set --base-url to the final address"


def _location(reply: Reply) -> URL | None:
    if not reply.location:
        return None
    try:
        return reply.url.join(URL(reply.location))
    except ValueError:  # not a URL at all
        return None


def _same_origin(one: URL, other: URL) -> bool:
    return (one.scheme, one.host, one.port) == (other.scheme, other.host, other.port)


def _error(tried: Tried, error: str) -> LookupResult:
    status = tried.outcome.status if isinstance(tried.outcome, Reply) else None
    return LookupResult(status=LookupStatus.ERROR, attempts=tried.attempts, http_status=status, error=error)
