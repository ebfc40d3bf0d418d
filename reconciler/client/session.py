"""``open_record_source``: the one HTTP session of a run, with the dialect's authentication."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import anyio

from reconciler.client.client import BrightPatternClient
from reconciler.client.pacing import Throttle
from reconciler.client.v3 import CampaignClient
from reconciler.config import Credentials, RequestPolicy, Target
from reconciler.errors import InvalidOption

logger = logging.getLogger("reconciler.client")


@asynccontextmanager
async def open_record_source(
    target: Target,
    credentials: Credentials,
    policy: RequestPolicy,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    throttle: Throttle | None = None,
) -> AsyncIterator[BrightPatternClient | CampaignClient]:
    """A client for ``target`` whose HTTP session closes when the block ends.

    ``clock`` and ``sleep`` pace and space the requests; tests pass fakes so that nothing sleeps.
    ``throttle``: a pace shared with other clients (one tenant's budget in a fleet); None: its own.
    A v3 client has found its campaign and list instance ids before it is handed out.
    """
    if not policy.verify_tls:
        logger.warning("TLS certificates are NOT verified (--insecure): anyone on the network path to %s "
                       "can read the credentials and the records; never use this in production",
                       target.base_url)
    async with http_session(target.dialect, credentials, policy) as session:
        if target.dialect != "v3":
            yield BrightPatternClient(session, target, credentials, policy, clock=clock, sleep=sleep,
                                      throttle=throttle)
            return
        client = CampaignClient(session, target, credentials, policy, clock=clock, sleep=sleep, throttle=throttle)
        await client.locate()
        yield client


@asynccontextmanager
async def http_session(dialect: str, credentials: Credentials,
                       policy: RequestPolicy) -> AsyncIterator[aiohttp.ClientSession]:
    """The HTTP session of one client: its connection limit, timeout, TLS check and the dialect's digest signing."""
    connector = aiohttp.TCPConnector(limit=policy.concurrency, ssl=policy.verify_tls)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=policy.timeout),
        middlewares=_middlewares(dialect, credentials),
        raise_for_status=False,
    ) as session:
        yield session


def _middlewares(dialect: str, credentials: Credentials) -> tuple[aiohttp.DigestAuthMiddleware, ...]:
    if dialect != "classic":
        return ()  # v2 and v3 send their bearer token per request
    if ":" in credentials.login:  # digest joins login and password with ":" (RFC 7616)
        raise InvalidOption("credentials", credentials.login, "a digest login without ':'")
    # Preemptive: after the first challenge every request is signed with the server's nonce, so
    # only the first request pays the 401 round trip.
    return (aiohttp.DigestAuthMiddleware(credentials.login, credentials.secret, preemptive=True),)
