"""Progress: what the line says, a redrawn line on a terminal, plain lines elsewhere; no real sleeping."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.lowlevel
import jsonschema
import pytest

from reconciler.lookup import LookupStatus
from reconciler.reporting.logs import Console
from reconciler.reporting.progress import (
    REDRAW_SECONDS,
    Progress,
    ProgressLine,
    QueryCounters,
    _fit,
    progress_fields,
    render,
    show_progress,
)

pytestmark = pytest.mark.anyio
LOG_LINE_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "log-line-schema.json").read_text())


def querying(done: dict[LookupStatus, int], *, total: int = 1000, retries: int = 0,
             throttled: float | None = None) -> Progress:
    counters = QueryCounters()
    for status, count in done.items():
        for _ in range(count):
            counters.add(status)
    progress = Progress(retries=lambda: retries, effective_rate=lambda: throttled)
    progress.start_phase("querying", total=total, unit="keys")
    progress.counters, progress.counter = counters, lambda: counters.done
    progress.started = 100.0
    return progress


def test_the_query_line_has_done_total_rate_eta_outcomes_and_retries() -> None:
    progress = querying({LookupStatus.FOUND: 180, LookupStatus.NOT_FOUND: 15, LookupStatus.ERROR: 5}, retries=7)
    line = render(progress, now=110.0)
    assert line == ("querying: 200/1,000 keys (20.0%) 20.0/s ETA 0:40 "
                    "found 180, not found 15, errors 5, retries 7")


def test_the_throttled_rate_is_shown_only_when_throttled() -> None:
    throttled = render(querying({LookupStatus.FOUND: 10}, throttled=4.5), now=101.0)
    assert throttled.endswith("retries 0, throttled to 4.5/s")
    assert "throttled" not in render(querying({LookupStatus.FOUND: 10}), now=101.0)


@pytest.mark.parametrize(("phase", "done", "total", "unit", "expected"), [
    ("starting", 0, None, "rows", "starting"),
    ("reading keys", 5000, 10_000, "rows", "reading keys: 5,000/10,000 rows (50.0%) 1,000.0/s ETA 0:05"),
    ("reading keys", 2_500_000, 10_000_000, "bytes", "reading keys: 2.5/10.0 MB (25.0%) 0.5 MB/s ETA 0:15"),
    ("reading keys", 2_500_000, None, "bytes", "reading keys: 2.5 MB 0.5 MB/s"),
    ("scanning", 3, None, "pages", "scanning: 3 pages 0.6/s"),
    ("writing", 10_000, 10_000, "rows", "writing: 10,000/10,000 rows (100.0%) 2,000.0/s"),
    ("querying", 0, 50, "keys", "querying: 0/50 keys (0.0%) 0.0/s"),  # no counters yet: nothing to show
])
def test_each_phase_reads_plainly(phase: str, done: int, total: int | None, unit: str, expected: str) -> None:
    progress = Progress(started=0.0)
    progress.phase, progress.done, progress.total, progress.unit = phase, done, total, unit
    assert render(progress, now=5.0) == expected


def test_the_fields_are_the_figures_of_the_query_line() -> None:
    progress = querying({LookupStatus.FOUND: 180, LookupStatus.NOT_FOUND: 15, LookupStatus.ERROR: 5}, retries=7,
                        throttled=4.5)
    assert progress_fields(progress, now=110.0) == {
        "phase": "querying", "done": 200, "total": 1000, "unit": "keys", "rate": 20.0, "eta_seconds": 40,
        "found": 180, "not_found": 15, "errors": 5, "retries": 7, "throttled_rate": 4.5}


@pytest.mark.parametrize(("phase", "done", "total", "unit", "expected"), [
    ("starting", 0, None, "rows", {"done": 0, "total": None, "rate": 0.0, "eta_seconds": None}),
    ("reading keys", 2_500_000, 10_000_000, "bytes", {"done": 2_500_000, "total": 10_000_000, "rate": 500_000.0,
                                                      "eta_seconds": 15}),
    ("scanning", 3, None, "pages", {"done": 3, "total": None, "rate": 0.6, "eta_seconds": None}),
    ("writing", 10_000, 10_000, "rows", {"done": 10_000, "total": 10_000, "rate": 2000.0, "eta_seconds": None}),
])
def test_outside_querying_the_outcome_fields_are_null(phase: str, done: int, total: int | None, unit: str,
                                                     expected: dict[str, object]) -> None:
    progress = Progress(started=0.0)
    progress.phase, progress.done, progress.total, progress.unit = phase, done, total, unit
    fields = progress_fields(progress, now=5.0)
    assert {name: fields[name] for name in expected} == expected
    assert (fields["phase"], fields["unit"], fields["retries"], fields["throttled_rate"]) == (phase, unit, 0, None)
    assert fields["found"] is None and fields["not_found"] is None and fields["errors"] is None


def test_a_json_progress_line_carries_the_fields_beside_its_message_and_validates() -> None:
    progress = querying({LookupStatus.FOUND: 3}, retries=1)
    fields = progress_fields(progress, now=101.0)
    entry = json.loads(Console("json").line(render(progress, 101.0), logger="reconciler.progress", fields=fields))
    jsonschema.validate(entry, LOG_LINE_SCHEMA, cls=jsonschema.Draft202012Validator)
    assert entry["message"].startswith("querying: 3/1,000 keys") and entry["found"] == 3 and entry["retries"] == 1
    assert "found" not in json.loads(Console("json").line("reconciler: done"))  # other lines: the four keys only
    with pytest.raises(jsonschema.ValidationError):  # the schema holds progress lines to every figure
        jsonschema.validate({k: v for k, v in entry.items() if k != "eta_seconds"}, LOG_LINE_SCHEMA)
    assert Console("text").line("querying: 3", fields=fields) == "querying: 3"  # text: the figures are in the text


def test_an_eta_of_hours_and_a_bar() -> None:
    progress = Progress(started=0.0)
    progress.phase, progress.done, progress.total, progress.unit = "writing", 1, 10_000, "rows"
    assert render(progress, now=1.0).endswith("ETA 2:46:39")
    progress.done = 2500
    assert "[######..................] 2,500/10,000" in render(progress, now=1.0, bar_width=24)


def test_a_live_line_wider_than_the_terminal_is_cut_to_fit() -> None:
    assert _fit("x" * 200, 80) == "x" * 78 + "…"
    assert _fit("short", 80) == "short"
    assert _fit("x" * 200, 0) == "x" * 200  # width unknown: as it is


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now


async def watch(progress: Progress, *, interactive: bool, ticks: int, interval: float = 30.0,
                on_tick: Callable[[int], None] = lambda tick: None, line: ProgressLine | None = None
                ) -> tuple[str, FakeTime]:
    """Run ``show_progress`` for ``ticks`` fake sleeps and return what it wrote."""
    stream, fake = io.StringIO(), FakeTime()
    with anyio.CancelScope() as scope:
        async def sleep(seconds: float) -> None:
            fake.now += seconds
            fake.sleeps.append(seconds)
            on_tick(len(fake.sleeps))
            if len(fake.sleeps) > ticks:
                scope.cancel()
            await anyio.lowlevel.checkpoint()

        extra = {} if line is None else {"line": line}
        await show_progress(progress, stream, interactive=interactive, interval=interval, sleep=sleep,
                            clock=fake.clock, **extra)
    return stream.getvalue(), fake


async def test_on_a_terminal_the_line_is_redrawn_in_place_and_cleared_at_the_end() -> None:
    progress = querying({LookupStatus.FOUND: 1}, throttled=3.0)

    def answer_more(tick: int) -> None:
        assert progress.counters is not None
        progress.counters.add(LookupStatus.FOUND)

    written, fake = await watch(progress, interactive=True, ticks=4, on_tick=answer_more)

    assert set(fake.sleeps) == {REDRAW_SECONDS}
    assert "\n" not in written  # one line, redrawn
    frames = written.split("\r")[1:]
    assert len(frames) == 5  # four redraws and the final clearing
    assert all(frame.endswith("\x1b[K") for frame in frames)
    assert frames[-1] == "\x1b[K"
    assert frames[0].startswith("querying: [") and "2/1,000 keys" in frames[0]
    assert "5/1,000 keys" in frames[3] and "throttled to 3.0/s" in frames[3]


async def test_elsewhere_a_plain_line_every_interval_and_one_when_a_phase_starts() -> None:
    progress = Progress()
    progress.start_phase("reading keys", total=100, unit="rows")

    def advance(tick: int) -> None:
        progress.done += 10
        if tick == 7:
            progress.start_phase("writing", total=100, unit="rows")

    written, fake = await watch(progress, interactive=False, ticks=12, interval=2.0, on_tick=advance,
                                line=lambda text, fields: "LOG " + text)

    lines = written.splitlines()
    assert written.endswith("\n") and all(line.startswith("LOG ") for line in lines)
    assert all(char.isprintable() or char == "\n" for char in written)
    phases = [line.split(":")[0] for line in lines]
    # Every 2 s (4 ticks of 0.5 s) while reading; the phase change at once; then every 2 s again.
    assert phases == ["LOG reading keys", "LOG writing", "LOG writing"]
    assert max(fake.sleeps) <= REDRAW_SECONDS


async def test_plain_lines_carry_a_timestamp_by_default() -> None:
    progress = Progress()
    progress.start_phase("writing", total=None, unit="rows")
    written, _ = await watch(progress, interactive=False, ticks=2, interval=0.5)
    assert [line[:2] for line in written.splitlines()] == ["20", "20"]  # 2026-...T...
    assert all(" writing: 0 rows" in line for line in written.splitlines())
