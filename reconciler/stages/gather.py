"""Get a result for every pending key: by querying each one, or by scanning the whole list.

The strategy is chosen once per run and noted in the journal, so that a resumed run goes on the
way it started. ``auto`` compares request counts: one per distinct key for ``query``; for
``scan``, one per page of the list (1,000 records unless --page-size), whose size a short binary search finds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from reconciler.config import ReconcileConfig
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.lookup import RecordSource
from reconciler.reporting.progress import Progress
from reconciler.reporting.stats import ThrottleFigures
from reconciler.stages.incremental import SyncOutcome, SyncPolicy, gather_incrementally
from reconciler.stages.query import ask_keys
from reconciler.stages.scan import ListScanner
from reconciler.stages.strategy import choose_strategy, list_size, scan_requests, settled_strategy

logger = logging.getLogger("reconciler.scan")


@dataclass(frozen=True)
class Gathered:
    """How the results were gathered in this process."""

    strategy: str | None = None  # None: nothing was left to ask
    list_size: int | None = None
    requests_sent: int = 0
    retries: int = 0
    sync: SyncOutcome | None = None  # incremental: how the state was brought up to date
    retries_by_status: dict[str, int] = field(default_factory=dict)
    throttle: ThrottleFigures = field(default_factory=ThrottleFigures)


def needs_server(journal: Journal) -> bool:
    if journal.pending_count() > 0:
        return True
    return journal.note("strategy") == "scan" and journal.listed.scan_position() is not None


async def gather_results(config: ReconcileConfig, journal: Journal, key_columns: Sequence[str],
                         source: RecordSource, progress: Progress,
                         on_stop: Callable[[Callable[[], None]], None], *, state: State | None = None,
                         keys_loaded: Callable[[], Awaitable[None]] | None = None) -> Gathered:
    """Ask ``source`` until every key has a result (or a stop was requested).

    ``keys_loaded``: the keys are still loading (incremental only, whose sync needs none of them);
    it waits until they are all in the journal.
    """
    strategy, size = await _choose(config, journal, source)
    journal.set_note("strategy", strategy)
    sync = None
    if strategy == "incremental":
        if state is None:
            raise ValueError("the incremental strategy needs a state")  # ReconcileConfig refuses it earlier
        policy = SyncPolicy(full_refresh_after=timedelta(seconds=config.full_refresh_after),
                            overlap=timedelta(seconds=config.overlap), page_size=config.policy.page_size)
        sync = await gather_incrementally(journal, state, source, key_columns, policy, config, progress, on_stop,
                                          keys_loaded=keys_loaded)
    elif strategy == "scan":
        page_size = config.policy.page_size
        scanner = ListScanner(journal, source, key_columns, page_size=page_size)
        on_stop(scanner.stop)
        progress.start_phase("scanning", total=scan_requests(size, page_size=page_size) if size is not None else None,
                             unit="pages")
        progress.counter = lambda: scanner.pages
        await scanner.run()
        if scanner.confirming:  # pages came out of order: a key not found may be one a page skipped
            logger.info("pages of the list came out of index order: the %s keys the scan did not find are asked "
                        "one by one", f"{journal.pending_count():,}")
            await ask_keys(journal, source, key_columns, config, progress, on_stop, journal.pending_count())
    else:
        await ask_keys(journal, source, key_columns, config, progress, on_stop, journal.pending_count())
    stats = getattr(source, "stats", None)
    return Gathered(strategy=strategy, list_size=size, requests_sent=int(getattr(stats, "requests_sent", 0)),
                    retries=int(getattr(stats, "retries", 0)), sync=sync,
                    retries_by_status=dict(sorted(getattr(stats, "retries_by_status", {}).items())),
                    throttle=_throttle_figures(getattr(stats, "throttling", None)))


def _throttle_figures(throttling: object) -> ThrottleFigures:
    """The figures of a source that paces itself (the HTTP client); a plain fake has none."""
    if throttling is None:
        return ThrottleFigures()
    lowest = getattr(throttling, "lowest_rate", None)
    return ThrottleFigures(overload_answers=int(getattr(throttling, "overload_answers", 0)),
                           rate_cuts=int(getattr(throttling, "rate_cuts", 0)),
                           lowest_rate=None if lowest is None else float(lowest),
                           retry_after_pauses=int(getattr(throttling, "retry_after_pauses", 0)),
                           retry_after_seconds=float(getattr(throttling, "retry_after_seconds", 0.0)))


async def _choose(config: ReconcileConfig, journal: Journal, source: RecordSource) -> tuple[str, int | None]:
    noted = journal.note("strategy")
    if noted is not None:
        return noted, None
    pending = journal.pending_count()
    settled = settled_strategy(config.strategy, pending, unmatched=config.unmatched_path is not None)
    if settled is not None:
        return settled, None
    size = await list_size(source)
    return choose_strategy(pending, size, page_size=config.policy.page_size), size
