"""Wires the stages: read keys -> journal -> query -> join -> write.

Nothing here talks HTTP or parses files: each stage lives in its own module, and this one decides
the order, what is resumed, and when the journal may go.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pyarrow.compute as pc

from reconciler.config import ReconcileConfig
from reconciler.errors import InputError, RunInterrupted, root_cause
from reconciler.gather import Gathered, gather_results, needs_server
from reconciler.join import colliding_input_columns, join_batch, plan_output, unmatched_batch, unmatched_layout
from reconciler.journal import Journal
from reconciler.keys import key_texts
from reconciler.lookup import LookupStatus, RecordSource
from reconciler.progress import Progress
from reconciler.query import STOP_GRACE_SECONDS
from reconciler.read import BadRows, InputSpec, open_input, read_batches
from reconciler.stats import OutputTally, RunStats
from reconciler.write import TableWriter, check_output_location, check_output_schema, output_format_for

logger = logging.getLogger("reconciler.pipeline")
SourceFactory = Callable[[ReconcileConfig], AbstractAsyncContextManager[RecordSource]]
_UNMATCHED_CHUNK = 10_000
_SIGNAL_EXIT = {signal.SIGINT: ("SIGINT", 130), signal.SIGTERM: ("SIGTERM", 143)}


def default_source(config: ReconcileConfig) -> AbstractAsyncContextManager[RecordSource]:
    from reconciler.client import open_record_source

    return open_record_source(config.target, config.credentials, config.policy)


def prepare(config: ReconcileConfig) -> InputSpec:
    """Every check that can fail before a request is sent."""
    spec = open_input(config.input_path, override=config.input_format, encoding=config.input_encoding,
                      key_columns=config.key_columns)
    if clashes := colliding_input_columns(spec.schema):
        raise InputError(config.input_path, f"input columns {', '.join(clashes)} clash with the output's "
                                            "status columns; rename them")
    fmt, _ = output_format_for(config.output_path, config.output_format)
    check_output_location(config.output_path, config.input_path)
    check_output_schema(config.output_path, spec.schema, fmt)
    if config.unmatched_path is not None:
        output_format_for(config.unmatched_path, None)
        check_output_location(config.unmatched_path, config.input_path)
    others = {config.input_path.resolve(), config.output_path.resolve()}
    if config.unmatched_path is not None and config.unmatched_path.resolve() in others:
        raise InputError(config.unmatched_path, "--unmatched must name a file of its own, not the input or output")
    if config.journal.resolve() in others | {config.unmatched_path.resolve() if config.unmatched_path else None}:
        raise InputError(config.journal, "--journal must name a file of its own, not the input or an output")
    return spec


def binding(config: ReconcileConfig, spec: InputSpec) -> dict[str, Any]:
    """What a journal is bound to: a rerun with other values must not reuse its results."""
    status = spec.path.stat()
    return {
        "input": str(spec.path.resolve()), "input_size": status.st_size, "input_mtime_ns": status.st_mtime_ns,
        "tenant": config.target.tenant, "list": config.target.list_name, "campaign": config.target.campaign,
        "dialect": config.target.dialect, "key_columns": list(spec.key_columns),
    }


class StopRequest:
    """A SIGINT/SIGTERM received: each stage stops at its next safe point and the run says how to resume."""

    def __init__(self) -> None:
        self.received: tuple[str, int] | None = None
        self._listeners: list[Callable[[], None]] = []

    def request(self, signum: int) -> None:
        if self.received is None:  # said once: a user pressing Ctrl-C must see that it was heard
            logger.warning("%s received: stopping at the next safe point; requests in flight may take up to "
                           "%g s to finish (send it again to cancel them)", signal.Signals(signum).name,
                           STOP_GRACE_SECONDS)
        self.received = self.received or _SIGNAL_EXIT[signal.Signals(signum)]
        for listener in self._listeners:
            listener()

    def on_request(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` on a stop request; at once if one came before this stage began."""
        self._listeners.append(listener)
        if self.received is not None:
            listener()

    def check(self) -> None:
        """Raise ``RunInterrupted`` if a stop was requested (called between batches)."""
        if self.received is not None:
            raise RunInterrupted(*self.received)


async def reconcile(config: ReconcileConfig, *, source_factory: SourceFactory = default_source,
                    handle_signals: bool = False, progress: Progress | None = None) -> RunStats:
    """Run one reconciliation to its end and return what it did; see ``RunStats.exit_code``.

    ``handle_signals``: SIGINT/SIGTERM stop the run gracefully (main thread only): requests in
    flight finish, the journal is kept, and ``RunInterrupted`` is raised.
    ``progress``: updated as the stages go, for a reporter to show.
    """
    stop = StopRequest()
    try:
        async with anyio.create_task_group() as group:
            if handle_signals:
                await group.start(_watch_signals, stop)  # listening before the journal opens
            stats = await _reconcile(config, source_factory, progress or Progress(), stop)
            group.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise root_cause(group) from None
    return stats


async def _reconcile(config: ReconcileConfig, source_factory: SourceFactory, progress: Progress,
                     stop: StopRequest) -> RunStats:
    started = time.monotonic()
    spec = prepare(config)
    bad_rows = BadRows(skip=config.skip_bad_rows)
    journal = Journal.open(config.journal, binding(config, spec), fresh=config.fresh,
                           retry_errors=config.retry_errors)
    try:
        resumed = journal.keys_loaded
        if not resumed:
            by_bytes = spec.total_rows is None  # CSV: the rows are known only once read
            progress.start_phase("reading keys", total=spec.total_bytes if by_bytes else spec.total_rows,
                                 unit="bytes" if by_bytes else "rows")
            try:
                await anyio.to_thread.run_sync(load_keys, journal, spec, bad_rows, progress, stop)
            except InputError:
                journal.discard()  # nothing was asked yet; a fixed input must not meet a stale journal
                raise
        if config.retry_errors:
            if resumed:
                logger.info("asking again for the %s keys that ended in error", f"{journal.requeue_errors():,}")
            else:
                logger.info("--retry-errors: no journal of an earlier run at %s; asking for every key",
                            config.journal)
        gathered = await _gather(config, journal, spec, source_factory, progress, stop)
        progress.start_phase("writing", total=journal.load_summary().get("rows"), unit="rows")
        tally = await anyio.to_thread.run_sync(write_output, config, journal, spec, progress, stop)
        if config.unmatched_path is not None:
            await anyio.to_thread.run_sync(write_unmatched, config.unmatched_path, journal)
        stats = _run_stats(config, journal, tally, gathered, time.monotonic() - started, resumed)
    except BaseException:
        journal.close()
        raise
    if stats.journal_kept is not None:
        journal.keep_for_retry()
    else:
        journal.discard()
    return stats


async def _watch_signals(stop: StopRequest, *,
                         task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            stop.request(signum)


def run(config: ReconcileConfig, *, source_factory: SourceFactory = default_source,
        handle_signals: bool = False) -> RunStats:
    """``reconcile`` for code without an event loop."""
    async def main() -> RunStats:
        return await reconcile(config, source_factory=source_factory, handle_signals=handle_signals)

    return anyio.run(main)


def load_keys(journal: Journal, spec: InputSpec, bad_rows: BadRows, progress: Progress | None = None,
              stop: StopRequest | None = None) -> None:
    """First pass over the input: every distinct usable key into the journal (idempotent)."""
    progress, stop = progress or Progress(), stop or StopRequest()
    rows = invalid = 0

    def bytes_read(position: int) -> None:
        progress.done = position

    for batch in read_batches(spec, bad_rows, on_bytes=bytes_read):
        stop.check()
        texts = key_texts(batch, spec.key_columns)
        rows += batch.num_rows
        if spec.total_rows is not None:
            progress.done = rows
        invalid += texts.null_count
        journal.add_keys(pc.unique(texts.drop_null()).to_pylist())
    journal.finish_loading({"rows": rows, "invalid_rows": invalid, "bad_rows": bad_rows.count,
                            "bad_row_lines": bad_rows.lines})


async def _gather(config: ReconcileConfig, journal: Journal, spec: InputSpec, source_factory: SourceFactory,
                  progress: Progress, stop: StopRequest) -> Gathered:
    stop.check()
    if not needs_server(journal):
        return Gathered()
    async with source_factory(config) as source:
        _show_source(progress, source)
        gathered = await gather_results(config, journal, spec.key_columns, source, progress, stop.on_request)
    stop.check()
    return gathered


def _show_source(progress: Progress, source: RecordSource) -> None:
    stats, throttle = getattr(source, "stats", None), getattr(source, "throttle", None)
    progress.retries = lambda: int(getattr(stats, "retries", 0))

    def throttled() -> float | None:
        rate = getattr(throttle, "effective_rate", None)
        return rate if rate is not None and rate < getattr(throttle, "configured_rate", rate) else None

    progress.effective_rate = throttled


def write_output(config: ReconcileConfig, journal: Journal, spec: InputSpec,
                 progress: Progress | None = None, stop: StopRequest | None = None) -> OutputTally:
    """Second pass over the input: join each batch with the results and write it."""
    progress, stop = progress or Progress(), stop or StopRequest()
    fmt, gzipped = output_format_for(config.output_path, config.output_format)
    layout = plan_output(spec.schema, journal.field_names("entry"), journal.field_names("extra"))
    tally = OutputTally()
    with TableWriter(config.output_path, layout.schema, fmt, gzipped=gzipped) as writer:
        for batch in read_batches(spec, BadRows(skip=config.skip_bad_rows)):
            stop.check()
            joined = join_batch(batch, key_texts(batch, spec.key_columns), journal.lookup, layout)
            tally.add(joined)
            writer.write(joined)
            progress.done = tally.rows
            del joined  # not alive beside the next batch's while that one is read and joined
    return tally


def write_unmatched(path: Path, journal: Journal) -> None:
    """The scanned list's records that no input key matched, in list order."""
    fmt, gzipped = output_format_for(path, None)
    layout = unmatched_layout(journal.field_names("entry"), journal.field_names("extra"))
    with TableWriter(path, layout.schema, fmt, gzipped=gzipped) as writer:
        after = -1
        while rows := journal.listed.unmatched(after, _UNMATCHED_CHUNK):
            writer.write(unmatched_batch(rows, layout))
            after = rows[-1][0]


def _run_stats(config: ReconcileConfig, journal: Journal, tally: OutputTally, gathered: Gathered,
               seconds: float, resumed: bool) -> RunStats:
    loaded = journal.load_summary()
    return RunStats(
        output_path=config.output_path, rows=tally.rows, distinct_keys=journal.distinct_keys(),
        by_status=dict(tally.by_status), top_dispositions=tally.dispositions.most_common(10),
        requests_sent=gathered.requests_sent, retries=gathered.retries, duration_seconds=seconds, resumed=resumed,
        strategy=journal.note("strategy") or "query", list_size=gathered.list_size,
        unmatched_records=journal.listed.unmatched_count() if config.unmatched_path else None,
        bad_rows_skipped=int(loaded.get("bad_rows", 0)), bad_row_lines=tuple(loaded.get("bad_row_lines", ())),
        warnings=journal.warnings_count(), completed_rows=tally.completed, first_errors=tuple(tally.first_errors),
        # Rows in error: the journal stays, so that --retry-errors can ask for them alone.
        journal_kept=config.journal if tally.by_status.get(LookupStatus.ERROR.value) else None,
    )
