"""``open_record_source``: the one HTTP session of a run, with the dialect's authentication."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import anyio

from reconciler.client.client import BrightPatternClient
from reconciler.client.contact import CONNECT_TIMEOUT_SECONDS
from reconciler.client.pacing import Throttle
from reconciler.client.tls import trusted_certificates
from reconciler.client.v3 import CampaignClient
from reconciler.config import Credentials, RequestPolicy, Target, shown_proxy
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
    _say_how_the_server_is_reached(policy)
    async with http_session(target.dialect, credentials, policy) as session:
        if target.dialect != "v3":
            yield BrightPatternClient(session, target, credentials, policy, clock=clock, sleep=sleep,
                                      throttle=throttle)
            return
        client = CampaignClient(session, target, credentials, policy, clock=clock, sleep=sleep, throttle=throttle)
        await client.locate()
        yield client


def _say_how_the_server_is_reached(policy: RequestPolicy) -> None:
    if policy.proxy is not None:
        logger.info("requests go through the proxy %s", shown_proxy(policy.proxy))
    if policy.ca_bundle is not None:
        logger.info("TLS certificates are verified with the certificate authorities of %s", policy.ca_bundle)
    elif policy.system_trust_store:
        logger.info("TLS certificates are verified with the operating system's trust store")


@asynccontextmanager
async def http_session(dialect: str, credentials: Credentials,
                       policy: RequestPolicy) -> AsyncIterator[aiohttp.ClientSession]:
    """The HTTP session of one client: its connection limit, timeouts, proxy, trust and the dialect's digest signing."""
    trusted = await anyio.to_thread.run_sync(trusted_certificates, policy)  # reads files: not on the loop
    connector = aiohttp.TCPConnector(limit=policy.concurrency, ssl=trusted)
    async with aiohttp.ClientSession(
        connector=connector,
        # The proxy comes resolved (NO_PROXY applied) in the policy: aiohttp's trust_env would read the
        # environment here, and ~/.netrc too, whose password it would send to the server as Basic auth.
        proxy=policy.proxy,
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=policy.timeout, connect=min(policy.timeout, CONNECT_TIMEOUT_SECONDS)),
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
