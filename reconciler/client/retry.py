"""The retry policy, in one place: what is retried, how long to wait, how many attempts.

Retried: no answer at all (``AttemptFailed``: timeouts, lost connections), 429 and 5xx gateway
answers, and 200s whose body is not JSON (a proxy's page). Waits are exponential with full jitter,
never shorter than the server's Retry-After. A request may also be given a budget for failing to
connect at all (``connect_budget``): no attempt is waited for past it. When the attempts run out,
the last outcome is handed back as data: the caller turns it into an error row, not an exception.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from reconciler.client.reply import AttemptFailed, Reply
from reconciler.config import RequestPolicy

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_CEILING = 300.0  # seconds: a longer Retry-After is honoured only up to this (or max_backoff)

Sleep = Callable[[float], Awaitable[None]]


def is_retryable(reply: Reply) -> bool:
    """Whether asking again may give a usable answer."""
    return reply.status in RETRY_STATUSES or reply.unreadable


def retry_after_cap(policy: RequestPolicy) -> float:
    """The longest Retry-After honoured: a broken header must not park the run for a day."""
    return max(policy.max_backoff, RETRY_AFTER_CEILING)


@dataclass(frozen=True, slots=True)
class Tried:
    """How a request ended: its final reply (or why none came) and the attempts it took."""

    outcome: Reply | AttemptFailed
    attempts: int

    def exhausted(self) -> str:
        """The error text of a request that was still failing at its last attempt."""
        what = self.outcome.reason if isinstance(self.outcome, AttemptFailed) else self.outcome.describe()
        return f"{what} after {self.attempts} attempt{'s' if self.attempts != 1 else ''}"


class _NotBeforeRetryAfter(wait_base):
    """The backoff of ``base``, raised to the server's Retry-After (capped) when it sent one."""

    def __init__(self, base: wait_base, cap: float) -> None:
        self._base, self._cap = base, cap

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self._base(retry_state)
        outcome = retry_state.outcome
        if outcome is not None and not outcome.failed:
            reply = outcome.result()
            if isinstance(reply, Reply) and reply.retry_after is not None:
                wait = max(wait, min(reply.retry_after, self._cap))
        return wait


class _ConnectBudget(stop_base):
    """Stop when an attempt that could not connect would be followed, past the budget, by another."""

    def __init__(self, started: float, budget: float, clock: Callable[[], float]) -> None:
        self._started, self._budget, self._clock = started, budget, clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None and outcome.failed else None
        if not isinstance(failure, AttemptFailed) or failure.connected:
            return False
        return self._clock() - self._started + retry_state.upcoming_sleep > self._budget


def _last_outcome(retry_state: RetryCallState) -> Reply | AttemptFailed:
    assert retry_state.outcome is not None  # tenacity calls this only after an attempt
    failure = retry_state.outcome.exception()
    if failure is not None:
        return cast(AttemptFailed, failure)  # only AttemptFailed is retried, so only it can end here
    return cast(Reply, retry_state.outcome.result())


class Retrier:
    """Runs one request's attempts under the policy; ``sleep`` and ``clock`` are injected so tests never sleep."""

    def __init__(self, policy: RequestPolicy, *, sleep: Sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self._stop, self._clock = stop_after_attempt(policy.max_attempts), clock
        self._template = AsyncRetrying(
            stop=self._stop,
            wait=_NotBeforeRetryAfter(wait_random_exponential(multiplier=0.5, max=policy.max_backoff),
                                      retry_after_cap(policy)),
            retry=retry_if_exception_type(AttemptFailed) | retry_if_result(is_retryable),
            sleep=sleep,
            retry_error_callback=_last_outcome,
        )

    async def run(self, attempt: Callable[[], Awaitable[Reply]], *, connect_budget: float | None = None) -> Tried:
        """Attempt until a reply is final or the attempts run out; fatal errors propagate.

        ``connect_budget``: seconds (by the clock, from the first attempt) after which an attempt that
        could not connect is not followed by another.
        """
        started = self._clock()
        # The first attempt is made directly: most requests succeed at once, and tenacity's
        # machinery costs more than the rest of the client's per-request work. Only an attempt
        # that tenacity would retry hands over to it, with that first outcome replayed as its
        # attempt 1 (no second request), so that attempt numbers, waits (Retry-After included),
        # the stop condition and the final outcome are exactly tenacity's.
        replay: Reply | AttemptFailed | None
        try:
            first = await attempt()
        except AttemptFailed as failure:
            replay = failure
        else:
            if not is_retryable(first):
                return Tried(first, 1)
            replay = first
        attempts = 1

        async def counted() -> Reply:
            nonlocal attempts, replay
            if replay is not None:
                outcome, replay = replay, None
                if isinstance(outcome, AttemptFailed):
                    raise outcome
                return outcome
            attempts += 1
            return await attempt()

        # A fresh copy per request: tenacity keeps per-call state and statistics on the object
        # (thread-local, so shared by every task of the event loop).
        retrying = self._template.copy() if connect_budget is None else self._template.copy(
            stop=stop_any(self._stop, _ConnectBudget(started, connect_budget, self._clock)))
        outcome: object = await retrying(counted)
        return Tried(cast(Reply | AttemptFailed, outcome), attempts)
