"""The query stage: fan-out after a lone first request, bounded concurrency, failure streaks, stopping."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from reconciler.errors import ServerUnavailable
from reconciler.journal import Journal
from reconciler.lookup import ListedRecord, LookupResult, LookupStatus
from reconciler.query import FailureStreak, KeyQuerier

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
            now[0] += 10  # each failing lookup costs ten seconds of retries
            return LookupResult(status=LookupStatus.ERROR, attempts=8, http_status=503, error="HTTP 503")

    with pytest.raises(ServerUnavailable):
        await KeyQuerier(journal, DeadSource(), ("k",), concurrency=2, failure_span=60, clock=lambda: now[0]).run()
    assert journal.count_by_status() == {}
    assert journal.pending_count() == 50


async def test_stop_sends_nothing_new_and_keeps_what_was_answered(journal_with: JournalFactory) -> None:
    journal = journal_with([str(i) for i in range(1000)])
    twentieth_answer = anyio.Event()

    class StoppingSource(SlowSource):
        async def query(self, key: Mapping[str, str]) -> LookupResult:
            if key["k"] == "20":
                twentieth_answer.set()
            return await super().query(key)

    source = StoppingSource()
    querier = KeyQuerier(journal, source, ("k",), concurrency=4)
    async with anyio.create_task_group() as group:
        group.start_soon(querier.run)
        await twentieth_answer.wait()
        querier.stop()
    answered = sum(1 for kind, _ in source.events if kind == "end")
    assert querier.stopped
    assert answered < 1000
    assert journal.count_by_status()["found"] == answered
    assert journal.pending_count() == 1000 - answered
