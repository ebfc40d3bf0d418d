"""How fast a run may ask: one ``Throttle`` paces the starts of every request of a run.

Pacing reserves start slots ``1/rate`` apart (``start = max(now, last start + 1/rate)``): the
reservation is taken before sleeping, with no await in between, so concurrent callers get distinct
slots, and the first second is no burst. On top sits AIMD: when more than a tenth of the answers of
the last second say 429 or 503, the rate is halved (at most once a second); each full second
without a cut adds a step back, up to the configured rate. Every 429/503 with a Retry-After holds
all starts until that moment. The share, rather than any single answer, decides the cut, so that
a few random 503s do not drag a run down to a crawl while a gateway's hidden limit still does.

Operators see each cut and each Retry-After pause at WARNING, the default level, once: a burst
of answers within a second makes one cut, and the answers that extend a pause already running
make no new one. The climb back is logged at INFO (``-v``), at most once a second.
``ThrottleStats`` keeps the counts for the run report.

A fleet (``reconciler fleet``) gives every target of one tenant a ``ThrottleShare`` of one
``Throttle``: their starts share the tenant's rate and its cuts, while each target counts the
overload answers it got, and the cuts and pauses its own answers set off. The budget lives in this
process only: nothing is shared with another process or machine.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

logger = logging.getLogger("reconciler.throttle")

OVERLOAD_STATUSES = frozenset({429, 503})
FLOOR_RATE = 0.5  # requests per second: slower than this, a run of any size would never end
OVERLOAD_SHARE = 0.1  # of the last second's answers (at least the last MIN_SAMPLE) before the rate is cut
MIN_SAMPLE = 20


@dataclass(slots=True)
class ThrottleStats:
    """What the server's overload signals did to a run's pace, for the run report."""

    overload_answers: int = 0  # 429 and 503 answers
    rate_cuts: int = 0
    lowest_rate: float | None = None  # the lowest rate a cut set, requests per second; None: never cut
    retry_after_pauses: int = 0  # Retry-After pauses that held every start (an extended pause counts once)
    retry_after_seconds: float = 0.0  # how long those pauses held the starts, overlaps counted once


class Throttle:
    """Paces request starts for a whole run and slows down when the server says it is overloaded.

    ``rate`` is in requests per second; ``math.inf`` paces nothing until the first cut, which
    halves the rate measured over the last second. A burst of overload answers (every request in
    flight may get one) counts as one: the rate is cut at most once a second.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = anyio.sleep, stats: ThrottleStats | None = None) -> None:
        self.configured_rate = rate
        self.effective_rate = rate
        self.stats = stats if stats is not None else ThrottleStats()
        self._clock, self._sleep = clock, sleep
        self._floor = min(FLOOR_RATE, rate)
        self._ceiling = rate  # where recovery stops; for an unlimited run, the pace measured at the first cut
        self._step = max(1.0, 0.05 * rate) if math.isfinite(rate) else 1.0
        self._last_start = -math.inf
        self._paused_until = -math.inf
        self._last_cut = -math.inf
        self._calm_since: float | None = None  # None: at the configured rate, nothing to recover
        self._recent: deque[float] = deque()  # starts of the last second, while unlimited
        self._answers: deque[tuple[float, bool]] = deque()  # (when, overloaded) of recent answers
        self._logged_rate, self._logged_at = rate, -math.inf

    async def wait_turn(self) -> None:
        """Wait until this request may start."""
        now = self._clock()
        self._recover(now)
        interval = 0.0 if math.isinf(self.effective_rate) else 1.0 / self.effective_rate
        start = max(now, self._last_start + interval, self._paused_until)
        self._last_start = start
        if math.isinf(self.effective_rate):
            self._remember(start)
        self._report(now)
        if start > now:
            await self._sleep(start - now)

    def note_answer(self, status: int, retry_after: float | None = None) -> None:
        """Learn from an answer's status; ``retry_after`` in seconds holds every start that long."""
        now = self._clock()
        overloaded = status in OVERLOAD_STATUSES
        self._note(now, overloaded)
        if not overloaded:
            return
        self.stats.overload_answers += 1
        if retry_after is not None and retry_after > 0:
            self._pause(now, retry_after)
        if now - self._last_cut >= 1.0 and (share := self._overload_share()) > OVERLOAD_SHARE:
            self._cut(now, share)
            self._calm_since = max(now, self._paused_until)  # the calm seconds count from the end of a pause
        self._report(now)

    @property
    def throttle_events(self) -> int:
        """429 and 503 answers seen so far."""
        return self.stats.overload_answers

    def _pause(self, now: float, retry_after: float) -> None:
        until = now + retry_after
        if self._paused_until <= now:  # a new pause, not one extended
            self.stats.retry_after_pauses += 1
            self.stats.retry_after_seconds += retry_after
            logger.warning("the server asked to wait %gs (Retry-After): every request holds until then",
                           retry_after)
        elif until > self._paused_until:
            self.stats.retry_after_seconds += until - self._paused_until
        self._paused_until = max(self._paused_until, until)

    def _note(self, now: float, overloaded: bool) -> None:
        self._answers.append((now, overloaded))
        while len(self._answers) > MIN_SAMPLE and self._answers[0][0] <= now - 1.0:
            self._answers.popleft()

    def _overload_share(self) -> float:
        if len(self._answers) < MIN_SAMPLE:
            return 0.0  # too few answers to tell an overloaded server from bad luck
        return sum(1 for _, overloaded in self._answers if overloaded) / len(self._answers)

    def _cut(self, now: float, share: float) -> None:
        if math.isinf(self.effective_rate):
            measured = self._measured(now)
            self._ceiling, self._step = measured, max(1.0, 0.05 * measured)
            self.effective_rate = measured
        self.effective_rate = max(self._floor, self.effective_rate / 2)
        self._last_cut = now
        lowest = self.stats.lowest_rate
        self.stats.rate_cuts += 1
        self.stats.lowest_rate = self.effective_rate if lowest is None else min(lowest, self.effective_rate)
        # Said at once and at WARNING: the climb back, logged by _report, then starts from here.
        self._logged_rate, self._logged_at = self.effective_rate, now
        logger.warning("request rate cut to %.2f/s (configured %s): the server answered 429 or 503 to %.0f%% of "
                       "the last %d answers", self.effective_rate, _shown(self.configured_rate), 100 * share,
                       len(self._answers))

    def _recover(self, now: float) -> None:
        if self._calm_since is None or now - self._calm_since < 1.0:
            return
        seconds = math.floor(now - self._calm_since)
        self._calm_since += seconds
        self.effective_rate += seconds * self._step
        if self.effective_rate >= self._ceiling:
            self.effective_rate, self._calm_since = self.configured_rate, None
            self._ceiling = self.configured_rate

    def _remember(self, start: float) -> None:
        self._recent.append(start)
        while self._recent and self._recent[0] <= start - 1.0:
            self._recent.popleft()

    def _measured(self, now: float) -> float:
        """Requests started in the last second: the pace an unlimited run had reached."""
        return float(sum(1 for start in self._recent if start > now - 1.0)) or self._floor

    def _report(self, now: float) -> None:
        # Logged when it changed, at most once a second, whatever the number of requests.
        if self.effective_rate == self._logged_rate or now - self._logged_at < 1.0:
            return
        self._logged_rate, self._logged_at = self.effective_rate, now
        shown = "unlimited" if math.isinf(self.effective_rate) else f"{self.effective_rate:.2f}/s"
        logger.info("request rate now %s (configured %s; %d overload answers so far)",
                    shown, _shown(self.configured_rate), self.throttle_events)


class ThrottleShare:
    """One client's turn at a ``Throttle`` it shares with others (a tenant's targets in a fleet).

    Starts and overload answers go to the shared throttle; ``stats`` counts what this client's own
    answers did there (``note_answer`` has no await, so what changed in it was this answer's doing).
    """

    def __init__(self, shared: Throttle) -> None:
        self.shared = shared
        self.stats = ThrottleStats()

    @property
    def configured_rate(self) -> float:
        return self.shared.configured_rate

    @property
    def effective_rate(self) -> float:
        return self.shared.effective_rate

    @property
    def throttle_events(self) -> int:
        return self.stats.overload_answers

    async def wait_turn(self) -> None:
        await self.shared.wait_turn()

    def note_answer(self, status: int, retry_after: float | None = None) -> None:
        before = dataclasses.replace(self.shared.stats)
        self.shared.note_answer(status, retry_after)
        after, own = self.shared.stats, self.stats
        own.overload_answers += after.overload_answers - before.overload_answers
        own.retry_after_pauses += after.retry_after_pauses - before.retry_after_pauses
        own.retry_after_seconds += after.retry_after_seconds - before.retry_after_seconds
        if after.rate_cuts > before.rate_cuts:
            own.rate_cuts += after.rate_cuts - before.rate_cuts
            rate = self.shared.effective_rate
            own.lowest_rate = rate if own.lowest_rate is None else min(own.lowest_rate, rate)


def _shown(rate: float) -> str:
    return "unlimited" if math.isinf(rate) else f"{rate:g}/s"


class ConnectionSlots:
    """At most ``total`` holders at once, first come first served (``async with slots:``).

    What ``anyio.CapacityLimiter`` does for a run's requests, without its pass through the event
    loop on every acquisition: a free slot is taken at once, and only a full house waits.
    """

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError("a connection limit needs at least one slot")
        self.total = total
        self._free = total
        self._waiting: deque[anyio.Event] = deque()

    @property
    def in_use(self) -> int:
        return self.total - self._free

    async def __aenter__(self) -> None:
        if self._free and not self._waiting:
            self._free -= 1
            return
        turn = anyio.Event()
        self._waiting.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if turn.is_set():  # handed a slot while being cancelled: hand it on
                self._release()
            else:
                self._waiting.remove(turn)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        # A waiter is handed the slot directly (it stays taken), so that no newcomer can jump the queue.
        if self._waiting:
            self._waiting.popleft().set()
        else:
            self._free += 1
