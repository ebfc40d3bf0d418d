"""A server that cannot be reached: a WARNING at the first failure to connect, and a stop within seconds.

The client runs against 127.0.0.1 ports where nothing listens (bound, then closed), with a fake
clock and sleep: the retries' waits are counted, never slept.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from reconciler.client import open_record_source
from reconciler.config import Credentials, Dialect, RequestPolicy, Target
from reconciler.errors import ServerUnreachable
from reconciler.lookup import LookupStatus

from .scripted import FakeTime, ScriptedServer, found
from .test_client import KEY, query_path

pytestmark = pytest.mark.anyio


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: bound, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def target(base_url: str, dialect: Dialect = "classic") -> Target:
    return Target(base_url=base_url, tenant="acme", list_name="List_1.txt", campaign="Camp 1", dialect=dialect)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "reconciler.client" and r.levelno == logging.WARNING]


@pytest.mark.parametrize(("dialect", "first"), [
    ("classic", "query"),  # the query strategy's first key
    ("classic", "page"),  # a scan's or a nightly full read's first page
    ("v2", "query"),  # the token is fetched first
    ("v3", "query"),  # the campaign is looked up first, as the client opens
])
async def test_a_server_never_reached_stops_the_request_with_host_port_and_cause(
        caplog: pytest.LogCaptureFixture, dialect: Dialect, first: str) -> None:
    port, time = closed_port(), FakeTime()
    policy = RequestPolicy()  # the default attempts and backoff
    with pytest.raises(ServerUnreachable) as raised:
        async with open_record_source(target(f"http://127.0.0.1:{port}", dialect),
                                      Credentials(login="jane", secret="s3cret"), policy,
                                      clock=time.clock, sleep=time.sleep) as client:
            source: Any = client
            await (source.query(KEY) if first == "query" else source.fetch_page(0, 1))
    message = str(raised.value)
    assert message.startswith(f"cannot connect to 127.0.0.1:{port} (connection refused) after ")
    assert "the server could not be reached" in message and "\n" not in message
    assert raised.value.exit_code == 1
    assert 2 <= raised.value.attempts <= policy.max_attempts
    assert policy.unreachable_after == 20.0
    assert time.now <= policy.unreachable_after  # by the fake clock: every wait between attempts counted
    assert warnings_of(caplog) == [f"cannot connect to 127.0.0.1:{port} (connection refused); retrying for up to "
                                   "20 s before the run stops"]


@pytest.mark.parametrize(("budget", "attempts"), [(0.0, (1, 1)), (2.5, (2, 8))])
async def test_unreachable_after_sets_how_long_the_first_request_retries_a_failure_to_connect(
        caplog: pytest.LogCaptureFixture, budget: float, attempts: tuple[int, int]) -> None:
    port, time = closed_port(), FakeTime()
    policy = RequestPolicy(unreachable_after=budget)  # the default attempts and backoff
    with pytest.raises(ServerUnreachable) as raised:
        async with open_record_source(target(f"http://127.0.0.1:{port}", "classic"),
                                      Credentials(login="jane", secret="s3cret"), policy,
                                      clock=time.clock, sleep=time.sleep) as client:
            await client.query(KEY)
    assert attempts[0] <= raised.value.attempts <= attempts[1]
    assert time.now <= budget  # no attempt waited for past the budget
    assert warnings_of(caplog) == [f"cannot connect to 127.0.0.1:{port} (connection refused); retrying for up to "
                                   f"{budget:g} s before the run stops"]


async def test_once_the_server_has_answered_a_failure_to_connect_is_an_error_row_and_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    time = FakeTime()
    server = ScriptedServer()
    await server.__aenter__()
    stopped = False
    try:
        server.on(query_path(server), found())
        port = server.server.port
        policy = RequestPolicy(max_attempts=3, max_backoff=0.0)
        async with open_record_source(target(server.base_url), Credentials(login="jane", secret="s3cret"), policy,
                                      clock=time.clock, sleep=time.sleep) as client:
            assert (await client.query(KEY)).status is LookupStatus.FOUND
            await server.__aexit__(None, None, None)  # the server goes away in the middle of the run
            stopped = True
            later = [await client.query(KEY) for _ in range(2)]
    finally:
        if not stopped:
            await server.__aexit__(None, None, None)
    assert [(r.status, r.error) for r in later] == [
        (LookupStatus.ERROR, f"cannot connect to 127.0.0.1:{port} (connection refused) after 3 attempts")] * 2
    # Once per outage, not once per attempt or per key.
    assert warnings_of(caplog) == [f"cannot connect to 127.0.0.1:{port} (connection refused); retrying"]
