"""The query stage: fan-out after a lone first request, bounded concurrency, failure streaks, stopping."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from reconciler.errors import ServerUnavailable
from reconciler.journal.store import Journal
from reconciler.lookup import ListedRecord, LookupResult, LookupStatus
from reconciler.stages.query import FailureStreak, KeyQuerier

pytestmark = pytest.mark.anyio
JournalFactory = Callable[[list[str]], Journal]


class SlowSource:
    """Answers after yielding to the loop; records the order of starts and ends and the peak in flight."""

    def __init__(self, outcome: LookupStatus = LookupStatus.FOUND) -> None:
        self.events: list[tuple[str, str]] = []
        self.in_flight = self.peak = 0
        self.outcome = outcome

    async def query(self, key: Mapping[str, str]) -> LookupResult:
        self.events.append(("start", key["k"]))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await anyio.sleep(0.001)
        self.in_flight -= 1
        self.events.append(("end", key["k"]))
        return LookupResult(status=self.outcome, attempts=1, http_status=200, entry={"k": key["k"]})

    async def fetch_page(self, from_index: int, max_size: int) -> list[ListedRecord]:
        raise NotImplementedError


@pytest.fixture
def journal_with(tmp_path: Path) -> Iterator[JournalFactory]:
    opened: list[Journal] = []

    def make(keys: list[str]) -> Journal:
        journal = Journal.open(tmp_path / "j", {"run": 1}, fresh=False)
        journal.add_keys(keys)
        journal.finish_loading({"rows": len(keys)})
        opened.append(journal)
        return journal

    yield make
    for journal in opened:
        journal.close()


async def test_first_request_goes_alone_then_concurrency_is_bounded(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(40)])
    source = SlowSource()
    await KeyQuerier(journal, source, ("k",), concurrency=5).run()

    assert source.events[:2] == [("start", "0"), ("end", "0")]
    assert source.peak == 5
    assert journal.pending_count() == 0
    assert journal.count_by_status() == {"found": 40}


async def test_while_keys_end_in_error_they_go_out_alone_then_the_run_fans_out(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(40)])

    class RecoveringSource(SlowSource):
        async def query(self, key: Mapping[str, str]) -> LookupResult:
            result = await super().query(key)
            if int(key["k"]) < 3:  # the server is down for the first three keys' retries
                return LookupResult(status=LookupStatus.ERROR, attempts=8, http_status=503, error="HTTP 503")
            return result

    source = RecoveringSource()
    await KeyQuerier(journal, source, ("k",), concurrency=5).run()

    assert source.events[:8] == [(kind, key) for key in "0123" for kind in ("start", "end")]
    assert source.peak == 5
    assert journal.count_by_status() == {"error": 3, "found": 37}


async def test_every_key_is_asked_exactly_once(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(2500)])
    source = SlowSource()
    await KeyQuerier(journal, source, ("k",), concurrency=16).run()

    starts = [key for kind, key in source.events if kind == "start"]
    assert sorted(starts, key=int) == [str(i) for i in range(2500)]


def _answer(status: LookupStatus) -> tuple[int, LookupResult, datetime]:
    return 1, LookupResult(status=status, attempts=8, error="HTTP 503 after 8 attempts"), datetime.now(UTC)


def test_failure_streak_holds_errors_until_a_good_answer_releases_them() -> None:
    now = [0.0]
    streak = FailureStreak(span=120, clock=lambda: now[0])
    assert streak.admit(_answer(LookupStatus.ERROR)) == []
    now[0] = 100
    assert streak.admit(_answer(LookupStatus.ERROR)) == []
    released = streak.admit(_answer(LookupStatus.NOT_FOUND))
    assert [r.status for _, r, _ in released] == [LookupStatus.ERROR, LookupStatus.ERROR, LookupStatus.NOT_FOUND]


def test_failure_streak_longer_than_the_span_stops_the_run() -> None:
    now = [0.0]
    streak = FailureStreak(span=120, clock=lambda: now[0])
    streak.admit(_answer(LookupStatus.ERROR))
    now[0] = 121
    with pytest.raises(ServerUnavailable, match="every request failed for 121 s"):
        streak.admit(_answer(LookupStatus.ERROR))


async def test_a_dead_server_leaves_its_keys_pending_not_marked_as_errors(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(50)])
    now = [0.0]

    class DeadSource(SlowSource):
        async def query(self, key: Mapping[str, str]) -> LookupResult:
            await super().query(key)
            now[0] += 10  # each failing lookup costs ten seconds of retries
            return LookupResult(status=LookupStatus.ERROR, attempts=8, http_status=503, error="HTTP 503")

    source = DeadSource()
    with pytest.raises(ServerUnavailable):
        await KeyQuerier(journal, source, ("k",), concurrency=8, failure_span=60, clock=lambda: now[0]).run()
    assert source.peak == 1  # never met with more than one request at a time
    assert journal.count_by_status() == {}
    assert journal.pending_count() == 50


@pytest.mark.parametrize("batching", [{}, {"commit_batch": 1_000_000, "commit_after": 3600}],
                         ids=["default batches", "answers waiting for their commit"])
async def test_stop_sends_nothing_new_and_commits_every_answer_that_came_back(
        journal_with: JournalFactory, batching: dict[str, float]) -> None:
    journal = journal_with([str(i) for i in range(1000)])
    twentieth_answer = anyio.Event()

    class StoppingSource(SlowSource):
        async def query(self, key: Mapping[str, str]) -> LookupResult:
            if key["k"] == "20":
                twentieth_answer.set()
            return await super().query(key)

    source = StoppingSource()
    querier = KeyQuerier(journal, source, ("k",), concurrency=4, **batching)  # type: ignore[arg-type]
    async with anyio.create_task_group() as group:
        group.start_soon(querier.run)
        await twentieth_answer.wait()
        querier.stop()
    answered = sum(1 for kind, _ in source.events if kind == "end")
    assert querier.stopped
    assert 20 < answered < 1000
    assert journal.count_by_status() == {"found": answered} == querier.counters.by_status
    assert journal.pending_count() == 1000 - answered


def commits_of(journal: Journal, on_commit: Callable[[], None] = lambda: None) -> list[list[str]]:
    """Spy on ``journal.record``: the keys of each commit, in order."""
    commits: list[list[str]] = []
    record = journal.record
    key_text = dict(journal.pending(0, 1_000_000))

    def spy(results: list[tuple[int, LookupResult, datetime]]) -> None:
        record(results)
        commits.append([key_text[key_id] for key_id, _, _ in results])
        on_commit()

    journal.record = spy  # type: ignore[method-assign]
    return commits


async def test_answers_are_committed_in_batches_of_commit_batch(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(100)])
    commits = commits_of(journal)
    querier = KeyQuerier(journal, SlowSource(), ("k",), concurrency=4, commit_batch=10, commit_after=3600)
    await querier.run()

    # The first answer alone (before the fan-out), then by tens, the rest on the way out.
    assert [len(batch) for batch in commits] == [1] + [10] * 9 + [9]
    assert sorted((key for batch in commits for key in batch), key=int) == [str(i) for i in range(100)]
    assert journal.count_by_status() == {"found": 100} == querier.counters.by_status


async def test_by_default_a_commit_waits_for_as_many_answers_as_requests_in_flight(
        journal_with: JournalFactory) -> None:
    # What a kill -9 costs stays bounded: the requests in flight, and at most as many answers.
    journal = journal_with([str(i) for i in range(30)])
    commits = commits_of(journal)
    await KeyQuerier(journal, SlowSource(), ("k",), concurrency=4, commit_after=3600).run()
    assert [len(batch) for batch in commits] == [1] + [4] * 7 + [1]


async def test_an_answer_waits_at_most_commit_after_for_its_commit(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(6)])
    reached, release = anyio.Event(), anyio.Event()

    class HoldingSource(SlowSource):
        async def query(self, key: Mapping[str, str]) -> LookupResult:
            if key["k"] == "3":
                reached.set()
                await release.wait()
            return await super().query(key)

    second_commit = anyio.Event()
    commits = commits_of(journal, lambda: second_commit.set() if len(commits) == 2 else None)
    querier = KeyQuerier(journal, HoldingSource(), ("k",), concurrency=1, commit_batch=100, commit_after=0.5)
    async with anyio.create_task_group() as group:
        group.start_soon(querier.run)
        await reached.wait()
        started = anyio.current_time()
        # "1" and "2" are answered, but wait for their commit ("0", the first, went alone).
        assert commits == [["0"]]
        assert journal.count_by_status() == {"found": 1} == querier.counters.by_status
        with anyio.fail_after(5):
            await second_commit.wait()
        assert anyio.current_time() - started < 0.5 + 1.0  # 0.5 s after "1" came back, with room for a busy machine
        assert commits == [["0"], ["1", "2"]]
        assert journal.count_by_status() == {"found": 3} == querier.counters.by_status
        release.set()
    assert journal.count_by_status() == {"found": 6}


async def test_a_failing_source_leaves_the_answers_before_it_committed(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(100)])

    class BrokenSource(SlowSource):
        async def query(self, key: Mapping[str, str]) -> LookupResult:
            if key["k"] == "30":
                raise RuntimeError("bug")
            return await super().query(key)

    with pytest.raises(RuntimeError, match="bug"):
        await KeyQuerier(journal, BrokenSource(), ("k",), concurrency=1, commit_after=3600).run()
    assert journal.count_by_status() == {"found": 30}
    assert [key for _, key in journal.pending(0, 1000)] == [str(i) for i in range(30, 100)]


async def test_a_cancelled_run_commits_what_came_back(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(100)])
    reached = anyio.Event()

    class HangingSource(SlowSource):
        async def query(self, key: Mapping[str, str]) -> LookupResult:
            if key["k"] == "40":
                reached.set()
                await anyio.sleep_forever()
            return await super().query(key)

    async with anyio.create_task_group() as group:
        group.start_soon(KeyQuerier(journal, HangingSource(), ("k",), concurrency=1, commit_after=3600).run)
        await reached.wait()
        group.cancel_scope.cancel()
    assert journal.count_by_status() == {"found": 40}
    assert journal.pending_count() == 60


async def test_a_dead_server_keeps_the_good_answers_before_it_and_leaves_the_rest_pending(
        journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(50)])
    now = [0.0]

    class DyingSource(SlowSource):
        async def query(self, key: Mapping[str, str]) -> LookupResult:
            if int(key["k"]) < 10:
                return await super().query(key)
            now[0] += 10
            return LookupResult(status=LookupStatus.ERROR, attempts=8, http_status=503, error="HTTP 503")

    querier = KeyQuerier(journal, DyingSource(), ("k",), concurrency=1, failure_span=60, clock=lambda: now[0],
                         commit_after=3600)
    with pytest.raises(ServerUnavailable):
        await querier.run()
    assert journal.count_by_status() == {"found": 10} == querier.counters.by_status
    assert journal.pending_count() == 40


async def test_errors_still_held_when_the_keys_run_out_are_committed(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(5)])

    class LastFailSource(SlowSource):
        async def query(self, key: Mapping[str, str]) -> LookupResult:
            if key["k"] in ("3", "4"):
                return LookupResult(status=LookupStatus.ERROR, attempts=8, http_status=503, error="HTTP 503")
            return await super().query(key)

    await KeyQuerier(journal, LastFailSource(), ("k",), concurrency=1, commit_after=3600).run()
    assert journal.count_by_status() == {"found": 3, "error": 2}
    assert journal.pending_count() == 0
