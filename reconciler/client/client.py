"""``BrightPatternClient``: the ``RecordSource`` that asks a Bright Pattern server over HTTP.

One request's path: the retry policy runs attempts; each attempt gets the bearer token (v2, v3) and
follows same-origin 307/308 redirects; every HTTP request waits for a free connection and for its
start slot from the run's ``Throttle``, and tells the throttle how the server answered. The final
reply is then classified into a row's result, a page, or an error that stops the run; a server that
never answered and cannot be connected to stops it too (``Contact``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from yarl import URL

from reconciler.client.answer import Unusable
from reconciler.client.changes import read_changed_page, read_completed_page
from reconciler.client.classify import (
    Asked,
    followable_redirect,
    page_result,
    pages_result,
    raise_if_fatal,
    record_result,
)
from reconciler.client.contact import Contact
from reconciler.client.dialects import endpoints_for
from reconciler.client.pacing import ConnectionSlots, Throttle, ThrottleShare, ThrottleStats
from reconciler.client.reply import AttemptFailed, Reply, shown_url
from reconciler.client.retry import Retrier, Tried, is_retryable, retry_after_cap
from reconciler.client.token import TokenSource
from reconciler.client.transport import send
from reconciler.config import Credentials, RequestPolicy, Target
from reconciler.errors import RunAborted
from reconciler.lookup import ChangedRecord, ListedPage, LookupResult

MAX_REDIRECTS = 3


def api_time(moment: datetime) -> str:
    """A time as the API writes it: UTC, milliseconds, no zone (``2013-03-01T13:15:06.456``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@dataclass(slots=True)
class ClientStats:
    """What a client has sent so far: every HTTP request (token fetches included), retries, throttling."""

    requests_sent: int = 0
    retries: int = 0  # attempts beyond the first, over all records and pages
    # Retries by what the attempt before each one got: "429", "503", ..., "unreadable" (a 200 that is
    # not the API's JSON, a proxy's page) or "no_answer" (timeout, reset, refused connection).
    retries_by_status: Counter[str] = field(default_factory=Counter)
    throttling: ThrottleStats = field(default_factory=ThrottleStats)


def retry_cause(outcome: Reply | AttemptFailed) -> str:
    """How ``retries_by_status`` names what made an attempt worth repeating."""
    if isinstance(outcome, AttemptFailed):
        return "no_answer"
    return "unreadable" if outcome.status == 200 else str(outcome.status)


class ClientCore:
    """What every dialect's client shares: one request's path through retries, token, redirects and pacing."""

    def __init__(self, session: aiohttp.ClientSession, policy: RequestPolicy, credentials: Credentials, *,
                 token_url: URL | None, scope: str, dialect: str, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]], throttle: Throttle | None = None) -> None:
        # ``throttle``: a tenant's pace shared by several clients (a fleet); None: this client's own.
        self.throttle: Throttle | ThrottleShare
        if throttle is None:
            self.stats = ClientStats()
            self.throttle = Throttle(policy.rate, clock=clock, sleep=sleep, stats=self.stats.throttling)
        else:
            self.throttle = ThrottleShare(throttle)
            self.stats = ClientStats(throttling=self.throttle.stats)
        self._session, self._policy, self._clock = session, policy, clock
        self._retrier = Retrier(policy, sleep=sleep, clock=clock)
        self._contact = Contact(policy.unreachable_after)
        # Waiting for a connection happens here, outside aiohttp's per-attempt timeout.
        self._connections = ConnectionSlots(policy.concurrency)
        self._tokens = None if token_url is None else TokenSource(
            self._post_form, token_url, credentials, scope, clock=clock, dialect=dialect)

    async def _tried(self, url: URL, body: object, method: str = "POST") -> Tried:
        """The request retried by the policy; its retries counted, by what the attempt before each got."""
        outcomes: list[Reply | AttemptFailed] = []

        async def attempt() -> Reply:
            try:
                reply = await self._attempt(url, body, method)
            except AttemptFailed as failure:
                outcomes.append(failure)
                raise
            outcomes.append(reply)
            return reply

        started = self._clock()
        tried = await self._retrier.run(attempt, connect_budget=self._contact.connect_budget())
        if tried.attempts > 1:
            self.stats.retries += tried.attempts - 1
            self.stats.retries_by_status.update(retry_cause(outcome) for outcome in outcomes[:tried.attempts - 1])
        self._contact.check(tried, self._clock() - started)
        return tried

    async def _get_document(self, url: URL, what: str, asked: Asked) -> object:
        """A GET read (Get Campaigns, Get Campaign): its JSON document; anything else stops the run naming ``what``."""
        tried = await self._tried(url, None, method="GET")
        reply = tried.outcome
        if isinstance(reply, AttemptFailed) or is_retryable(reply):
            raise RunAborted(f"{what} could not be read: {tried.exhausted()}").asked_at(shown_url(url))
        raise_if_fatal(reply, asked, record_missing_ok=False)
        if reply.status != 200 or reply.body is None:
            raise RunAborted(f"{what} could not be read: HTTP {reply.status} {reply.text()}".rstrip()).asked_at(
                shown_url(url))
        return reply.document

    async def _attempt(self, url: URL, body: object, method: str = "POST") -> Reply:
        """One attempt: the request, then any same-origin 307/308 it is sent on to."""
        reply = await self._authorized(url, body, method)
        for _ in range(MAX_REDIRECTS):
            if (onward := followable_redirect(reply)) is None:
                break
            reply = await self._authorized(onward, body, method)
        return reply

    async def _authorized(self, url: URL, body: object, method: str) -> Reply:
        if self._tokens is None:  # classic: the session's digest middleware signs every request
            return await self._send(url, method=method, json_body=body)
        reply, token = await self._with_token(self._tokens, url, body, method)
        if reply.status == 401 and token is not None:
            # Renewed once; a second 401 is classified as fatal.
            self._tokens.invalidate(token)
            reply, _ = await self._with_token(self._tokens, url, body, method)
        return reply

    async def _with_token(self, tokens: TokenSource, url: URL, body: object,
                          method: str) -> tuple[Reply, str | None]:
        token = await tokens.bearer()
        if isinstance(token, Reply):  # the token endpoint is overloaded: the attempt gets retried
            return token, None
        headers = {"Authorization": f"Bearer {token}"}
        return await self._send(url, method=method, json_body=body, headers=headers), token

    async def _post_form(self, url: URL, form: Mapping[str, str]) -> Reply:
        return await self._send(url, form=form)

    async def _send(self, url: URL, *, method: str = "POST", json_body: object = None,
                    form: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Reply:
        async with self._connections:
            await self.throttle.wait_turn()
            self.stats.requests_sent += 1
            try:
                reply = await send(self._session, method, url, max_bytes=self._policy.max_answer_bytes,
                                   json_body=json_body, form=form, headers=headers)
            except AttemptFailed as failure:
                self._contact.failed(failure)
                raise
        self._contact.answered()
        retry_after = None if reply.retry_after is None else min(reply.retry_after, retry_after_cap(self._policy))
        self.throttle.note_answer(reply.status, retry_after)
        return reply


class BrightPatternClient(ClientCore):
    """Asks one Bright Pattern server about records of one calling list in one campaign (classic, v2).

    Build it with ``open_record_source``, which owns the HTTP session. Per-row outcomes (found,
    not found, retries exhausted) come back as ``LookupResult``; answers that no other row could
    survive (bad credentials, unknown campaign, rejected certificate) raise ``RunAborted``.
    """

    def __init__(self, session: aiohttp.ClientSession, target: Target, credentials: Credentials,
                 policy: RequestPolicy, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]], throttle: Throttle | None = None) -> None:
        self._endpoints = endpoints_for(target)
        super().__init__(session, policy, credentials, token_url=self._endpoints.token, scope=target.tenant,
                         dialect=target.dialect, clock=clock, sleep=sleep, throttle=throttle)
        self._asked = Asked(login=credentials.login, dialect=target.dialect, list_name=target.list_name,
                            campaign=target.campaign, max_bytes=policy.max_answer_bytes)

    async def query(self, key: Mapping[str, str]) -> LookupResult:
        """Look one record up by its key fields (``{"account_id": "000123"}``)."""
        body = {name: str(value) for name, value in key.items()}
        return record_result(await self._tried(self._endpoints.query, body), self._asked, sent=tuple(body))

    def list_location(self) -> tuple[str, str]:
        """The calling list's name, and the URL its pages are read from (as a message may show it)."""
        return self._asked.list_name, shown_url(self._endpoints.page)

    async def fetch_page(self, from_index: int, max_size: int) -> ListedPage:
        """The getAll page of at most ``max_size`` records from ``from_index``; ``[]`` past the end."""
        body = {"fromIndex": from_index, "maxSize": max_size}
        return page_result(await self._tried(self._endpoints.page, body), self._asked, from_index)

    async def fetch_changes(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        """getChanged: records with any activity at or after ``since``."""
        return await self._changes(self._endpoints.changed, "getChanged", read_changed_page, since, max_size)

    async def fetch_completed(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        """getCompleted: records completed at or after ``since``, with their whole status."""
        return await self._changes(self._endpoints.completed, "getCompleted", read_completed_page, since, max_size)

    async def _changes(self, url: URL, endpoint: str, read: Callable[[object], list[ChangedRecord] | Unusable],
                       since: datetime, max_size: int) -> list[ChangedRecord]:
        from_time = api_time(since)
        # maxSize as text, as the API's own examples send it
        body = {"fromTime": from_time, "maxSize": str(max_size)}
        return pages_result(await self._tried(url, body), self._asked, read, f"time {from_time}", endpoint)
