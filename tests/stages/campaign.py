"""An in-memory campaign that moves on between runs and answers getAll, getChanged and getCompleted alike.

``CursorCampaign`` answers as v3 does: the list and its changes by cursor, each change with its whole status.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from fakes import WHEN, FakeSource

from reconciler.errors import RunAborted
from reconciler.lookup import ChangedRecord, ChangesPage, CursorPage, ListedRecord, RecordStatus


class MovingCampaign(FakeSource):
    """Records ``{"account_id": "000000".., "name"}``; ``call`` and ``complete`` stamp server times."""

    def __init__(self, size: int) -> None:
        records = {(f"{i:06d}",): ({"account_id": f"{i:06d}", "name": f"n{i}"},
                                   RecordStatus(completed=False, total_attempts=0)) for i in range(size)}
        super().__init__(records=records, key_columns=("account_id",))
        self.changed_at: dict[tuple[str, ...], datetime] = {}
        self.now = WHEN
        self.pages: Counter[str] = Counter()
        self.in_index_order = False  # answer getChanged and getCompleted in list order, not time order

    def tick(self, seconds: float = 60.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def call(self, key: str, disposition: str = "No Answer", *, at: datetime | None = None,
             agent: str | None = None) -> None:
        entry, old = self.records[(key,)]
        when = at or self.tick()
        self.records[(key,)] = (entry, replace(old, last_disposition=disposition, last_date=when,
                                              last_phone="+1650", last_call_duration=12 if agent else 0,
                                              last_agent=agent, total_attempts=(old.total_attempts or 0) + 1))
        self.changed_at[(key,)] = when

    def complete(self, key: str, disposition: str = "Sale") -> None:
        self.call(key, disposition, agent="alice")
        entry, old = self.records[(key,)]
        self.records[(key,)] = (entry, replace(old, completed=True, completed_time=self.now))

    def add(self, key: str) -> None:
        self.records[(key,)] = ({"account_id": key, "name": f"new {key}"}, RecordStatus(completed=False,
                                                                                          total_attempts=0))

    def delete(self, key: str) -> None:
        del self.records[(key,)]

    async def fetch_page(self, from_index: int, max_size: int) -> list[ListedRecord]:
        self.pages["getAll"] += 1
        return await super().fetch_page(from_index, max_size)

    async def fetch_changes(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        self.pages["getChanged"] += 1
        return self._since(since, max_size, completed_only=False)

    async def fetch_completed(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        self.pages["getCompleted"] += 1
        return self._since(since, max_size, completed_only=True)

    def _since(self, since: datetime, max_size: int, *, completed_only: bool) -> list[ChangedRecord]:
        order = {key: position for position, key in enumerate(self.records)}
        hits = sorted((when, order[key], key) for key, when in self.changed_at.items()
                      if when >= since and key in self.records
                      and (not completed_only or self.records[key][1].completed))
        items = []
        page = sorted(hits, key=lambda hit: hit[1]) if self.in_index_order else hits
        for when, _, key in page[:max_size]:
            entry, record = self.records[key]
            # As the client reads getChanged: a completed record's whole status is not in the item, and
            # the interaction id and custom fields never are.
            told = record if completed_only else None if record.completed else \
                replace(record, global_interaction_id=None, extra={})
            items.append(ChangedRecord(entry=entry, record=told, changed_at=when))
        return items


class CursorCampaign(MovingCampaign):
    """The same campaign read as v3 reads it; ``cursors`` records each request's (endpoint, cursor)."""

    def __init__(self, size: int, instance: str = "instance-1") -> None:
        super().__init__(size)
        self.instance = instance
        self.cursors: list[tuple[str, str | None]] = []
        self.fail_at: tuple[str, int] | None = None  # (endpoint, n): its n-th request (from 1) raises

    def list_instance(self) -> str:
        return self.instance

    async def record_count(self) -> int | None:
        return len(self.records)

    async def fetch_records(self, cursor: str | None, limit: int, first_index: int) -> CursorPage:
        self._asked("getAllRecords", cursor)
        start = 0 if cursor is None else int(cursor.removeprefix("after-"))
        items = list(self.records.values())[start:start + limit]
        records = [ListedRecord(index=first_index + i, entry=e, record=s) for i, (e, s) in enumerate(items)]
        return CursorPage(records=records, next_cursor=f"after-{start + len(items)}" if len(items) == limit else None)

    async def fetch_updated_records(self, since: datetime, cursor: str | None, limit: int) -> ChangesPage:
        self._asked("getUpdatedRecords", cursor)
        return self._by_cursor(since, cursor, limit, completed_only=False)

    async def fetch_completed_records(self, since: datetime, cursor: str | None, limit: int) -> ChangesPage:
        self._asked("getCompletedRecords", cursor)
        return self._by_cursor(since, cursor, limit, completed_only=True)

    async def fetch_page(self, from_index: int, max_size: int) -> list[ListedRecord]:
        raise AssertionError("a v3 list is never read by index")

    async def fetch_changes(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        raise AssertionError("v3 changes are never read by time alone")

    fetch_completed = fetch_changes

    def _asked(self, endpoint: str, cursor: str | None) -> None:
        self.pages[endpoint] += 1
        self.cursors.append((endpoint, cursor))
        if self.fail_at == (endpoint, self.pages[endpoint]):
            raise RunAborted(f"{endpoint} request {self.pages[endpoint]} failed (simulated crash)")

    def _by_cursor(self, since: datetime, cursor: str | None, limit: int, *, completed_only: bool) -> ChangesPage:
        # A keyset cursor (time, list position) of the last record sent, as a server paging by time would keep.
        order = {key: position for position, key in enumerate(self.records)}
        hits = sorted((when, order[key], key) for key, when in self.changed_at.items()
                      if when >= since and key in self.records
                      and (not completed_only or self.records[key][1].completed))
        if cursor is not None:
            at, position = cursor.split("|")
            hits = [hit for hit in hits if (hit[0], hit[1]) > (datetime.fromisoformat(at), int(position))]
        page = hits[:limit]
        records = [ChangedRecord(entry=self.records[key][0], record=self.records[key][1], changed_at=when)
                   for when, _, key in page]
        more = len(hits) > limit
        return ChangesPage(records=records, next_cursor=f"{page[-1][0].isoformat()}|{page[-1][1]}" if more else None)
