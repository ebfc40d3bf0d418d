from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence

import anyio
import pytest
from yarl import URL

from reconciler.client.answer import NOT_JSON
from reconciler.client.reply import AttemptFailed, Reply
from reconciler.client.retry import Retrier, Tried, is_retryable
from reconciler.config import RequestPolicy
from reconciler.errors import TlsCertificateInvalid

from .scripted import FakeTime

URL_ = URL("https://bp.example.com/x")
OK = Reply(status=200, url=URL_, body=b"{}", document={})


def reply(status: int, *, retry_after: float | None = None, body: bytes | None = b"") -> Reply:
    return Reply(status=status, url=URL_, body=body, retry_after=retry_after,
                 document={} if status == 200 and body == b"{}" else NOT_JSON)


def script(*outcomes: Reply | Exception) -> Callable[[], Awaitable[Reply]]:
    """An attempt that gives ``outcomes`` in turn."""
    queue = list(outcomes)

    async def attempt() -> Reply:
        await anyio.lowlevel.checkpoint()
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return attempt


async def run(outcomes: Sequence[Reply | Exception], *, max_attempts: int = 8, max_backoff: float = 0.0,
              time: FakeTime | None = None) -> Tried:
    time = time or FakeTime()
    retrier = Retrier(RequestPolicy(max_attempts=max_attempts, max_backoff=max_backoff), sleep=time.sleep)
    return await retrier.run(script(*outcomes))


@pytest.mark.parametrize(("answer", "retryable"), [
    (reply(429), True), (reply(500), True), (reply(502), True), (reply(503), True), (reply(504), True),
    (reply(200, body=b"<html>proxy</html>"), True),
    (reply(200, body=b""), True),
    (reply(200, body=b"{}"), False),
    (reply(200, body=None), False),
    (reply(400), False), (reply(401), False), (reply(403), False), (reply(404), False), (reply(405), False),
    (reply(409), False), (reply(501), False), (reply(307), False),
])
def test_what_is_retried(answer: Reply, retryable: bool) -> None:
    assert is_retryable(answer) is retryable


@pytest.mark.anyio
async def test_a_retried_request_ends_with_the_first_usable_answer_and_counts_its_attempts() -> None:
    time = FakeTime()
    tried = await run([reply(503), AttemptFailed("timeout"), reply(200, body=b"<html/>"), OK], time=time)
    assert tried == Tried(OK, 4)
    assert len(time.sleeps) == 3


@pytest.mark.anyio
async def test_a_final_answer_is_not_retried() -> None:
    tried = await run([reply(400), OK])
    assert tried == Tried(reply(400), 1)


@pytest.mark.anyio
@pytest.mark.parametrize(("outcome", "error"), [
    (reply(503), "HTTP 503 after 3 attempts"),
    (AttemptFailed("timeout"), "timeout after 3 attempts"),
    (reply(200, body=b"<html>x</html>"), "HTTP 200 with a non-JSON body (no content type, 0 bytes) after 3 attempts"),
])
async def test_after_the_last_attempt_the_last_outcome_is_handed_back(outcome: Reply | Exception, error: str) -> None:
    tried = await run([outcome] * 3, max_attempts=3)
    assert tried.attempts == 3
    assert tried.exhausted() == error


@pytest.mark.anyio
async def test_one_attempt_allowed_is_one_attempt() -> None:
    tried = await run([reply(502), OK], max_attempts=1)
    assert (tried.outcome, tried.exhausted()) == (reply(502), "HTTP 502 after 1 attempt")


@pytest.mark.anyio
async def test_an_error_that_stops_the_run_is_not_retried() -> None:
    with pytest.raises(TlsCertificateInvalid):
        await run([TlsCertificateInvalid("https://bp.example.com", "self-signed"), OK])


@pytest.mark.anyio
async def test_backoff_is_exponential_with_full_jitter_capped_at_max_backoff() -> None:
    time = FakeTime()
    await run([reply(503)] * 8, max_backoff=4.0, time=time)
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert len(time.sleeps) == 7
    assert all(0.0 <= wait <= ceiling for wait, ceiling in zip(time.sleeps, ceilings, strict=True))


@pytest.mark.anyio
@pytest.mark.parametrize(("retry_after", "max_backoff", "least", "most"), [
    (7.0, 1.0, 7.0, 7.0),  # longer than any backoff: waited in full
    (0.2, 30.0, 0.2, 30.0),  # shorter: the backoff may be longer
    (10_000.0, 30.0, 300.0, 300.0),  # absurd: capped at 300 s
    (10_000.0, 600.0, 600.0, 600.0),  # or at max_backoff when that is longer
])
async def test_a_wait_is_never_shorter_than_retry_after(retry_after: float, max_backoff: float,
                                                        least: float, most: float) -> None:
    time = FakeTime()
    await run([reply(429, retry_after=retry_after), OK], max_backoff=max_backoff, time=time)
    assert len(time.sleeps) == 1
    assert least <= time.sleeps[0] <= most


REFUSED = AttemptFailed("cannot connect to 127.0.0.1:9 (connection refused)", connected=False)


def slow_to_fail(time: FakeTime, seconds: float, outcome: Exception) -> Callable[[], Awaitable[Reply]]:
    """An attempt that takes ``seconds`` by the fake clock (a connection timing out), then fails."""
    async def attempt() -> Reply:
        time.now += seconds
        raise outcome

    return attempt


@pytest.mark.anyio
@pytest.mark.parametrize("seed", range(5))
async def test_with_a_connect_budget_no_attempt_to_connect_is_waited_for_past_it(seed: int) -> None:
    random.seed(seed)
    time = FakeTime()
    retrier = Retrier(RequestPolicy(), sleep=time.sleep, clock=time.clock)  # the defaults: 8 attempts, 30 s backoff
    tried = await retrier.run(script(*[REFUSED] * 8), connect_budget=20.0)
    assert tried.outcome is REFUSED
    assert time.now <= 20.0  # the last attempt started within the budget; none was waited for after it
    assert len(time.sleeps) == tried.attempts - 1


@pytest.mark.anyio
async def test_attempts_that_time_out_connecting_count_against_the_budget() -> None:
    time = FakeTime()
    retrier = Retrier(RequestPolicy(max_backoff=0.5), sleep=time.sleep, clock=time.clock)
    timed_out = AttemptFailed("cannot connect to 127.0.0.1:9 (connection timed out)", connected=False)
    tried = await retrier.run(slow_to_fail(time, 10.0, timed_out), connect_budget=20.0)
    assert tried.attempts == 2  # 10 s, a short wait, 10 s more: a third would start past 20 s
    assert 20.0 <= time.now <= 21.0


@pytest.mark.anyio
@pytest.mark.parametrize("outcome", [AttemptFailed("timeout"), reply(503)])
async def test_the_connect_budget_leaves_a_server_that_was_reached_to_the_attempt_count(
        outcome: Reply | Exception) -> None:
    time = FakeTime()
    retrier = Retrier(RequestPolicy(max_backoff=30.0), sleep=time.sleep, clock=time.clock)
    random.seed(3)
    tried = await retrier.run(script(*[outcome] * 8), connect_budget=0.1)
    assert tried.attempts == 8


@pytest.mark.anyio
async def test_concurrent_requests_through_one_retrier_keep_their_own_count() -> None:
    retrier = Retrier(RequestPolicy(max_attempts=5, max_backoff=0.0), sleep=FakeTime().sleep)
    results: dict[str, Tried] = {}

    async def request(name: str, outcomes: list[Reply | Exception]) -> None:
        results[name] = await retrier.run(script(*outcomes))

    async with anyio.create_task_group() as group:
        group.start_soon(request, "quick", [reply(503), OK])
        group.start_soon(request, "slow", [reply(503)] * 4 + [reply(404)])
        group.start_soon(request, "hopeless", [reply(502)] * 5)
    assert results == {"quick": Tried(OK, 2), "slow": Tried(reply(404), 5), "hopeless": Tried(reply(502), 5)}


class _TenacityOnly:
    """The retrier as it was before its fast path: every attempt, the first included, inside tenacity."""

    def __init__(self, policy: RequestPolicy, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._template = Retrier(policy, sleep=sleep)._template

    async def run(self, attempt: Callable[[], Awaitable[Reply]]) -> Tried:
        attempts = 0

        async def counted() -> Reply:
            nonlocal attempts
            attempts += 1
            return await attempt()

        outcome = await self._template.copy()(counted)
        return Tried(outcome, attempts)


def counting(attempt: Callable[[], Awaitable[Reply]], calls: list[None]) -> Callable[[], Awaitable[Reply]]:
    async def counted() -> Reply:
        calls.append(None)
        return await attempt()

    return counted


SEQUENCES: list[list[Reply | Exception]] = [
    [OK],
    [reply(404)],
    [reply(200, body=None)],
    [AttemptFailed("timeout"), OK],
    [reply(503), OK],
    [reply(429, retry_after=3.0), reply(429, retry_after=1.0), OK],
    [reply(200, body=b"<html/>"), reply(502), AttemptFailed("reset"), reply(400)],
    [reply(503)] * 4,
    [AttemptFailed("timeout")] * 4,
    [reply(504), reply(504), reply(504), AttemptFailed("timeout")],
]


@pytest.mark.anyio
@pytest.mark.parametrize("max_attempts", [1, 2, 4])
@pytest.mark.parametrize("outcomes", SEQUENCES)
async def test_the_fast_path_retries_exactly_as_tenacity_alone(outcomes: list[Reply | Exception],
                                                               max_attempts: int) -> None:
    # Same outcome, same attempt count, same requests made, same waits (the jitter seeded alike).
    results = []
    for retrier_class in (Retrier, _TenacityOnly):
        time = FakeTime()
        calls: list[None] = []
        random.seed(7)
        retrier = retrier_class(RequestPolicy(max_attempts=max_attempts, max_backoff=10.0), sleep=time.sleep)
        tried = await retrier.run(counting(script(*outcomes), calls))
        assert len(calls) == tried.attempts  # no attempt is made twice, none is counted without a request
        results.append((tried, time.sleeps))
    assert results[0] == results[1]


@pytest.mark.anyio
async def test_a_first_answer_that_is_final_takes_one_attempt_and_no_wait() -> None:
    time = FakeTime()
    assert await run([OK], time=time) == Tried(OK, 1)
    assert await run([reply(404)], time=time) == Tried(reply(404), 1)
    assert time.sleeps == []


@pytest.mark.anyio
async def test_the_first_wait_honours_the_retry_after_of_the_first_answer() -> None:
    time = FakeTime()
    tried = await run([reply(503, retry_after=9.0), reply(503, retry_after=4.0), OK], max_backoff=1.0, time=time)
    assert tried == Tried(OK, 3)
    assert time.sleeps == [9.0, 4.0]
