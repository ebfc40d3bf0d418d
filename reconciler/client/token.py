"""The v2 and v3 dialects' bearer token: OAuth2 client credentials, renewed before it expires.

One token serves every request of a run. It is renewed when less than min(60 s, 10 % of its life)
remains, and once more when a request is answered 401; concurrent callers share one renewal. The
token endpoint is reached through the client's own ``post`` (paced and counted like any request);
an overloaded endpoint hands its reply back so that the request needing the token retries it.
Neither the secret nor the token ever enters a message or a log record.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import anyio
from yarl import URL

from reconciler.client.reply import Reply, shown_url
from reconciler.client.retry import is_retryable
from reconciler.config import Credentials
from reconciler.errors import AuthenticationFailed, RunAborted, TargetNotFound

logger = logging.getLogger("reconciler.client")

DEFAULT_LIFETIME = 3600.0  # seconds; what BPCC grants, used when expires_in cannot be read
PostForm = Callable[[URL, Mapping[str, str]], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class _Token:
    value: str = ""
    renew_at: float = 0.0


class TokenSource:
    """Hands out a valid bearer token for the v2 or v3 dialect, fetching one when needed."""

    def __init__(self, post: PostForm, url: URL, credentials: Credentials, scope: str, *,
                 clock: Callable[[], float], dialect: str = "v2") -> None:
        self._post, self._url, self._clock, self._dialect = post, url, clock, dialect
        self._credentials, self._scope = credentials, scope
        self._token: _Token | None = None
        self._lock = anyio.Lock()

    async def bearer(self) -> str | Reply:
        """A token to send, or the token endpoint's reply when it asks to be tried again later."""
        if (token := self._valid()) is not None:
            return token
        async with self._lock:
            # Whoever waited on the lock finds the token the first caller fetched.
            return self._valid() or await self._fetch()

    def invalidate(self, value: str) -> None:
        """Forget ``value`` after a 401; a token fetched meanwhile by another caller is kept."""
        if self._token is not None and self._token.value == value:
            self._token = None

    def _valid(self) -> str | None:
        if self._token is None or self._clock() >= self._token.renew_at:
            return None
        return self._token.value

    async def _fetch(self) -> str | Reply:
        asked_at = self._clock()
        reply = await self._post(self._url, {
            "grant_type": "client_credentials",
            "client_id": self._credentials.login,
            "client_secret": self._credentials.secret,
            "scope": self._scope,
        })
        if is_retryable(reply):
            return reply
        value, lifetime = self._read(reply)
        # Counted from the request, not the answer: the server's clock started no later than that.
        self._token = _Token(value, asked_at + lifetime - min(60.0, 0.1 * lifetime))
        logger.debug("obtained a %s token for %r valid for %.0f s", self._dialect, self._credentials.login, lifetime)
        return value

    def _read(self, reply: Reply) -> tuple[str, float]:
        if reply.status in (404, 405):
            raise TargetNotFound("endpoint", f"HTTP {reply.status} for the token URL {shown_url(reply.url)}")
        document = reply.document
        if reply.status != 200 or not isinstance(document, dict):
            raise self._failed(reply, self._detail(reply))
        value = document.get("access_token")
        if not isinstance(value, str) or not value:
            raise self._failed(reply, "the answer holds no access_token")
        if not (value.isascii() and value.isprintable()) or " " in value:  # it goes into a header as is
            raise self._failed(reply, "the access_token is not a usable header value")
        return value, _lifetime(document.get("expires_in"))

    def _failed(self, reply: Reply, detail: str) -> RunAborted:
        failed = AuthenticationFailed(self._credentials.login, self._dialect, reply.status, detail or "no detail given")
        return failed.asked_at(shown_url(reply.url))

    def _detail(self, reply: Reply) -> str:
        # Some servers echo the form they rejected: make sure the secret is not in what we repeat.
        return reply.text().replace(self._credentials.secret, "***") if self._credentials.secret else reply.text()


def _lifetime(expires_in: object) -> float:
    """Seconds from ``expires_in``, sent as a string ("3600") by BPCC, as a number by others."""
    if isinstance(expires_in, bool):
        return DEFAULT_LIFETIME
    if isinstance(expires_in, int | float) and expires_in > 0:
        return float(expires_in)
    if isinstance(expires_in, str) and expires_in.strip().isdigit() and int(expires_in) > 0:
        return float(expires_in)
    return DEFAULT_LIFETIME
