"""Progress you can watch: a live line on a terminal, a plain line every N seconds elsewhere.

The stages only update a ``Progress``; ``show_progress`` decides how it looks. Away from a terminal
(cron, CI, Airflow logs) nothing but printable text and newlines is written: a line when a phase
starts, so that short phases leave a trace, and one every ``interval`` seconds. Each such line
comes with ``progress_fields``, the same figures as data (``--log-format json`` writes them as keys
of the line, so that a log shipper can graph a run without parsing its text).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

import anyio

from reconciler.lookup import LookupStatus
from reconciler.reporting.logs import silence

REDRAW_SECONDS = 0.5  # how often the live line is redrawn on a terminal
_BAR_WIDTH = 24
_MB = 1_000_000


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
class Progress:
    """What the run is doing now. Stages write it (from worker threads too); the reporter reads it."""

    phase: str = "starting"
    done: int = 0
    total: int | None = None
    unit: str = "rows"
    counters: QueryCounters | None = None  # outcomes so far, while querying
    counter: Callable[[], int] | None = None  # where ``done`` is counted by a stage itself
    retries: Callable[[], int] = lambda: 0
    effective_rate: Callable[[], float | None] = lambda: None  # the throttled rate, None when not throttled
    started: float = field(default_factory=time.monotonic)

    def start_phase(self, phase: str, *, total: int | None, unit: str) -> None:
        self.phase, self.done, self.total, self.unit, self.counter = phase, 0, total, unit, None
        self.started = time.monotonic()

    def current(self) -> int:
        return self.counter() if self.counter is not None else self.done


ProgressLine = Callable[[str, Mapping[str, object]], str]


def progress_fields(progress: Progress, now: float) -> dict[str, object]:
    """The figures of a progress line; ``docs/log-line-schema.json`` says what each one means."""
    done, total = progress.current(), progress.total
    rate = done / max(now - progress.started, 1e-9) if progress.phase != "starting" else 0.0
    eta = round((total - done) / rate) if total and rate > 0 and done < total else None
    counts = progress.counters.by_status if progress.counters is not None and progress.phase == "querying" else None
    throttled = progress.effective_rate()
    return {
        "phase": progress.phase, "done": done, "total": total, "unit": progress.unit, "rate": round(rate, 3),
        "eta_seconds": eta,
        "found": None if counts is None else counts.get("found", 0),
        "not_found": None if counts is None else counts.get("not_found", 0),
        "errors": None if counts is None else counts.get("error", 0),
        "retries": progress.retries(), "throttled_rate": None if throttled is None else round(throttled, 3),
    }


def render(progress: Progress, now: float, *, bar_width: int = 0) -> str:
    """One line: phase, done/total, rate, ETA, outcome counts; with a bar when ``bar_width`` > 0."""
    if progress.phase == "starting":
        return "starting"
    done, total = progress.current(), progress.total
    rate = done / max(now - progress.started, 1e-9)
    parts = [f"{progress.phase}:", *_amount(done, total, progress.unit, bar_width), _rate(rate, progress.unit)]
    if total and rate > 0 and done < total:
        parts.append(f"ETA {_clock(round((total - done) / rate))}")
    if progress.phase == "querying" and progress.counters is not None:
        parts.append(_outcomes(progress))
    return " ".join(parts)


def _amount(done: int, total: int | None, unit: str, bar_width: int) -> list[str]:
    if not total:
        return [_quantity(done, unit)]
    share = min(done / total, 1.0)
    bar = ["[" + "#" * int(bar_width * share) + "." * (bar_width - int(bar_width * share)) + "]"] if bar_width else []
    if unit == "bytes":
        return [*bar, f"{done / _MB:,.1f}/{total / _MB:,.1f} MB ({share:.1%})"]
    return [*bar, f"{done:,}/{total:,} {unit} ({share:.1%})"]


def _quantity(amount: float, unit: str) -> str:
    return f"{amount / _MB:,.1f} MB" if unit == "bytes" else f"{amount:,.0f} {unit}"


def _rate(per_second: float, unit: str) -> str:
    # Bytes (a CSV read before its rows are known) in MB/s; rows, keys and pages as they are.
    return f"{per_second / _MB:,.1f} MB/s" if unit == "bytes" else f"{per_second:,.1f}/s"


def _outcomes(progress: Progress) -> str:
    counts = progress.counters.by_status if progress.counters is not None else {}
    text = (f"found {counts.get('found', 0):,}, not found {counts.get('not_found', 0):,}, "
            f"errors {counts.get('error', 0):,}, retries {progress.retries():,}")
    throttled = progress.effective_rate()
    return text if throttled is None else f"{text}, throttled to {throttled:,.1f}/s"


def timestamped(text: str, fields: Mapping[str, object] | None = None) -> str:
    """A plain progress line as it goes to a text log: local time first; ``fields`` are already in the text."""
    return time.strftime("%Y-%m-%dT%H:%M:%S ") + text


async def show_progress(progress: Progress, stream: TextIO, *, interactive: bool, interval: float,
                        line: ProgressLine = timestamped,
                        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
                        clock: Callable[[], float] = time.monotonic) -> None:
    """Until cancelled: redraw one line on a terminal, or write lines elsewhere.

    ``line`` dresses a plain line, given its text and its ``progress_fields`` (a timestamp by
    default; the CLI passes a JSON formatter for ``--log-format json``). ``sleep`` and ``clock``
    are injectable so that tests do not wait.
    """
    try:
        if interactive:
            await _redraw(progress, stream, sleep, clock)
        else:
            await _write_lines(progress, stream, interval, line, sleep, clock)
    except OSError:  # the reader went away (`| head`, a closed terminal): the run goes on without it
        silence(stream)


async def _redraw(progress: Progress, stream: TextIO, sleep: Callable[[float], Awaitable[None]],
                  clock: Callable[[], float]) -> None:
    try:
        while True:
            await sleep(REDRAW_SECONDS)
            now, columns = clock(), _columns(stream)
            text = render(progress, now, bar_width=_BAR_WIDTH)
            if columns and len(text) >= columns:  # a narrow terminal: the figures matter more than the bar
                text = _fit(render(progress, now), columns)
            # \r and erase-to-end: the line is redrawn in place, shorter text leaves no tail behind.
            stream.write("\r" + text + "\x1b[K")
            stream.flush()
    finally:
        stream.write("\r\x1b[K")  # the summary (or an error) starts on a clean line
        stream.flush()


async def _write_lines(progress: Progress, stream: TextIO, interval: float, line: ProgressLine,
                       sleep: Callable[[float], Awaitable[None]], clock: Callable[[], float]) -> None:
    written_at, phase = clock(), progress.phase
    while True:
        await sleep(min(interval, REDRAW_SECONDS))
        now = clock()
        if progress.phase != phase or now - written_at >= interval:
            written_at, phase = now, progress.phase
            stream.write(line(render(progress, now), progress_fields(progress, now)) + "\n")
            stream.flush()


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):  # not a terminal (io.UnsupportedOperation is both)
        return 0


def _fit(text: str, columns: int) -> str:
    # A line wider than the terminal wraps, and \r then returns to its last row only: keep it on one.
    return text if columns <= 1 or len(text) < columns else text[:columns - 2] + "…"


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
