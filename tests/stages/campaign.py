"""An in-memory campaign that moves on between runs and answers getAll, getChanged and getCompleted alike."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from fakes import WHEN, FakeSource

from reconciler.lookup import ChangedRecord, ListedRecord, RecordStatus


class MovingCampaign(FakeSource):
    """Records ``{"account_id": "000000".., "name"}``; ``call`` and ``complete`` stamp server times."""

    def __init__(self, size: int) -> None:
        records = {(f"{i:06d}",): ({"account_id": f"{i:06d}", "name": f"n{i}"},
                                   RecordStatus(completed=False, total_attempts=0)) for i in range(size)}
        super().__init__(records=records, key_columns=("account_id",))
        self.changed_at: dict[tuple[str, ...], datetime] = {}
        self.now = WHEN
        self.pages: Counter[str] = Counter()

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
        for when, _, key in hits[:max_size]:
            entry, record = self.records[key]
            # As the client reads getChanged: a completed record's whole status is not in the item, and
            # the interaction id and custom fields never are.
            told = record if completed_only else None if record.completed else \
                replace(record, global_interaction_id=None, extra={})
            items.append(ChangedRecord(entry=entry, record=told, changed_at=when))
        return items
