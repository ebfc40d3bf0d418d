"""Ask the server about every key still without a result, and journal each answer as it arrives.

One task reads pending keys from the journal, a fixed pool of workers asks the ``RecordSource``
(which paces and retries every request), and one recorder commits results in small batches. The
first key goes out alone: it proves credentials and target (and pays a digest challenge once)
before the run fans out. A stop request lets the requests in flight finish, within a grace period;
a second one cancels them at once (their keys stay pending).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from reconciler.errors import ServerUnavailable, root_cause
from reconciler.journal import Journal
from reconciler.keys import key_fields
from reconciler.lookup import LookupResult, LookupStatus, RecordSource

_PENDING_PAGE = 1000
_RECORD_BATCH = 512
Answer = tuple[int, LookupResult, datetime]


@dataclass
class QueryCounters:
    """Keys answered so far in this process, by outcome; read by progress reporting."""

    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return sum(self.by_status.values())

    def add(self, status: LookupStatus) -> None:
        self.by_status[status.value] = self.by_status.get(status.value, 0) + 1


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
    """Runs the query stage for one journal against one record source."""

    def __init__(self, journal: Journal, source: RecordSource, key_columns: Sequence[str], *,
                 concurrency: int, failure_span: float = 120.0,
                 clock: Callable[[], float] = time.monotonic, grace_period: float = 30.0) -> None:
        self._journal = journal
        self._source = source
        self._key_columns = tuple(key_columns)
        self._concurrency = concurrency
        self._streak = FailureStreak(failure_span, clock)
        self._grace = grace_period
        self._producer_scope = anyio.CancelScope()
        self._pool_scope = anyio.CancelScope()
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
        self._producer_scope.cancel()
        self._pool_scope.deadline = min(self._pool_scope.deadline, anyio.current_time() + self._grace)

    async def run(self) -> None:
        first = self._journal.pending(0, 1)
        if not first or self.stopped:
            return
        send_results, receive_results = anyio.create_memory_object_stream[Answer](self._concurrency * 4)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._recorder, receive_results)
                async with send_results:
                    with self._pool_scope:  # the grace period bounds the first request too
                        # Before fanning out: fail fast on credentials and target, pay the digest
                        # challenge once. Recorded here: the recorder has nothing else to do yet.
                        self._record(self._streak.admit(await self._ask(*first[0])))
                        await self._fan_out(first[0][0], send_results)
        except BaseExceptionGroup as group:
            raise root_cause(group) from None
        self._record(self._streak.held if not self.stopped else [])

    async def _fan_out(self, after_id: int, results: MemoryObjectSendStream[Answer]) -> None:
        send_keys, receive_keys = anyio.create_memory_object_stream[tuple[int, str]](0)
        async with anyio.create_task_group() as pool:
            pool.start_soon(self._produce, after_id, send_keys)
            async with receive_keys:
                for _ in range(self._concurrency):
                    pool.start_soon(self._work, receive_keys.clone(), results.clone())

    async def _produce(self, after_id: int, keys: MemoryObjectSendStream[tuple[int, str]]) -> None:
        async with keys:
            with self._producer_scope:
                while page := self._journal.pending(after_id, _PENDING_PAGE):
                    for item in page:
                        await keys.send(item)
                    after_id = page[-1][0]

    async def _work(self, keys: MemoryObjectReceiveStream[tuple[int, str]],
                    results: MemoryObjectSendStream[Answer]) -> None:
        async with keys, results:
            async for key_id, text in keys:
                await results.send(await self._ask(key_id, text))

    async def _ask(self, key_id: int, text: str) -> Answer:
        result = await self._source.query(key_fields(text, self._key_columns))
        return key_id, result, datetime.now(UTC)

    async def _recorder(self, results: MemoryObjectReceiveStream[Answer]) -> None:
        async with results:
            async for answer in results:
                batch = [answer]
                while len(batch) < _RECORD_BATCH:
                    try:
                        batch.append(results.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                self._record([kept for item in batch for kept in self._streak.admit(item)])

    def _record(self, answers: list[Answer]) -> None:
        if not answers:
            return
        self._journal.record(answers)
        for _, result, _ in answers:
            self.counters.add(result.status)


def expected_seconds(requests: int, rate: float) -> float:
    """How long ``requests`` take at ``rate`` per second (0 when unlimited)."""
    return 0.0 if math.isinf(rate) else requests / rate
