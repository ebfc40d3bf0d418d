from __future__ import annotations

import asyncio
import logging
import math

import anyio
import pytest

from reconciler.client.pacing import MIN_SAMPLE, ConnectionSlots, Throttle, ThrottleShare

from .scripted import FakeTime


async def starts(throttle: Throttle, time: FakeTime, count: int) -> list[float]:
    """The moments ``count`` requests in a row are let start."""
    moments = []
    for _ in range(count):
        await throttle.wait_turn()
        moments.append(round(time.now, 6))
    return moments


def throttle_for(rate: float, time: FakeTime) -> Throttle:
    return Throttle(rate, clock=time.clock, sleep=time.sleep)


def overload(throttle: Throttle, status: int = 429, retry_after: float | None = None) -> None:
    """As many overload answers at once as the throttle needs to judge the server overloaded."""
    for _ in range(MIN_SAMPLE):
        throttle.note_answer(status, retry_after)


@pytest.mark.anyio
async def test_starts_are_spaced_from_the_first_request_with_no_burst() -> None:
    time = FakeTime()
    assert await starts(throttle_for(4.0, time), time, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.anyio
async def test_a_request_after_a_pause_starts_at_once_but_does_not_bank_slots() -> None:
    time = FakeTime()
    throttle = throttle_for(2.0, time)
    await starts(throttle, time, 1)
    time.now = 10.0
    assert await starts(throttle, time, 3) == [10.0, 10.5, 11.0]


@pytest.mark.anyio
async def test_concurrent_callers_each_get_their_own_slot() -> None:
    time = FakeTime(advance=False)  # every caller asks at the same moment
    throttle = throttle_for(10.0, time)
    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(throttle.wait_turn)
    # The first starts at once; the others wait 0.1 s apart.
    assert sorted(round(s, 6) for s in time.sleeps) == [0.1, 0.2, 0.3, 0.4]


@pytest.mark.anyio
async def test_unlimited_never_waits() -> None:
    time = FakeTime()
    throttle = throttle_for(math.inf, time)
    assert await starts(throttle, time, 50) == [0.0] * 50
    assert time.sleeps == []


@pytest.mark.anyio
@pytest.mark.parametrize("status", [429, 503])
async def test_an_overload_answer_halves_the_rate(status: int) -> None:
    time = FakeTime()
    throttle = throttle_for(10.0, time)
    await starts(throttle, time, 1)
    overload(throttle, status)
    assert throttle.effective_rate == 5.0 and throttle.throttle_events == MIN_SAMPLE
    time.now = 0.5
    assert await starts(throttle, time, 2) == [0.5, 0.7]


@pytest.mark.anyio
@pytest.mark.parametrize("status", [200, 404, 500, 502, 504])
async def test_other_answers_leave_the_rate_alone(status: int) -> None:
    throttle = throttle_for(10.0, FakeTime())
    throttle.note_answer(status, retry_after=30.0)
    assert throttle.effective_rate == 10.0 and throttle.throttle_events == 0


def test_a_burst_of_overload_answers_within_a_second_is_one_cut() -> None:
    time = FakeTime()
    throttle = throttle_for(16.0, time)
    for moment in (0.0, 0.1, 0.5, 0.9):
        time.now = moment
        overload(throttle)
    assert throttle.effective_rate == 8.0 and throttle.throttle_events == 4 * MIN_SAMPLE
    time.now = 1.0
    overload(throttle)
    assert throttle.effective_rate == 4.0


def test_the_rate_never_falls_below_the_floor() -> None:
    time = FakeTime()
    throttle = throttle_for(2.0, time)
    for second in range(10):
        time.now = float(second)
        overload(throttle, 503)
    assert throttle.effective_rate == 0.5


@pytest.mark.anyio
async def test_the_rate_recovers_a_step_per_calm_second_up_to_the_configured_rate() -> None:
    time = FakeTime()
    throttle = throttle_for(10.0, time)
    overload(throttle)  # 10 -> 5
    rates = []
    for moment in (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 30.0):
        time.now = moment
        await throttle.wait_turn()
        rates.append(throttle.effective_rate)
    # +max(1, 5 % of 10) = +1 per full second without an overload answer.
    assert rates == [5.0, 6.0, 6.0, 7.0, 8.0, 9.0, 10.0, 10.0, 10.0]


@pytest.mark.anyio
async def test_a_new_overload_restarts_the_calm_count() -> None:
    time = FakeTime()
    throttle = throttle_for(100.0, time)
    overload(throttle)  # 100 -> 50
    time.now = 1.9
    overload(throttle)  # 50 -> 25, calm from 1.9
    time.now = 2.8
    await throttle.wait_turn()
    assert throttle.effective_rate == 25.0
    time.now = 3.0
    await throttle.wait_turn()
    assert throttle.effective_rate == 30.0  # one step of 5 % of 100


@pytest.mark.anyio
async def test_retry_after_holds_every_start_until_that_moment() -> None:
    time = FakeTime()
    throttle = throttle_for(math.inf, time)
    time.now = 2.0
    throttle.note_answer(503, retry_after=5.0)
    time.now = 3.0
    assert await starts(throttle, time, 1) == [7.0]
    assert time.sleeps == [4.0]


def test_a_retry_after_pause_is_a_warning_once_when_it_starts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="reconciler.throttle")  # the default level shows it
    time = FakeTime()
    throttle = throttle_for(math.inf, time)
    throttle.note_answer(429, retry_after=5.0)
    throttle.note_answer(429, retry_after=6.0)  # the same pause, extended: no new line
    time.now = 7.0
    throttle.note_answer(429, retry_after=0.5)  # a new pause: however short, the operator sees it
    time.now = 10.0
    throttle.note_answer(503, retry_after=30.0)  # a new pause
    pauses = [r for r in caplog.records if "Retry-After" in r.getMessage()]
    assert [r.getMessage() for r in pauses] == [
        "the server asked to wait 5s (Retry-After): every request holds until then",
        "the server asked to wait 0.5s (Retry-After): every request holds until then",
        "the server asked to wait 30s (Retry-After): every request holds until then"]
    assert all(r.levelno == logging.WARNING for r in pauses)


def test_retry_after_pauses_are_counted_once_each_with_the_seconds_they_held() -> None:
    time = FakeTime(advance=False)
    throttle = throttle_for(10.0, time)
    throttle.note_answer(429, retry_after=5.0)  # holds 0 -> 5
    time.now = 1.0
    throttle.note_answer(429, retry_after=2.0)  # inside the pause: neither new nor longer
    time.now = 4.0
    throttle.note_answer(503, retry_after=3.0)  # extends it to 7: 2 more seconds
    time.now = 9.0
    throttle.note_answer(429, retry_after=0.5)  # a new, short pause
    throttle.note_answer(429)  # no Retry-After: no pause
    throttle.note_answer(200, retry_after=30.0)  # not an overload answer: ignored
    assert throttle.stats.retry_after_pauses == 2
    assert throttle.stats.retry_after_seconds == pytest.approx(7.5)
    assert throttle.stats.overload_answers == 5 and throttle.stats.rate_cuts == 0
    assert throttle.stats.lowest_rate is None


@pytest.mark.anyio
async def test_recovery_counts_from_the_end_of_a_retry_after_pause() -> None:
    time = FakeTime()
    throttle = throttle_for(10.0, time)
    overload(throttle, retry_after=5.0)
    time.now = 5.5
    await throttle.wait_turn()
    assert throttle.effective_rate == 5.0
    time.now = 6.0
    await throttle.wait_turn()
    assert throttle.effective_rate == 6.0


@pytest.mark.anyio
async def test_an_unlimited_run_is_cut_to_half_the_rate_it_reached_then_recovers_to_unlimited() -> None:
    time = FakeTime()
    throttle = throttle_for(math.inf, time)
    for moment in [0.1 * i for i in range(5)] + [1.5 + 0.01 * i for i in range(20)]:
        time.now = moment
        await throttle.wait_turn()
    time.now = 2.0
    overload(throttle)
    assert throttle.effective_rate == 10.0  # 20 starts in the last second, halved
    assert await starts(throttle, time, 3) == [2.0, 2.1, 2.2]
    time.now = 11.9
    await throttle.wait_turn()
    assert throttle.effective_rate == 19.0
    time.now = 12.0  # +1/s for 10 calm seconds gets back to the 20/s reached before: unlimited again
    await throttle.wait_turn()
    assert throttle.effective_rate == math.inf


@pytest.mark.anyio
async def test_each_cut_is_a_warning_at_once_and_the_climb_back_is_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.throttle")
    time = FakeTime()
    throttle = throttle_for(20.0, time)
    for _ in range(100):
        await throttle.wait_turn()  # no change, no log
    assert caplog.records == []
    overload(throttle)  # 20 -> 10: a cut, said at once
    overload(throttle)  # the same burst within the second: no second cut, no second line
    time.now += 1.0
    await throttle.wait_turn()  # 10 -> 11, the climb back
    time.now += 0.5
    await throttle.wait_turn()  # no change
    overload(throttle)  # 11 -> 5.5: a cut, said at once even within a second of the last line
    lines = [(r.levelno, r.getMessage().split(" (")[0]) for r in caplog.records]
    assert lines == [(logging.WARNING, "request rate cut to 10.00/s"), (logging.INFO, "request rate now 11.00/s"),
                     (logging.WARNING, "request rate cut to 5.50/s")]
    assert all(r.name == "reconciler.throttle" for r in caplog.records)
    assert "(configured 20/s): the server answered 429 or 503 to 100% of the last 20 answers" in \
        caplog.records[0].getMessage()
    assert throttle.stats.rate_cuts == 2 and throttle.stats.lowest_rate == 5.5


@pytest.mark.anyio
async def test_the_climb_back_is_logged_at_most_once_a_second(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.throttle")
    time = FakeTime(advance=False)
    throttle = throttle_for(100.0, time)
    overload(throttle)  # 100 -> 50 at 0: the calm seconds count from here, a step of 5 each
    for moment in (1.9, 2.1, 2.5, 3.0):  # steps at 1.9 (55) and 2.1 (60), then 3.0 (65)
        time.now = moment
        await throttle.wait_turn()
    recoveries = [r.getMessage().split(" (")[0] for r in caplog.records if r.levelno == logging.INFO]
    assert recoveries == ["request rate now 55.00/s", "request rate now 65.00/s"]  # 60 came too soon after 55
    assert throttle.stats.lowest_rate == 50.0


def test_scattered_overload_answers_below_a_tenth_do_not_cut_the_rate() -> None:
    time = FakeTime(advance=False)
    throttle = throttle_for(100.0, time)
    for i in range(400):  # four seconds at 100/s, one answer in twenty a 503
        time.now = i / 100
        throttle.note_answer(503 if i % 20 == 0 else 200)
    assert throttle.effective_rate == 100.0
    assert throttle.throttle_events == 20


def test_overload_answers_above_a_tenth_cut_the_rate_once_a_second() -> None:
    time = FakeTime(advance=False)
    throttle = throttle_for(100.0, time)
    for i in range(100):  # one second at 100/s, one answer in five a 429
        time.now = i / 100
        throttle.note_answer(429 if i % 5 == 0 else 200)
    assert throttle.effective_rate == 50.0


@pytest.mark.anyio
async def test_connection_slots_bound_the_holders_and_serve_waiters_in_order() -> None:
    slots = ConnectionSlots(2)
    order: list[str] = []
    holding = peak = 0
    release = anyio.Event()

    async def hold(name: str) -> None:
        nonlocal holding, peak
        async with slots:
            order.append(name)
            holding += 1
            peak = max(peak, holding)
            await release.wait()
            holding -= 1

    async with anyio.create_task_group() as group:
        for name in "abcdef":
            group.start_soon(hold, name)
            await anyio.lowlevel.checkpoint()  # start them in this order
        await anyio.wait_all_tasks_blocked()
        assert order == ["a", "b"] and slots.in_use == 2  # the other four wait
        release.set()
    assert peak == 2
    assert order == list("abcdef")
    assert slots.in_use == 0


@pytest.mark.anyio
async def test_a_free_connection_slot_is_taken_without_waiting() -> None:
    slots = ConnectionSlots(1)
    with anyio.fail_after(1):
        async with slots:
            assert slots.in_use == 1
    assert slots.in_use == 0


@pytest.mark.anyio
async def test_a_waiter_cancelled_before_its_turn_takes_no_slot() -> None:
    slots = ConnectionSlots(1)

    async def wait_for_slot() -> None:
        async with slots:
            pytest.fail("a second holder got in")

    async with slots, anyio.create_task_group() as group:
        group.start_soon(wait_for_slot)
        await anyio.wait_all_tasks_blocked()  # it waits now
        group.cancel_scope.cancel()
    assert slots.in_use == 0
    async with slots:  # and the slot is still there to take
        assert slots.in_use == 1


@pytest.mark.anyio
async def test_a_waiter_cancelled_as_it_is_handed_the_slot_hands_it_on() -> None:
    slots = ConnectionSlots(1)
    got: list[str] = []

    async def wait_for_slot(name: str) -> None:
        async with slots:
            got.append(name)

    await slots.__aenter__()
    first = asyncio.create_task(wait_for_slot("first"))
    second = asyncio.create_task(wait_for_slot("second"))
    await anyio.wait_all_tasks_blocked()  # both wait now
    await slots.__aexit__(None, None, None)  # "first" is handed the slot...
    first.cancel()  # ...and cancelled before it could use it
    await asyncio.wait([first, second])
    assert first.cancelled()
    assert got == ["second"]
    assert slots.in_use == 0


@pytest.mark.anyio
async def test_shares_of_one_throttle_pace_their_starts_together_and_count_their_own_answers() -> None:
    time = FakeTime()
    tenant = throttle_for(4.0, time)
    one, other = ThrottleShare(tenant), ThrottleShare(tenant)
    moments = []
    for share in (one, other, one, other):
        await share.wait_turn()
        moments.append(round(time.now, 6))
    assert moments == [0.0, 0.25, 0.5, 0.75]  # one budget: 4 starts a second over both, not 4 each

    for _ in range(MIN_SAMPLE - 3):
        other.note_answer(200)
    one.note_answer(429, retry_after=2.0)
    one.note_answer(429)
    one.note_answer(429)  # the answer that tips the share over a tenth: the cut is one's
    assert tenant.effective_rate == 2.0 and other.effective_rate == 2.0  # every share slows down
    assert (one.stats.overload_answers, one.stats.rate_cuts, one.stats.lowest_rate) == (3, 1, 2.0)
    assert (one.stats.retry_after_pauses, one.stats.retry_after_seconds) == (1, 2.0)
    assert (other.stats.overload_answers, other.stats.rate_cuts, other.stats.retry_after_pauses) == (0, 0, 0)
    assert tenant.stats.rate_cuts == 1
