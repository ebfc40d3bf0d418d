"""Wires the stages: read keys -> journal -> query -> join -> write.

Nothing here talks HTTP or parses files: each stage lives in its own module, and this one decides
the order, what is resumed, and when the journal may go. An incremental run syncs its list while
the keys load (the sync needs none of them); every other run reads its keys first.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

from reconciler.config import ReconcileConfig
from reconciler.errors import InputError, RunAborted, ServerUnreachable, root_cause
from reconciler.input.previous import open_previous, previous_rows
from reconciler.input.read import BadRows, InputSpec, open_input
from reconciler.input.stores import local_copy
from reconciler.journal.reported import StagedReport
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.lookup import LookupStatus, RecordSource
from reconciler.output.changes import PreviousLookup, changes_schema
from reconciler.output.feed import check_day_feed
from reconciler.output.history import RunIdentity
from reconciler.output.join import colliding_input_columns
from reconciler.output.tally import OutputTally
from reconciler.output.write import write_output, write_unmatched
from reconciler.reporting.progress import Progress
from reconciler.reporting.stats import RunStats, ScanFigures, SyncFigures
from reconciler.stages.gather import Gathered, gather_results, needs_server
from reconciler.stages.load_keys import load_keys
from reconciler.wiring.identity import forget_partition_folders, identify_run
from reconciler.wiring.outputs import check_outputs
from reconciler.wiring.stop import StopRequest, watch_signals

logger = logging.getLogger("reconciler.pipeline")
SourceFactory = Callable[[ReconcileConfig], AbstractAsyncContextManager[RecordSource]]


def default_source(config: ReconcileConfig) -> AbstractAsyncContextManager[RecordSource]:
    from reconciler.client import open_record_source

    return open_record_source(config.target, config.credentials, config.policy)


def prepare(config: ReconcileConfig) -> InputSpec:
    """Every check that can fail before a request is sent."""
    if config.policy.ca_bundle is not None:  # the one trust setting that can fail: exit 2, nothing written or sent
        from reconciler.client.tls import trusted_certificates

        trusted_certificates(config.policy)
    spec = open_input(config.input_path, override=config.input_format, encoding=config.input_encoding,
                      key_columns=config.key_columns, max_row_bytes=config.max_row_bytes)
    if clashes := colliding_input_columns(spec.schema):
        raise InputError(config.input_path, f"input columns {', '.join(clashes)} clash with the output's "
                                            "status columns; rename them")
    check_outputs(config, spec)
    if config.previous_path is not None:
        open_previous(config.previous_path, spec.key_columns, max_row_bytes=config.max_row_bytes)
    return spec


def state_binding(config: ReconcileConfig, spec: InputSpec) -> dict[str, Any]:
    """What a nightly state is bound to: one calling list in one campaign, read by one key."""
    return {"tenant": config.target.tenant, "list": config.target.list_name, "campaign": config.target.campaign,
            "dialect": config.target.dialect, "key_columns": list(spec.key_columns)}


def binding(config: ReconcileConfig, spec: InputSpec) -> dict[str, Any]:
    """What a journal is bound to: a rerun with other values must not reuse its results."""
    status = spec.path.stat()
    bound: dict[str, Any] = {
        "input": str(spec.path.resolve()), "input_size": status.st_size, "input_mtime_ns": status.st_mtime_ns,
        "tenant": config.target.tenant, "list": config.target.list_name, "campaign": config.target.campaign,
        "dialect": config.target.dialect, "key_columns": list(spec.key_columns),
    }
    if config.target.dialect == "v3":  # only there, so that journals of classic and v2 runs still match
        bound.update(campaign_id=config.target.campaign_id, instance_id=config.target.instance_id)
    return bound


async def reconcile(config: ReconcileConfig, *, source_factory: SourceFactory = default_source,
                    handle_signals: bool = False, progress: Progress | None = None,
                    stop: StopRequest | None = None) -> RunStats:
    """Run one reconciliation to its end and return what it did; see ``RunStats.exit_code``.

    ``handle_signals``: SIGINT/SIGTERM stop the run gracefully (main thread only): requests in
    flight finish, the journal is kept, and ``RunInterrupted`` is raised.
    ``progress``: updated as the stages go, for a reporter to show.
    ``stop``: a stop request shared with other runs of the process (a fleet watches the signals once).
    """
    stop = stop or StopRequest()
    try:
        async with anyio.create_task_group() as group:
            if handle_signals:
                await group.start(watch_signals, stop)  # listening before the journal opens
            stats = await _reconcile(config, source_factory, progress or Progress(), stop)
            group.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise root_cause(group) from None
    return stats


async def _reconcile(config: ReconcileConfig, source_factory: SourceFactory, progress: Progress,
                     stop: StopRequest) -> RunStats:
    started = time.monotonic()
    templates, (config, run) = config, identify_run(config)
    contacted = False

    def contacting(config: ReconcileConfig) -> AbstractAsyncContextManager[RecordSource]:
        nonlocal contacted
        contacted = True
        return source_factory(config)

    try:
        with local_copy(config.input_path, config.journal.parent, "the input") as keys, \
                local_copy(config.previous_path or keys, config.journal.parent, "--previous") as previous:
            local = replace(config, input_path=keys, previous_path=previous if config.previous_path else None)
            return await _reconcile_identified(local, run, contacting, progress, stop, started, lambda: contacted)
    except BaseException:
        forget_partition_folders(templates, config)
        raise


async def _reconcile_identified(config: ReconcileConfig, run: RunIdentity, source_factory: SourceFactory,
                                progress: Progress, stop: StopRequest, started: float,
                                contacted: Callable[[], bool]) -> RunStats:
    spec = prepare(config)
    if isinstance(config.changes_path, Path):
        check_day_feed(config.changes_path, changes_schema(spec.schema), run)
    state = State.open(config.state_path, state_binding(config, spec)) if config.state_path else None
    try:
        journal = Journal.open(config.journal, binding(config, spec), fresh=config.fresh,
                               retry_errors=config.retry_errors)
        stats = await _run_with_journal(config, run, spec, journal, state, source_factory, progress, stop, started,
                                        contacted)
    except BaseException as failed:
        if state is not None and state.created_now and _nothing_to_resume(failed, contacted(), state.holds_records):
            state.discard()  # a state that never heard from the server would make the next run look resumed
            state = None
        raise
    finally:
        if state is not None:
            state.close()
    return stats


async def _run_with_journal(config: ReconcileConfig, run: RunIdentity, spec: InputSpec, journal: Journal,
                            state: State | None, source_factory: SourceFactory, progress: Progress,
                            stop: StopRequest, started: float, contacted: Callable[[], bool]) -> RunStats:
    try:
        journal.set_note("run", run.to_note())
        # A journal whose keys the state answered keeps them only from the same state, unchanged since.
        journal.resume_state_answers(state.path if state else None, state.revision() if state else None)
        resumed = journal.keys_loaded
        if config.retry_errors:
            _requeue_errors(config, journal, resumed)
        if resumed:
            gathered = await _gather(config, journal, spec, state, source_factory, progress, stop)
        elif config.strategy == "incremental":
            gathered = await _gather_while_loading(config, journal, spec, state, source_factory, progress, stop)
        else:
            await _load_inputs(config, journal, spec, progress, stop.check)
            gathered = await _gather(config, journal, spec, state, source_factory, progress, stop)
        progress.start_phase("writing", total=journal.load_summary().get("rows"), unit="rows")
        tally = await _write(config, journal, spec, run, state, progress, stop)
        stats = _run_stats(config, journal, tally, gathered, time.monotonic() - started, resumed, run)
    except BaseException as failed:
        if journal.started_now and _nothing_to_resume(failed, contacted(), journal.holds_answers):
            journal.discard()
        else:
            journal.close()
        raise
    if stats.journal_kept is not None:
        journal.keep_for_retry()
    else:
        journal.discard()
    return stats


def _nothing_to_resume(failed: BaseException, contacted: bool, holds_answers: Callable[[], bool]) -> bool:
    """Whether a failed run's new journal (or state) is worth nothing to its rerun, and so is removed.

    Nothing asked: nothing to resume. Stopped by the server's answer (exit 3) before any answer was
    kept: the rerun needs a fix first (credentials, or --key, which binds the journal), and must not
    be refused as another run's. Nor does a server that was never reached (a wrong --base-url) leave
    anything to resume. A run that waits for the server (exit 1, 130, 143) keeps its files.
    """
    return not contacted or (isinstance(failed, RunAborted | ServerUnreachable) and not holds_answers())


async def _write(config: ReconcileConfig, journal: Journal, spec: InputSpec, run: RunIdentity, state: State | None,
                 progress: Progress, stop: StopRequest) -> OutputTally:
    """Write the table (and the unmatched records); the state keeps this run's report once they are whole."""
    write = functools.partial(write_output, config, journal, spec, run, progress, stop.check,
                              entry_names=_entry_names(journal, state), previous=_previous(config, journal, state, run))
    report = StagedReport(state.path, journal.path, run.run_id) if state is not None else None
    with report or contextlib.nullcontext():
        try:
            async with anyio.create_task_group() as group:
                if report is not None:  # beside the writing, on a thread and a connection of its own
                    group.start_soon(functools.partial(anyio.to_thread.run_sync, report.stage))
                tally = await anyio.to_thread.run_sync(write)
                if config.unmatched_path is not None:
                    await anyio.to_thread.run_sync(write_unmatched, config.unmatched_path, journal)
        except BaseExceptionGroup as failed:
            raise root_cause(failed) from None
        if report is not None:
            report.commit()
    return tally


async def _load_inputs(config: ReconcileConfig, journal: Journal, spec: InputSpec, progress: Progress,
                       check_stop: Callable[[], None]) -> None:
    """The keys into the journal, and the previous table's values (``--previous``)."""
    by_bytes = spec.total_rows is None  # CSV: the rows are known only once read
    progress.start_phase("reading keys", total=spec.total_bytes if by_bytes else spec.total_rows,
                         unit="bytes" if by_bytes else "rows")
    try:
        await anyio.to_thread.run_sync(load_keys, journal, spec, BadRows(skip=config.skip_bad_rows), progress,
                                       check_stop)
    except InputError:
        journal.discard()  # no key was asked yet; a fixed input must not meet a stale journal
        raise
    if config.previous_path is not None:
        await anyio.to_thread.run_sync(_load_previous, journal, config.previous_path, spec)


class _LoadAbandoned(BaseException):
    """Ends a key load that a failed sync left pointless (never the error a run reports)."""


async def _gather_while_loading(config: ReconcileConfig, journal: Journal, spec: InputSpec, state: State | None,
                                source_factory: SourceFactory, progress: Progress, stop: StopRequest) -> Gathered:
    """Incremental: the list syncs while the keys load, as the sync needs none of them."""
    loading, loaded, given_up = Progress(), anyio.Event(), threading.Event()

    def check_stop() -> None:
        stop.check()
        if given_up.is_set():
            raise _LoadAbandoned

    async def load() -> None:
        await _load_inputs(config, journal, spec, loading, check_stop)
        loaded.set()

    async def keys_loaded() -> None:
        if not loaded.is_set():  # the sync is done: show what is left of the load
            progress.start_phase(loading.phase, total=loading.total, unit=loading.unit)
            progress.counter = lambda: loading.done
            await loaded.wait()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(load)
            try:
                gathered = await _gather(config, journal, spec, state, source_factory, progress, stop,
                                         keys_loaded=keys_loaded)
            except BaseException:
                given_up.set()  # the load stops at its next batch rather than read on for nothing
                raise
    except BaseExceptionGroup as failed:
        raise root_cause(failed) from None
    return gathered


def _load_previous(journal: Journal, path: Path, spec: InputSpec) -> None:
    for rows in previous_rows(open_previous(path, spec.key_columns, max_row_bytes=spec.max_row_bytes)):
        journal.add_previous(rows)


def _requeue_errors(config: ReconcileConfig, journal: Journal, resumed: bool) -> None:
    if resumed:
        logger.info("asking again for the %s keys that ended in error", f"{journal.requeue_errors():,}")
    else:
        logger.info("--retry-errors: no journal of an earlier run at %s; asking for every key", config.journal)


def _entry_names(journal: Journal, state: State | None) -> list[str]:
    """Entry columns: every field the list has shown (the state remembers them across nights)."""
    names = journal.field_names("entry")
    if state is None:
        return names
    seen = {name.casefold() for name in names}
    return names + [name for name in state.field_names() if name.casefold() not in seen]


def _previous(config: ReconcileConfig, journal: Journal, state: State | None,
              run: RunIdentity) -> PreviousLookup | None:
    if config.changes_path is None:
        return None
    if config.previous_path is not None:
        return journal.previous
    return functools.partial(state.reported, run_id=run.run_id) if state is not None else None


def run(config: ReconcileConfig, *, source_factory: SourceFactory = default_source,
        handle_signals: bool = False) -> RunStats:
    """``reconcile`` for code without an event loop."""
    async def main() -> RunStats:
        return await reconcile(config, source_factory=source_factory, handle_signals=handle_signals)

    return anyio.run(main)


async def _gather(config: ReconcileConfig, journal: Journal, spec: InputSpec, state: State | None,
                  source_factory: SourceFactory, progress: Progress, stop: StopRequest, *,
                  keys_loaded: Callable[[], Awaitable[None]] | None = None) -> Gathered:
    stop.check()
    if keys_loaded is None and not needs_server(journal):
        return Gathered()
    async with source_factory(config) as source:
        _show_source(progress, source)
        gathered = await gather_results(config, journal, spec.key_columns, source, progress, stop.on_request,
                                        state=state, keys_loaded=keys_loaded)
    stop.check()
    return gathered


def _show_source(progress: Progress, source: RecordSource) -> None:
    stats, throttle = getattr(source, "stats", None), getattr(source, "throttle", None)
    progress.retries = lambda: int(getattr(stats, "retries", 0))

    def throttled() -> float | None:
        rate = getattr(throttle, "effective_rate", None)
        return rate if rate is not None and rate < getattr(throttle, "configured_rate", rate) else None

    progress.effective_rate = throttled


def _sync_figures(gathered: Gathered) -> SyncFigures | None:
    sync = gathered.sync
    if sync is None:
        return None
    return SyncFigures(full_read=sync.full_read, reason=sync.reason, pages=sync.pages, changed=sync.changed,
                       records_read_twice=sync.records_read_twice, pages_out_of_order=sync.pages_out_of_order)


def _scan_figures(journal: Journal) -> ScanFigures | None:
    if journal.note("strategy") != "scan":
        return None
    read, (asked, found) = journal.listed.read_figures(), journal.listed.asked_after_scan()
    return ScanFigures(records_read_twice=read.records_read_twice, pages_out_of_order=read.pages_out_of_order,
                       keys_asked=asked, keys_found_by_asking=found)


def _run_stats(config: ReconcileConfig, journal: Journal, tally: OutputTally, gathered: Gathered,
               seconds: float, resumed: bool, run: RunIdentity) -> RunStats:
    loaded = journal.load_summary()
    return RunStats(
        run_id=run.run_id, run_date=run.run_date, changes_path=config.changes_path, changed_rows=tally.changed_rows,
        earlier_change_rows=tally.carried_change_rows,
        sync=_sync_figures(gathered), asked_one_by_one=gathered.sync.asked if gathered.sync else 0,
        scan=_scan_figures(journal),
        output_path=config.output_path, rows=tally.rows, distinct_keys=journal.distinct_keys(),
        by_status=dict(tally.by_status), top_dispositions=tally.dispositions.most_common(10),
        requests_sent=gathered.requests_sent, retries=gathered.retries, duration_seconds=seconds, resumed=resumed,
        retries_by_status=gathered.retries_by_status, throttle=gathered.throttle,
        strategy=journal.note("strategy") or "query", list_size=gathered.list_size,
        page_size=config.policy.page_size,
        unmatched_records=journal.listed.unmatched_count() if config.unmatched_path else None,
        bad_rows_skipped=int(loaded.get("bad_rows", 0)), bad_row_lines=tuple(loaded.get("bad_row_lines", ())),
        warnings=journal.warnings_count(), completed_rows=tally.completed, first_errors=tuple(tally.first_errors),
        # Rows in error: the journal stays, so that --retry-errors can ask for them alone.
        journal_kept=config.journal if tally.by_status.get(LookupStatus.ERROR.value) else None,
    )
