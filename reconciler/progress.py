"""Progress you can watch: a live line on a terminal, a plain line every N seconds elsewhere.

The stages only update a ``Progress``; ``show_progress`` decides how it looks. Away from a terminal
(cron, CI, Airflow logs) nothing but printable text and newlines is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import anyio

from reconciler.query import QueryCounters


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
    effective_rate: Callable[[], float | None] = lambda: None
    started: float = field(default_factory=time.monotonic)

    def start_phase(self, phase: str, *, total: int | None, unit: str) -> None:
        self.phase, self.done, self.total, self.unit, self.counter = phase, 0, total, unit, None
        self.started = time.monotonic()

    def current(self) -> int:
        return self.counter() if self.counter is not None else self.done


def render(progress: Progress, now: float, *, bar_width: int = 0) -> str:
    """One line: phase, done/total, rate, ETA, outcome counts; with a bar when ``bar_width`` > 0."""
    done, total = progress.current(), progress.total
    elapsed = max(now - progress.started, 1e-9)
    rate = done / elapsed
    parts = [f"{progress.phase}:"]
    if total:
        if bar_width:
            filled = int(bar_width * min(done / total, 1.0))
            parts.append("[" + "#" * filled + "." * (bar_width - filled) + "]")
        parts.append(f"{done:,}/{total:,} {progress.unit} ({done / total:.1%})")
    else:
        parts.append(f"{done:,} {progress.unit}")
    parts.append(f"{rate:,.1f}/s")
    if total and rate > 0 and done < total:
        parts.append(f"ETA {_clock(int((total - done) / rate))}")
    if progress.phase == "querying" and progress.counters is not None:
        counts = progress.counters.by_status
        parts.append(f"found {counts.get('found', 0):,}, not found {counts.get('not_found', 0):,}, "
                     f"errors {counts.get('error', 0):,}, retries {progress.retries():,}")
        throttled = progress.effective_rate()
        if throttled is not None:
            parts.append(f"throttled to {throttled:,.1f}/s")
    return " ".join(parts)


async def show_progress(progress: Progress, stream: TextIO, *, interactive: bool, interval: float) -> None:
    """Until cancelled: redraw one line on a terminal, or print a line every ``interval`` seconds."""
    try:
        while True:
            await anyio.sleep(0.5 if interactive else interval)
            if interactive:
                stream.write("\r" + render(progress, time.monotonic(), bar_width=24) + "\x1b[K")
            else:
                stream.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + render(progress, time.monotonic()) + "\n")
            stream.flush()
    finally:
        if interactive:
            stream.write("\r\x1b[K")
            stream.flush()


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
