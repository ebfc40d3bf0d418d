"""The incremental strategy: bring the nightly state up to date, then answer the keys from it.

A first run, or one whose last full read is older than ``full_refresh_after``, reads the whole list
with getAll pages into the state. Any other run asks ``getChanged`` and ``getCompleted`` from the
state's high-water mark (the server's own latest time, never this machine's clock), less an overlap
window (and less however long the last full read took, as a change during it may lie that far
behind the mark). Pages go on from the latest time of the page before: the records at that time
come again, and storing by key makes that harmless. A full page whose items all share one time
cannot be paged past: the run then reads the list whole rather than skip a record.

v3 reads the list by getAllRecords' cursor and its changes with getUpdatedRecords and
getCompletedRecords: the window's ``startTime`` stays, the server's cursor pages on (so a tie at a
page boundary needs nothing), and the state keeps the cursor to go on from after a crash. No
``endTime`` is sent: the window stays open up to the server's own now. A v3 state is bound to the
list instance it read; a list bound to the campaign anew is another instance, and is refused.

The full read pages and stores as a scan does (``scan.list_pages``, ``journal.page_reads``): a
page may come in any order, with holes. After a full read whose pages came in index order, a key
the state lacks is not on the list; when a page came out of order, it is asked as on any other night.

Keys the state holds take their status from it; the rest (keys the list gained since, and records
whose change did not say their whole status) are asked with Query a record, and the answers join
the state. Deleted records are only seen by a full read (or by asking): getChanged does not tell.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio

from reconciler.config import ReconcileConfig
from reconciler.input.keys import entry_key_text
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.lookup import ChangedRecord, ChangesPage, CursorRecordSource, RecordSource
from reconciler.reporting.progress import Progress
from reconciler.stages.key_check import require_key_fields
from reconciler.stages.query import ask_keys
from reconciler.stages.scan import PAGE_SIZE, keyed_page, list_pages
from reconciler.stages.strategy import scan_requests

logger = logging.getLogger("reconciler.incremental")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class SyncPolicy:
    """When a full read is due, and how far back the changes are asked."""

    full_refresh_after: timedelta = timedelta(days=7)
    overlap: timedelta = timedelta(minutes=10)
    page_size: int = PAGE_SIZE  # records a list or changes page asks for (--page-size)


@dataclass
class SyncOutcome:
    """What bringing the state up to date took."""

    full_read: bool = False
    reason: str = ""
    pages: int = 0
    changed: int = 0
    unkeyed: int = 0
    asked: int = 0  # keys asked one by one after the sync
    # The full read's pages, those of an interrupted run included (``journal.page_reads``).
    records_read_twice: int = 0
    pages_out_of_order: int = 0


class CannotPagePast(Exception):
    """A full page of changes that paging by time cannot go past without perhaps skipping a record.

    Either all its items share one time, or their times go backwards: the order of a getChanged or
    getCompleted answer is not documented for 3.x and v2, and only a page sorted by time can be paged
    on from its latest time.
    """


class ListSync:
    """Brings one state up to date with the server (see the module's docstring)."""

    def __init__(self, state: State, source: RecordSource, key_columns: Sequence[str], policy: SyncPolicy, *,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._state, self._source, self._keys = state, source, tuple(key_columns)
        self._policy, self._now, self._clock = policy, now, clock
        self._indexed = not isinstance(source, CursorRecordSource)
        self.outcome = SyncOutcome()
        self.stopped = False

    def stop(self) -> None:
        """Fetch no further page; what is stored stays, and a rerun goes on from there."""
        self.stopped = True

    async def run(self) -> SyncOutcome:
        if isinstance(self._source, CursorRecordSource):
            self._state.bind_list_instance(self._source.list_instance())
        reason = full_read_due(self._state, self._policy, self._now())
        if reason is None:
            try:
                await self._sync_changes()
                reason = None if self.stopped else await self._size_differs()
                if reason is None:
                    return self.outcome
            except CannotPagePast as cannot:
                reason = str(cannot)
        await self.read_whole(reason)
        return self.outcome

    async def read_whole(self, reason: str) -> None:
        """Read the whole list into the state (after the changes too, when they could not tell enough)."""
        self.outcome.full_read, self.outcome.reason = True, reason
        logger.info("reading the whole list: %s", reason)
        await self._read_whole_list()

    def full_read_pages(self) -> int:
        """What a full read would cost in requests, judged by the records the state holds."""
        held = self._state.record_count() + self._state.unkeyed_at_full_read()
        return scan_requests(held, page_size=self._policy.page_size)

    async def _size_differs(self) -> str | None:
        """v3: why the list must be read whole when its size is not what the state expects after the changes.

        getUpdatedRecords does not tell deletions, nor records added and never called; Get Campaign's
        ``totalRecords`` tells that the count moved (though not a deletion offset by an addition).
        """
        if not isinstance(self._source, CursorRecordSource):
            return None
        reported = await self._source.record_count()
        expected = self._state.record_count() + self._state.unkeyed_at_full_read()
        if reported is None or reported == expected:
            return None
        return (f"Get Campaign reports {reported:,} records where the state expects {expected:,} after the changes "
                "(records were deleted, or added and not yet called)")

    async def _read_whole_list(self) -> None:
        started = self._clock()
        self._state.start_full_read()
        if self.stopped:
            return
        pages_read = list_pages(self._source, self._state.full_read_position(), page_size=self._policy.page_size)
        async with aclosing(require_key_fields(pages_read, self._keys, self._source)) as pages:
            async for page, position in pages:
                self.outcome.pages += 1
                keyed = keyed_page(page, self._keys)
                self.outcome.unkeyed += self._state.record_full_page(keyed, position, self._now(),
                                                                     indexed=self._indexed).unkeyed
                if self.stopped:
                    return
        read = self._state.full_read_figures()  # before the finish forgets them
        self.outcome.records_read_twice = read.records_read_twice
        self.outcome.pages_out_of_order = read.pages_out_of_order
        self._state.finish_full_read(self._now(), self._clock() - started, unkeyed=self.outcome.unkeyed)

    async def _sync_changes(self) -> None:
        mark = self._state.high_water() or EPOCH  # no record had a time yet: every change there is
        window = max(self._policy.overlap, timedelta(seconds=self._state.catch_up_seconds()))
        since = max(mark - window, EPOCH)
        self._state.start_changes(since)
        resumed_at = self._state.changes_position() or since
        if isinstance(self._source, CursorRecordSource):
            await self._page_by_cursor(self._source.fetch_updated_records, resumed_at,
                                       self._state.changes_cursor(), resumable=True)
            await self._page_by_cursor(self._source.fetch_completed_records, since, None, resumable=False)
        else:
            await self._page_through(self._source.fetch_changes, resumed_at, resumable=True)
            # getCompleted tells the whole status of a completed record, completedTime included.
            await self._page_through(self._source.fetch_completed, since, resumable=False)
        if not self.stopped:
            self._state.finish_changes()

    async def _page_through(self, fetch: Callable[[datetime, int], object], since: datetime, *,
                            resumable: bool) -> None:
        while not self.stopped:
            page: list[ChangedRecord] = await fetch(since, self._policy.page_size)  # type: ignore[misc]
            following = _next_since(page, since, self._policy.page_size)
            self._store_changes(page, following, resumable=resumable)
            if following is None:
                return
            since = following

    async def _page_by_cursor(self, fetch: Callable[[datetime, str | None, int], Awaitable[ChangesPage]],
                              since: datetime, cursor: str | None, *, resumable: bool) -> None:
        """v3: the window's start stays; the server's cursor says where each next page begins."""
        while not self.stopped:
            page = await fetch(since, cursor, self._policy.page_size)
            cursor = page.next_cursor
            self._store_changes(page.records, None if cursor is None else since, resumable=resumable,
                                next_cursor=cursor)
            if cursor is None:
                return

    def _store_changes(self, page: list[ChangedRecord], following: datetime | None, *, resumable: bool,
                       next_cursor: str | None = None) -> None:
        self.outcome.pages += 1
        keyed = [(entry_key_text(item.entry, self._keys), item) for item in page]
        self.outcome.unkeyed += self._state.record_changes(keyed, following, self._now(), resumable=resumable,
                                                           next_cursor=next_cursor)
        self.outcome.changed += len(page)


def full_read_due(state: State, policy: SyncPolicy, now: datetime) -> str | None:
    """Why the list must be read whole this run, or None when its changes will do."""
    if state.full_read_under_way():
        return "an interrupted full read goes on"
    read_at = state.full_read_at()
    if read_at is None:
        return "the state holds no full read yet"
    if now - read_at > policy.full_refresh_after:
        return f"the last full read ({read_at:%Y-%m-%d %H:%M} UTC) is older than --full-refresh-after"
    return None


def _next_since(page: list[ChangedRecord], since: datetime, page_size: int) -> datetime | None:
    """Where the page after ``page`` (of ``page_size`` items at most) starts; None when ``page`` was the last."""
    if len(page) < page_size:
        return None
    times = [item.changed_at for item in page if item.changed_at is not None]
    if any(later < earlier for earlier, later in itertools.pairwise(times)):
        raise CannotPagePast(f"a full page of {len(page):,} changes came out of time order (their order is not "
                             "documented), so paging on by time could skip records")
    latest = max(times, default=None)
    if latest is None or latest <= since:
        raise CannotPagePast(f"a full page of {len(page):,} changes all at {since:%Y-%m-%d %H:%M:%S.%f} UTC "
                             "cannot be paged past by time")
    return latest


async def gather_incrementally(journal: Journal, state: State, source: RecordSource, key_columns: Sequence[str],
                               policy: SyncPolicy, config: ReconcileConfig, progress: Progress,
                               on_stop: Callable[[Callable[[], None]], None], *,
                               keys_loaded: Callable[[], Awaitable[None]] | None = None) -> SyncOutcome:
    """Sync the state, answer the pending keys from it, and ask the server about the rest.

    ``keys_loaded``: waits until the journal holds every key, when they load while the list syncs.
    """
    sync = ListSync(state, source, key_columns, policy)
    on_stop(sync.stop)
    progress.start_phase("syncing the list", total=None, unit="pages")
    progress.counter = lambda: sync.outcome.pages
    outcome = await sync.run()
    if sync.stopped:
        return outcome
    if keys_loaded is not None:
        await keys_loaded()
    ask = functools.partial(ask_keys, journal, source, key_columns, config, progress, on_stop)
    answered_by_state = False
    if not outcome.full_read:
        with journal.state_attached(state.path):
            outcome.asked = await anyio.to_thread.run_sync(journal.note_unanswered_by_state)
            if outcome.asked >= (pages := sync.full_read_pages()):
                await sync.read_whole(f"asking the {outcome.asked:,} keys that the state cannot answer would cost "
                                      f"more requests than reading the list whole ({pages:,} pages)")
                if sync.stopped:
                    return outcome
            else:
                await ask(outcome.asked, pending=journal.pending_unanswered_by_state)
                # A stop (or a failure) leaves some unanswered: they are asked by the rerun, as all the rest.
                answered_by_state = journal.unanswered_left() == 0
    if outcome.full_read:  # a key that the list read whole lacks is not on it, if its pages came in order
        if outcome.pages_out_of_order:
            logger.info("%s pages of the full read came out of index order: the keys it did not find are asked "
                        "one by one", f"{outcome.pages_out_of_order:,}")
        journal.resolve_from_state(state.path, absent_is_not_found=not outcome.pages_out_of_order)
        outcome.asked = journal.pending_count()
        await ask(outcome.asked)
    state.absorb_answers(journal.path)
    if answered_by_state:  # every other key has its result: the rest are the state's, read where they are
        journal.answer_from_state(state.path, state.revision())
    return outcome

