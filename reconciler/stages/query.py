"""Ask the server about every key still without a result, and journal the answers as they arrive.

A fixed pool of workers takes pending keys from the journal and asks the ``RecordSource`` (which
paces and retries every request); their answers are committed in small batches. Keys go out one
at a time until one gets a definite answer: that proves credentials and target (and pays a digest
challenge once) before the run fans out, and a server that is down is not met with full
concurrency. A stop request lets the requests in flight finish, within a grace period;
a second one cancels them at once (their keys stay pending).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio

from reconciler.config import ReconcileConfig
from reconciler.errors import ServerUnavailable, root_cause
from reconciler.input.keys import key_fields
from reconciler.journal.store import Journal
from reconciler.lookup import LookupResult, LookupStatus, RecordSource
from reconciler.reporting.progress import Progress, QueryCounters

_PENDING_PAGE = 1000
# Answers wait for their commit until there are as many as requests in flight (``concurrency``), or
# for COMMIT_AFTER seconds. Both keep what a ``kill -9`` costs as it was when every wake-up of the
# stage committed what it had: the keys in flight, and at most as many answered an instant before.
COMMIT_AFTER = 0.005  # seconds
STOP_GRACE_SECONDS = 30.0  # how long a stop waits for the requests in flight
Answer = tuple[int, LookupResult, datetime]


@dataclass
class FailureStreak:
    """Errors since the last good answer, held back so that a dead server does not mark every row.

    While the streak lasts, error results are not journalled; a good answer releases them. When it
    outlasts ``span`` seconds the run stops and the held keys stay pending for the resumed run.
    """

    span: float
    clock: Callable[[], float]
    held: list[Answer] = field(default_factory=list)
    since: float | None = None

    def admit(self, answer: Answer) -> list[Answer]:
        """The answers that may be journalled now that ``answer`` has arrived."""
        result = answer[1]
        if result.status is not LookupStatus.ERROR:
            released, self.held, self.since = [*self.held, answer], [], None
            return released
        if self.since is None:
            self.since = self.clock()
        self.held.append(answer)
        if self.clock() - self.since > self.span:
            raise ServerUnavailable(self.clock() - self.since, result.error or "error")
        return []


class KeyQuerier:
    """Runs the query stage for one journal against one record source.

    Workers take pending keys from one shared cursor over the journal (a page of them at a time)
    and hand each answer to the failure streak at once. What the streak admits is committed in
    batches: when ``commit_batch`` answers wait (by default as many as ``concurrency``), when
    ``commit_after`` seconds have passed since the first of them arrived, and on the way out (end,
    stop, error or cancellation). A ``kill -9`` thus loses the requests in flight and at most
    ``commit_batch`` answers of its last ``commit_after`` seconds: their keys are still pending, and
    the resumed run asks them again.
    """

    def __init__(self, journal: Journal, source: RecordSource, key_columns: Sequence[str], *,
                 concurrency: int, failure_span: float = 120.0,
                 clock: Callable[[], float] = time.monotonic, grace_period: float = STOP_GRACE_SECONDS,
                 commit_batch: int | None = None, commit_after: float = COMMIT_AFTER,
                 pending: Callable[[int, int], list[tuple[int, str]]] | None = None) -> None:
        self._journal = journal
        self._pending = pending or journal.pending  # the keys to ask, a page after a key id
        self._source = source
        self._key_columns = tuple(key_columns)
        self._concurrency = concurrency
        self._streak = FailureStreak(failure_span, clock)
        self._grace = grace_period
        self._commit_batch = max(1, concurrency if commit_batch is None else commit_batch)
        self._commit_after = commit_after
        self._pool_scope = anyio.CancelScope()
        self._keys: deque[tuple[int, str]] = deque()  # the page of pending keys being handed out
        self._after_id = 0  # the cursor: the last key handed out
        self._keys_left = True
        self._uncommitted: list[Answer] = []  # admitted by the streak, not yet in the journal
        self._first_uncommitted: anyio.Event | None = None  # set when an answer waits for its commit
        self._first_at = 0.0  # when the first uncommitted answer was admitted (event loop time)
        self.counters = QueryCounters()
        self.stopped = False

    def stop(self) -> None:
        """Send no new request; let those in flight finish within the grace period.

        A second call (a second Ctrl-C) cancels the requests in flight at once.
        """
        if self.stopped:
            self._pool_scope.cancel()
            return
        self.stopped = True
        self._pool_scope.deadline = min(self._pool_scope.deadline, anyio.current_time() + self._grace)

    async def run(self) -> None:
        try:
            with self._pool_scope:  # the grace period bounds the lone requests too
                if await self._ask_alone_until_answered():
                    await self._fan_out()
        except BaseExceptionGroup as group:
            raise root_cause(group) from None
        finally:
            self._commit()  # whatever the way out: what was admitted is kept
        self._record(self._streak.held if not self.stopped else [])

    async def _ask_alone_until_answered(self) -> bool:
        """Ask one key at a time until one gets a definite answer; False when no key is left.

        The first request proves credentials and target (and pays a digest challenge once) before the
        run fans out. While keys end in error after their retries (a server that is down), the run
        keeps asking one at a time rather than fanning out against it; the failure streak stops
        the run once that has lasted ``failure_span``. Answers are committed at once: the run has
        nothing else to do yet.
        """
        while (key := self._next_key()) is not None:
            answer = await self._ask(*key)
            self._admit(answer)
            self._commit()
            if answer[1].status is not LookupStatus.ERROR:
                return True
        return False

    async def _fan_out(self) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(self._commit_in_time)
            async with anyio.create_task_group() as pool:
                for _ in range(self._concurrency):
                    pool.start_soon(self._work)
            group.cancel_scope.cancel()  # the workers are done: nothing more to commit in time

    def _next_key(self) -> tuple[int, str] | None:
        """The next pending key for a worker; None once stopped or when every key has been handed out."""
        if self.stopped:
            return None
        if not self._keys:
            if not self._keys_left:
                return None
            self._keys.extend(self._pending(self._after_id, _PENDING_PAGE))
            if not self._keys:
                self._keys_left = False
                return None
            self._after_id = self._keys[-1][0]
        return self._keys.popleft()

    async def _work(self) -> None:
        while (item := self._next_key()) is not None:
            self._admit(await self._ask(*item))

    async def _ask(self, key_id: int, text: str) -> Answer:
        result = await self._source.query(key_fields(text, self._key_columns))
        return key_id, result, datetime.now(UTC)

    def _admit(self, answer: Answer) -> None:
        """Pass an answer through the failure streak; commit when enough answers wait."""
        kept = self._streak.admit(answer)
        if not kept:
            return
        if not self._uncommitted:
            self._first_at = anyio.current_time()
            if self._first_uncommitted is not None:
                self._first_uncommitted.set()
        self._uncommitted.extend(kept)
        if len(self._uncommitted) >= self._commit_batch:
            self._commit()

    async def _commit_in_time(self) -> None:
        """Commit the waiting answers ``commit_after`` seconds after the first of them arrived."""
        while True:
            if not self._uncommitted:
                self._first_uncommitted = anyio.Event()
                await self._first_uncommitted.wait()
                continue
            wait = self._first_at + self._commit_after - anyio.current_time()
            if wait > 0:
                await anyio.sleep(wait)  # a commit by number meanwhile makes a later answer the first
            else:
                self._commit()

    def _commit(self) -> None:
        """Write the answers admitted so far to the journal, in one transaction."""
        answers, self._uncommitted = self._uncommitted, []
        self._record(answers)

    def _record(self, answers: list[Answer]) -> None:
        if not answers:
            return
        self._journal.record(answers)
        for _, result, _ in answers:
            self.counters.add(result.status)


async def ask_keys(journal: Journal, source: RecordSource, key_columns: Sequence[str], config: ReconcileConfig,
                   progress: Progress, on_stop: Callable[[Callable[[], None]], None], count: int, *,
                   pending: Callable[[int, int], list[tuple[int, str]]] | None = None) -> None:
    """Ask the ``count`` keys left with Query a record (``pending``: which, by default every pending one).

    What another strategy leaves to ask (the keys a nightly state lacks, the keys a scan whose pages
    came out of order did not find), as the query strategy asks.
    """
    if not count:
        return
    querier = KeyQuerier(journal, source, key_columns, concurrency=config.policy.concurrency,
                         failure_span=config.policy.failure_span, pending=pending)
    on_stop(querier.stop)
    progress.start_phase("querying", total=count, unit="keys")
    progress.counters = querier.counters
    progress.counter = lambda: querier.counters.done
    await querier.run()


def expected_seconds(requests: int, rate: float) -> float:
    """How long ``requests`` take at ``rate`` per second (0 when unlimited)."""
    return 0.0 if math.isinf(rate) else requests / rate
